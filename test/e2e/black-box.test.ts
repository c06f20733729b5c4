// One black-box suite, two runtimes: `npm start` (wrangler dev: D1 + Durable Objects) and
// `npm run selfhost` (bare workerd: the directory object + Durable Objects on local disk).
// Everything goes over real TCP: fetch for REST, the ws package for WebSockets.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api } from "./api-client";
import { freePort, ROOT, RUNTIMES, type RunningServer, stopChild } from "./harness";
import { onlineIds, openRoomSocket, presenceEvent, type RoomSocket } from "./ws-client";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe.each(RUNTIMES)("on $runtime", ({ start }) => {
	let server: RunningServer;
	let api: Api;
	const sockets: RoomSocket[] = [];
	const open = async (roomId: string, token: string | null) => {
		const socket = await openRoomSocket(server.base, roomId, token);
		sockets.push(socket);
		return socket;
	};

	beforeAll(async () => {
		server = await start();
		api = new Api(server.base);
	});
	afterAll(async () => {
		await Promise.all(sockets.map((s) => s.close()));
		await server?.stop();
	});

	it("answers health and serves its API description", async () => {
		expect(await api.call("GET", "/health")).toEqual({ status: 200, json: { status: "ok" } });
		const openapi = await api.call("GET", "/openapi.json");
		expect(openapi.status).toBe(200);
		expect(openapi.json.openapi).toBe("3.1.0");
		expect(openapi.json.servers).toEqual([{ url: server.base }]);
	});

	it("creates a client, users and a room, then chats over REST and WebSocket with history", async () => {
		const client = await api.call("POST", "/admin/clients", { Authorization: `Bearer ${server.adminToken}` }, { name: "black-box" });
		expect(client.status).toBe(201);
		expect(client.json).toEqual({
			id: expect.stringMatching(UUID),
			name: "black-box",
			created_at: expect.stringMatching(ISO),
			api_token: expect.stringMatching(/^rk_/),
		});
		const backend = { clientKey: client.json.api_token as string };

		const alice = await api.call("POST", "/user", backend, { name: "alice" });
		const bob = await api.call("POST", "/user", backend, { name: "bob", metadata: { team: "blue" } });
		expect(alice).toEqual({
			status: 201,
			json: { id: expect.stringMatching(UUID), name: "alice", metadata: null, created_at: expect.stringMatching(ISO) },
		});
		expect(bob).toEqual({
			status: 201,
			json: { id: expect.stringMatching(UUID), name: "bob", metadata: { team: "blue" }, created_at: expect.stringMatching(ISO) },
		});
		const aliceJwt = (await api.call("POST", `/auth/${alice.json.id}`, backend)).json.token as string;
		const bobJwt = (await api.call("POST", `/auth/${bob.json.id}`, backend)).json.token as string;
		const asAlice = { Authorization: `Bearer ${aliceJwt}` };

		const room = await api.call("POST", "/room", asAlice, { name: "general", members: [bob.json.id] });
		expect(room).toEqual({
			status: 201,
			json: {
				id: expect.stringMatching(UUID),
				name: "general",
				private: false,
				cooldown_seconds: 0,
				created_at: expect.stringMatching(ISO),
			},
		});
		const members = await api.call("GET", `/room/${room.json.id}/members`, backend);
		expect(members.json.members.map((m: { user_id: string }) => m.user_id).sort()).toEqual([alice.json.id, bob.json.id].sort());

		const bobSocket = await open(room.json.id, bobJwt);
		expect(bobSocket.protocol).toBe("roomkit.v1");
		expect(await bobSocket.request("join_room", { room_id: room.json.id }, "join-1")).toEqual({
			event: "ack",
			id: "join-1",
			data: { room_id: room.json.id, last_seq: 0, online: [bob.json.id] },
		});
		const aliceSocket = await open(room.json.id, aliceJwt);
		expect(await aliceSocket.request("join_room", { room_id: room.json.id }, 7)).toEqual({
			event: "ack",
			id: 7,
			data: { room_id: room.json.id, last_seq: 0, online: onlineIds(alice.json.id, bob.json.id) },
		});
		expect(await bobSocket.next((e) => e.event === "presence")).toEqual(presenceEvent(room.json.id, alice.json.id, true));

		// REST send: stored with seq 1 and pushed to both sockets.
		const sent = await api.call("POST", `/room/${room.json.id}/message/send`, asAlice, { text_message: "hello over REST" });
		expect(sent).toEqual({
			status: 201,
			json: {
				id: expect.stringMatching(UUID),
				room_id: room.json.id,
				seq: 1,
				user_id: alice.json.id,
				text_message: "hello over REST",
				created_at: expect.stringMatching(ISO),
			},
		});
		expect(await bobSocket.next((e) => e.event === "new_message")).toEqual({ event: "new_message", data: sent.json });
		expect(await aliceSocket.next((e) => e.event === "new_message")).toEqual({ event: "new_message", data: sent.json });

		// WebSocket send: acknowledged with the stored message, which reaches the other socket.
		const ack = await bobSocket.request(
			"send_message",
			{ room_id: room.json.id, text_message: "hi from ws", client_msg_id: "bob-1" },
			"send-1",
		);
		expect(ack).toEqual({
			event: "ack",
			id: "send-1",
			data: {
				id: expect.stringMatching(UUID),
				room_id: room.json.id,
				seq: 2,
				user_id: bob.json.id,
				text_message: "hi from ws",
				created_at: expect.stringMatching(ISO),
				client_msg_id: "bob-1",
			},
		});
		expect(await aliceSocket.next((e) => e.event === "new_message")).toEqual({ event: "new_message", data: ack.data });

		const history = await api.call("GET", `/room/${room.json.id}/messages`, backend);
		expect(history).toEqual({ status: 200, json: { messages: [sent.json, ack.data] } });
		const after = await api.call("GET", `/room/${room.json.id}/messages?after_seq=1`, { Authorization: `Bearer ${bobJwt}` });
		expect(after).toEqual({ status: 200, json: { messages: [ack.data] } });

		// A socket that rejoins with last_seq catches up on what it missed.
		const late = await open(room.json.id, bobJwt);
		await late.request("join_room", { room_id: room.json.id, last_seq: 1 }, "rejoin");
		expect(await late.next((e) => e.event === "new_message")).toEqual({ event: "new_message", data: ack.data });
	});

	it("answers the heartbeat ping with pong", async () => {
		const t = await api.tenant(server.adminToken);
		const room = await api.call("POST", "/room", { Authorization: `Bearer ${t.users[0]!.token}` }, {});
		const socket = await open(room.json.id, t.users[0]!.token);
		socket.ws.send('{"event":"ping"}');
		expect(await socket.nextRaw()).toBe('{"event":"pong"}');
	});

	it("refuses missing, wrong and foreign credentials before anything is stored", async () => {
		const t = await api.tenant(server.adminToken);
		const other = await api.tenant(server.adminToken);
		const room = await api.call("POST", "/room", { clientKey: t.key }, { name: "private", private: true, members: [t.users[0]!.id] });
		expect(room.status).toBe(201);

		expect((await api.call("POST", "/admin/clients", { Authorization: "Bearer wrong" }, { name: "x" })).status).toBe(401);
		expect((await api.call("POST", "/admin/clients", {}, { name: "x" })).status).toBe(401);
		expect((await api.call("POST", `/room/${room.json.id}/message/send`, {}, { text_message: "x" })).status).toBe(401);
		expect((await api.call("GET", `/room/${room.json.id}/messages`, { clientKey: other.key })).status).toBe(404);
		expect(
			(
				await api.call(
					"POST",
					`/room/${room.json.id}/message/send`,
					{ Authorization: `Bearer ${t.users[1]!.token}` },
					{ text_message: "x" },
				)
			).status,
		).toBe(403);

		await expect(openRoomSocket(server.base, room.json.id, null)).rejects.toMatchObject({ status: 401 });
		await expect(openRoomSocket(server.base, room.json.id, "not-a-jwt")).rejects.toMatchObject({ status: 401 });
		await expect(openRoomSocket(server.base, room.json.id, other.users[0]!.token)).rejects.toMatchObject({ status: 404 });
		await expect(openRoomSocket(server.base, room.json.id, t.users[1]!.token)).rejects.toMatchObject({ status: 403 });
		expect(await api.call("GET", `/room/${room.json.id}/messages`, { clientKey: t.key })).toEqual({ status: 200, json: { messages: [] } });

		// The member gets in (the room re-checks membership in this runtime's directory), until removed.
		const member = await open(room.json.id, t.users[0]!.token);
		expect(await member.request("join_room", { room_id: room.json.id }, "in")).toEqual({
			event: "ack",
			id: "in",
			data: { room_id: room.json.id, last_seq: 0, online: [t.users[0]!.id] },
		});
		const closed = new Promise<number>((resolve) => member.ws.once("close", (code) => resolve(code)));
		expect((await api.call("DELETE", `/room/${room.json.id}/members/${t.users[0]!.id}`, { clientKey: t.key })).status).toBe(204);
		expect(await closed).toBe(4003);
		await expect(openRoomSocket(server.base, room.json.id, t.users[0]!.token)).rejects.toMatchObject({ status: 403 });
	});
});

describe("npm run selfhost (scripts/selfhost.mjs)", () => {
	const scratch = mkdtempSync(join(tmpdir(), "roomkit-selfhost-script-"));
	afterAll(() => rmSync(scratch, { recursive: true, force: true }));
	const script = join(ROOT, "scripts", "selfhost.mjs");

	it("creates fresh secrets on first run, serves on PORT with data in DATA_DIR, and takes workerd down with it", async () => {
		const envFile = join(scratch, "roomkit.env");
		const dataDir = join(scratch, "data", "nested");
		const port = await freePort();
		const child = spawn(process.execPath, [script], {
			cwd: ROOT,
			stdio: ["ignore", "pipe", "pipe"],
			env: { PATH: process.env.PATH ?? "", ENV_FILE: envFile, PORT: String(port), DATA_DIR: dataDir },
		});
		let output = "";
		child.stdout.on("data", (d) => (output += d));
		child.stderr.on("data", (d) => (output += d));
		try {
			const started = Date.now();
			while (!output.includes("Roomkit chat is running on workerd") && child.exitCode === null && Date.now() - started < 90_000) {
				await new Promise((r) => setTimeout(r, 100));
			}
			expect(output).toContain(`Created ${envFile} with fresh secrets (ADMIN_TOKEN, JWT_SECRET).`);
			expect(output).toContain(`API      http://127.0.0.1:${port}\n`);
			expect(output).toContain(`Data     ${dataDir}\n`);

			const settings = Object.fromEntries(
				readFileSync(envFile, "utf8")
					.split("\n")
					.filter((l) => /^[A-Z_]+=/.test(l))
					.map((l) => l.split(/=(.*)/).slice(0, 2)),
			);
			expect(settings.ADMIN_TOKEN).toMatch(/^[A-Za-z0-9_-]{32}$/);
			expect(settings.JWT_SECRET).toMatch(/^[A-Za-z0-9_-]{32}$/);
			expect(settings.JWT_SECRET).not.toBe(settings.ADMIN_TOKEN);
			expect(statSync(envFile).mode & 0o777).toBe(0o600);

			const api = new Api(`http://127.0.0.1:${port}`);
			expect(
				(await api.call("POST", "/admin/clients", { Authorization: `Bearer ${settings.ADMIN_TOKEN}` }, { name: "script" })).status,
			).toBe(201);
			expect((await api.call("POST", "/admin/clients", { Authorization: "Bearer generate" }, { name: "script" })).status).toBe(401);
			expect(readdirSync(dataDir).sort()).toEqual([
				expect.stringMatching(/^roomkit-directory-/),
				expect.stringMatching(/^roomkit-gateways-/),
				expect.stringMatching(/^roomkit-rooms-/),
				expect.stringMatching(/^roomkit-webhooks-/),
			]);
		} finally {
			await stopChild(child, "SIGTERM", 15_000);
		}
		await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
	});

	it("refuses to start without ADMIN_TOKEN", () => {
		const envFile = join(scratch, "incomplete.env");
		writeFileSync(envFile, "ADMIN_TOKEN=\nJWT_SECRET=set\n");
		const run = spawnSync(process.execPath, [script], {
			cwd: ROOT,
			encoding: "utf8",
			timeout: 30_000,
			env: { PATH: process.env.PATH ?? "", ENV_FILE: envFile, PORT: "1", DATA_DIR: join(scratch, "never") },
		});
		expect(run.status).toBe(1);
		expect(run.stderr).toBe(`ADMIN_TOKEN is not set: set it in ${envFile} (see .env.example) or in the environment.\n`);
		expect(readdirSync(scratch)).not.toContain("never");
	});
});
