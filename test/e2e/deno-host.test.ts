// The Deno host's own promises, beyond the suites it shares with workerd (black-box.test.ts,
// user-socket.test.ts): restart survival across SIGTERM (sockets closed with 1001) and SIGKILL,
// one process per DATA_DIR, JWT expiry closing both sockets with 4001, and the socket limits.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { denoArgs, denoBinary } from "../../scripts/deno-command.mjs";
import { gatewayName } from "../../src/gateway/shard";
import { Api } from "./api-client";
import { ROOT, type RunningServer, startDeno } from "./harness";
import { openRoomSocket, openUserSocket, type RoomSocket } from "./ws-client";

const servers: RunningServer[] = [];
afterAll(async () => {
	for (const s of servers) {
		await s.stop("SIGKILL");
		rmSync(s.stateDir, { recursive: true, force: true });
	}
});
const start = async (options: Parameters<typeof startDeno>[0] = {}) => {
	const server = await startDeno(options);
	servers.push(server);
	return server;
};
const closed = (socket: RoomSocket) =>
	new Promise<{ code: number; reason: string }>((resolve) =>
		socket.ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
	);

describe("Deno host", () => {
	it("keeps everything acknowledged across SIGTERM (sockets closed with 1001, clean exit) and SIGKILL, seq without a gap", async () => {
		let server = await start();
		let api = new Api(server.base);
		const t = await api.tenant(server.adminToken);
		const [alice, bob] = t.users as [{ id: string; token: string }, { id: string; token: string }];
		const room = (await api.call("POST", "/room", { Authorization: `Bearer ${alice.token}` }, { name: "lobby", members: [bob.id] })).json;
		const rest = (
			await api.call("POST", `/room/${room.id}/message/send`, { Authorization: `Bearer ${alice.token}` }, { text_message: "one" })
		).json;
		const socket = await openRoomSocket(server.base, room.id, bob.token);
		const user = await openUserSocket(server.base, alice.token);
		await socket.request("join_room", { room_id: room.id }, "j");
		const two = (await socket.request("send_message", { room_id: room.id, text_message: "two", client_msg_id: "b-2" }, "s2")).data;
		expect([rest.seq, two.seq]).toEqual([1, 2]);

		// 1. SIGTERM: both sockets see 1001, the process exits by itself (no SIGKILL from the harness).
		const roomClosed = closed(socket);
		const userClosed = closed(user);
		const stopping = Date.now();
		await server.stop("SIGTERM");
		expect(Date.now() - stopping).toBeLessThan(4_000);
		expect(await roomClosed).toEqual({ code: 1001, reason: "server shutting down" });
		expect(await userClosed).toEqual({ code: 1001, reason: "server shutting down" });
		expect(server.logs()).not.toMatch(/error/i);
		// A clean close checkpoints the WAL into the database file and removes it.
		expect(existsSync(join(server.stateDir, "rooms", `${room.id}.sqlite-wal`))).toBe(false);

		server = await start({ stateDir: server.stateDir, adminToken: server.adminToken, jwtSecret: server.jwtSecret });
		api = new Api(server.base);
		const history = (await api.call("GET", `/room/${room.id}/messages`, { clientKey: t.key })).json;
		expect(history.messages).toEqual([rest, two]);
		const again = await openRoomSocket(server.base, room.id, bob.token);
		// The idempotency key still holds after the restart.
		expect(await again.request("send_message", { room_id: room.id, text_message: "two", client_msg_id: "b-2" }, "retry")).toEqual({
			event: "ack",
			id: "retry",
			data: two,
		});
		const three = (await again.request("send_message", { room_id: room.id, text_message: "three" }, "s3")).data;
		expect(three.seq).toBe(3);

		// 2. SIGKILL right after the ack: it was on disk before the ack left.
		await server.stop("SIGKILL");
		server = await start({ stateDir: server.stateDir, adminToken: server.adminToken, jwtSecret: server.jwtSecret });
		api = new Api(server.base);
		expect((await api.call("GET", `/room/${room.id}/messages`, { clientKey: t.key })).json.messages).toEqual([rest, two, three]);
		const four = await api.call(
			"POST",
			`/room/${room.id}/message/send`,
			{ Authorization: `Bearer ${alice.token}` },
			{ text_message: "four" },
		);
		expect(four.json.seq).toBe(4);

		// On disk: the directory with its migration recorded once, one file per room and per gateway written to.
		await server.stop("SIGTERM");
		expect(readdirSync(join(server.stateDir, "rooms"))).toEqual([`${room.id}.sqlite`]);
		const gateways = new Set([alice.id, bob.id].map((id) => `${gatewayName(t.clientId, id, 16)}.sqlite`));
		expect(readdirSync(join(server.stateDir, "gateways")).sort()).toEqual([...gateways].sort());
		const db = new DatabaseSync(join(server.stateDir, "directory.sqlite"), { readOnly: true });
		try {
			expect(
				db
					.prepare("SELECT name FROM d1_migrations")
					.all()
					.map((r) => r.name),
			).toEqual(["0000_init.sql", "0001_webhooks.sql", "0002_message_flags.sql", "0003_moderation.sql"]);
			expect(db.prepare("SELECT count(*) AS n FROM users").get()).toEqual({ n: 2 });
		} finally {
			db.close();
		}
	});

	it("lets no ack out before its commit: with commits held 400 ms, acks wait, and a SIGKILL before the commit loses only what was never acknowledged", async () => {
		let server = await start({ vars: { DENO_COMMIT_DELAY_MS: "400" } });
		let api = new Api(server.base);
		const t = await api.tenant(server.adminToken);
		const alice = t.users[0]!;
		const room = (await api.call("POST", "/room", { Authorization: `Bearer ${alice.token}` }, {})).json;
		const socket = await openRoomSocket(server.base, room.id, alice.token);
		await socket.request("join_room", { room_id: room.id }, "j");

		// REST and socket acks both leave only after the commit (each send opens a group of its own:
		// the previous one is long committed).
		const quiet = () => new Promise((r) => setTimeout(r, 600));
		await quiet();
		let started = Date.now();
		const one = await api.call(
			"POST",
			`/room/${room.id}/message/send`,
			{ Authorization: `Bearer ${alice.token}` },
			{ text_message: "one" },
		);
		expect(one.status).toBe(201);
		expect(Date.now() - started).toBeGreaterThanOrEqual(390);
		await quiet();
		started = Date.now();
		const two = await socket.request("send_message", { room_id: room.id, text_message: "two" }, "s2");
		expect(two.data.seq).toBe(2);
		expect(Date.now() - started).toBeGreaterThanOrEqual(390);

		// Sent, not yet committed: no ack has come when the process dies.
		await quiet();
		let acked = false;
		void socket.request("send_message", { room_id: room.id, text_message: "three" }, "s3").then(
			() => (acked = true),
			() => {},
		);
		await new Promise((r) => setTimeout(r, 150));
		expect(acked).toBe(false);
		await server.stop("SIGKILL");
		server = await start({ stateDir: server.stateDir, adminToken: server.adminToken, jwtSecret: server.jwtSecret });
		api = new Api(server.base);
		const history = (await api.call("GET", `/room/${room.id}/messages`, { clientKey: t.key })).json.messages;
		expect(history).toEqual([one.json, two.data]);
		expect(acked).toBe(false);
	});

	it("refuses a second process on the same DATA_DIR, and the first keeps serving", async () => {
		const server = await start();
		const second = spawn(denoBinary(), denoArgs({ dataDir: server.stateDir }), {
			cwd: ROOT,
			stdio: ["ignore", "pipe", "pipe"],
			env: { PATH: process.env.PATH ?? "", ADMIN_TOKEN: "a", JWT_SECRET: "b", PORT: "0", DATA_DIR: server.stateDir },
		});
		let output = "";
		second.stderr?.on("data", (d) => (output += d));
		const code = await new Promise<number | null>((resolve) => second.once("exit", (c) => resolve(c)));
		expect(code).toBe(1);
		expect(output).toContain(`DATA_DIR ${server.stateDir} is in use by another process`);
		expect((await fetch(`${server.base}/health`)).status).toBe(200);
	});

	it("closes room and user sockets with 4001 when their JWT expires", async () => {
		const server = await start({ vars: { JWT_TTL_SECONDS: "2" } });
		const api = new Api(server.base);
		const t = await api.tenant(server.adminToken);
		const alice = t.users[0]!;
		const room = (await api.call("POST", "/room", { Authorization: `Bearer ${alice.token}` }, {})).json;
		const socket = await openRoomSocket(server.base, room.id, alice.token);
		const user = await openUserSocket(server.base, alice.token);
		const opened = Date.now();
		const [roomClose, userClose] = await Promise.all([closed(socket), closed(user)]);
		expect(roomClose).toEqual({ code: 4001, reason: "token expired" });
		expect(userClose).toEqual({ code: 4001, reason: "token expired" });
		// Closed by the alarm at expiry (second resolution), not by an idle timeout.
		expect(Date.now() - opened).toBeLessThan(4_000);
	});

	it("opens a member's socket to a private room (membership read again first) and closes it with 4003 on removal", async () => {
		const server = await start();
		const api = new Api(server.base);
		const t = await api.tenant(server.adminToken);
		const [alice, bob] = t.users as [{ id: string; token: string }, { id: string; token: string }];
		const room = (await api.call("POST", "/room", { clientKey: t.key }, { name: "ops", private: true, members: [alice.id, bob.id] })).json;
		const socket = await openRoomSocket(server.base, room.id, bob.token);
		expect((await socket.request("join_room", { room_id: room.id }, "j")).data).toEqual({
			room_id: room.id,
			last_seq: 0,
			online: [bob.id],
		});
		const removed = closed(socket);
		expect((await api.call("DELETE", `/room/${room.id}/members/${bob.id}`, { clientKey: t.key })).status).toBe(204);
		expect(await removed).toEqual({ code: 4003, reason: "removed from room" });
		await expect(openRoomSocket(server.base, room.id, bob.token)).rejects.toThrow(/403/);
	});

	it("takes a report of a message (once per user), as workerd does", async () => {
		const server = await start();
		const api = new Api(server.base);
		const t = await api.tenant(server.adminToken);
		const [alice, bob] = t.users as [{ id: string; token: string }, { id: string; token: string }];
		const room = (await api.call("POST", "/room", { clientKey: t.key }, { name: "ops", members: [alice.id, bob.id] })).json;
		const m = (
			await api.call("POST", `/room/${room.id}/message/send`, { Authorization: `Bearer ${alice.token}` }, { text_message: "spam" })
		).json;
		const path = `/room/${room.id}/messages/${m.id}/flag`;
		const first = await api.call("POST", path, { Authorization: `Bearer ${bob.token}` }, { reason: "spam" });
		expect(first.status).toBe(201);
		expect(first.json).toMatchObject({ message_id: m.id, room_id: room.id, flagged_by: bob.id, reason: "spam" });
		const again = await api.call("POST", path, { Authorization: `Bearer ${bob.token}` }, { reason: "spam" });
		expect([again.status, again.json.id]).toEqual([200, first.json.id]);
	});

	it("applies the same socket limits (429 past MAX_SOCKETS_PER_USER) and still upgrades within them", async () => {
		const server = await start({ vars: { MAX_SOCKETS_PER_USER: "2" } });
		const api = new Api(server.base);
		const t = await api.tenant(server.adminToken);
		const alice = t.users[0]!;
		const room = (await api.call("POST", "/room", { Authorization: `Bearer ${alice.token}` }, {})).json;
		await openRoomSocket(server.base, room.id, alice.token);
		await openRoomSocket(server.base, room.id, alice.token);
		await expect(openRoomSocket(server.base, room.id, alice.token)).rejects.toThrow(/429/);
		await openUserSocket(server.base, alice.token);
		await openUserSocket(server.base, alice.token);
		await expect(openUserSocket(server.base, alice.token)).rejects.toThrow(/429/);
	});
});
