// Durability on bare workerd: everything acknowledged before workerd stops (SIGTERM, or a
// SIGKILL crash) is there after it starts again on the same DATA_DIR, and seq goes on without a gap;
// a user socket resumes every room it joined exactly, with unread counts and read positions intact
// (that one on bare workerd and on the Deno host).
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, expect, it } from "vitest";
import { Api } from "./api-client";
import { type RunningServer, type StartOptions, startDeno, startSelfhost } from "./harness";
import { openRoomSocket, openUserSocket, type RoomSocket, type ServerEvent } from "./ws-client";

let server: RunningServer | undefined;
const userServers: Record<string, RunningServer | undefined> = {};
afterAll(async () => {
	for (const s of [server, ...Object.values(userServers)]) {
		await s?.stop("SIGKILL");
		if (s) rmSync(s.stateDir, { recursive: true, force: true });
	}
});

// biome-ignore lint/suspicious/noExplicitAny: black-box tests read arbitrary JSON and assert on it exactly
type Json = any;

/** Everything a client can read back about its data, as the API returns it. */
async function snapshot(api: Api, key: string, userIds: string[], roomIds: string[]) {
	const backend = { clientKey: key };
	const read = async (path: string) => {
		const res = await api.call("GET", path, backend);
		expect(res.status, path).toBe(200);
		return res.json as Json;
	};
	return {
		users: await read("/user?limit=200"),
		userRooms: await Promise.all(userIds.map((id) => read(`/user/${id}/rooms`))),
		rooms: await Promise.all(roomIds.map((id) => read(`/room/${id}`))),
		members: await Promise.all(roomIds.map((id) => read(`/room/${id}/members`))),
		history: await Promise.all(roomIds.map((id) => read(`/room/${id}/messages?limit=200`))),
	};
}

async function sendOverSocket(socket: RoomSocket, roomId: string, texts: string[], prefix: string) {
	const acks = [];
	for (const [i, text] of texts.entries()) {
		const ack = await socket.request(
			"send_message",
			{ room_id: roomId, text_message: text, client_msg_id: `${prefix}-${i}` },
			`${prefix}-${i}`,
		);
		expect(ack.event).toBe("ack");
		acks.push(ack.data as Json);
	}
	return acks;
}

/** Stops the server (SIGKILL after the harness's 5 s grace) and starts a new one on its data. */
async function restart(
	previous: RunningServer,
	signal: NodeJS.Signals,
	start: (o: StartOptions) => Promise<RunningServer> = startSelfhost,
) {
	const started = Date.now();
	await previous.stop(signal);
	const stoppedInMs = Date.now() - started;
	const next = await start({ stateDir: previous.stateDir, adminToken: previous.adminToken, jwtSecret: previous.jwtSecret });
	return { next, stoppedInMs };
}

it("keeps clients, users, rooms, memberships and acknowledged messages across SIGTERM and SIGKILL", async () => {
	server = await startSelfhost();
	let api = new Api(server.base);
	const admin = { Authorization: `Bearer ${server.adminToken}` };

	// Two clients, so isolation is checked after the restart too.
	const acme = await api.tenant(server.adminToken);
	const other = await api.tenant(server.adminToken);
	const [alice, bob] = acme.users as [{ id: string; token: string }, { id: string; token: string }];
	const carol = (await api.call("POST", "/user", { clientKey: acme.key }, { name: "carol", metadata: { role: "ops" } })).json;
	const asAlice = { Authorization: `Bearer ${alice.token}` };

	const lobby = (await api.call("POST", "/room", asAlice, { name: "lobby", members: [bob.id] })).json;
	const ops = (await api.call("POST", "/room", { clientKey: acme.key }, { name: "ops", private: true, members: [alice.id] })).json;
	expect((await api.call("POST", `/room/${ops.id}/members`, { clientKey: acme.key }, { user_id: carol.id })).status).toBe(201);
	expect((await api.call("POST", `/room/${lobby.id}/members`, { clientKey: acme.key }, { user_id: carol.id })).status).toBe(201);
	expect((await api.call("DELETE", `/room/${lobby.id}/members/${carol.id}`, { clientKey: acme.key })).status).toBe(204);
	const otherRoom = (await api.call("POST", "/room", { clientKey: other.key }, { name: "elsewhere", members: [other.users[0]!.id] })).json;

	const sentByRest = [];
	for (const text of ["one", "two", "three"]) {
		const res = await api.call("POST", `/room/${lobby.id}/message/send`, asAlice, { text_message: text });
		expect(res.status).toBe(201);
		sentByRest.push(res.json);
	}
	const bobSocket = await openRoomSocket(server.base, lobby.id, bob.token);
	await bobSocket.request("join_room", { room_id: lobby.id }, "join");
	const sentByWs = await sendOverSocket(bobSocket, lobby.id, ["four", "five", "six"], "bob-a");
	await api.call("POST", `/room/${ops.id}/message/send`, { clientKey: `${acme.key}.${carol.id}` }, { text_message: "ops only" });
	expect([...sentByRest, ...sentByWs].map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);

	const userIds = [alice.id, bob.id, carol.id];
	const roomIds = [lobby.id, ops.id];
	const before = await snapshot(api, acme.key, userIds, roomIds);
	expect(before.history[0].messages).toEqual([...sentByRest, ...sentByWs]);
	expect(before.members[1].members.map((m: Json) => m.user_id).sort()).toEqual([alice.id, carol.id].sort());
	const otherBefore = await snapshot(api, other.key, [other.users[0]!.id], [otherRoom.id]);

	// 1. A graceful stop. workerd drains open WebSockets forever on SIGTERM, so close them first
	// to see it exit by itself, well before the harness would escalate to SIGKILL.
	await bobSocket.close();
	const graceful = await restart(server, "SIGTERM");
	expect(graceful.stoppedInMs).toBeLessThan(3_000);
	server = graceful.next;
	api = new Api(server.base);
	expect(await snapshot(api, acme.key, userIds, roomIds)).toEqual(before);
	expect(await snapshot(api, other.key, [other.users[0]!.id], [otherRoom.id])).toEqual(otherBefore);
	expect((await api.call("GET", `/room/${lobby.id}`, { clientKey: other.key })).status).toBe(404);
	// The same API key, JWTs and idempotency keys still work.
	const resend = await openRoomSocket(server.base, lobby.id, bob.token);
	await resend.request("join_room", { room_id: lobby.id, last_seq: 5 }, "rejoin");
	expect(await resend.next((e) => e.event === "new_message")).toEqual({ event: "new_message", data: sentByWs[2] });
	expect(await resend.request("send_message", { room_id: lobby.id, text_message: "six", client_msg_id: "bob-a-2" }, "retry")).toEqual({
		event: "ack",
		id: "retry",
		data: sentByWs[2],
	});
	const seven = await api.call("POST", `/room/${lobby.id}/message/send`, asAlice, { text_message: "seven" });
	expect(seven.json.seq).toBe(7);
	const moreByWs = await sendOverSocket(resend, lobby.id, ["eight", "nine"], "bob-b");
	expect(moreByWs.map((m) => m.seq)).toEqual([8, 9]);

	// 2. A crash right after the acks, with a socket still open: nothing acknowledged may be lost.
	server = (await restart(server, "SIGKILL")).next;
	api = new Api(server.base);
	const after = await snapshot(api, acme.key, userIds, roomIds);
	const lobbyMessages = [...sentByRest, ...sentByWs, seven.json, ...moreByWs];
	// Unread counts survive the crash too: recounted here from the messages each user did not send.
	const userRooms = before.userRooms.map((page: Json, i: number) => ({
		...page,
		rooms: page.rooms.map((r: Json) =>
			r.id === lobby.id ? { ...r, last_seq: 9, unread: lobbyMessages.filter((m: Json) => m.user_id !== userIds[i]).length } : r,
		),
	}));
	expect(after).toEqual({ ...before, userRooms, history: [{ messages: lobbyMessages }, before.history[1]] });
	const ten = await api.call("POST", `/room/${lobby.id}/message/send`, { Authorization: `Bearer ${bob.token}` }, { text_message: "ten" });
	expect(ten.json.seq).toBe(10);
	expect((await api.call("POST", "/admin/clients", admin, { name: "after restart" })).status).toBe(201);
	expect((await api.call("GET", `/room/${ops.id}/messages`, { Authorization: `Bearer ${bob.token}` })).status).toBe(403);

	// On disk: one SQLite file for the directory, one per room written to, and the directory's
	// migration recorded once, by the first start, however often workerd started since.
	await server.stop("SIGKILL");
	const objects = (prefix: string) => {
		const dir = readdirSync(server!.stateDir).find((d) => d.startsWith(prefix));
		return readdirSync(join(server!.stateDir, dir!))
			.filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")
			.map((f) => join(server!.stateDir, dir!, f));
	};
	expect(objects("roomkit-rooms-")).toHaveLength(3);
	const [directoryFile] = objects("roomkit-directory-");
	expect(objects("roomkit-directory-")).toHaveLength(1);
	const db = new DatabaseSync(directoryFile!, { readOnly: true });
	try {
		const applied = db.prepare("SELECT name, applied_at FROM d1_migrations").all();
		expect(applied.map((r) => r.name)).toEqual(["0000_init.sql", "0001_webhooks.sql", "0002_message_flags.sql", "0003_moderation.sql"]);
		expect(Date.parse(String(applied[0]!.applied_at))).toBeLessThan(Date.parse(before.users.users[0].created_at) + 1);
		expect(db.prepare("SELECT count(*) AS n FROM clients").get()).toEqual({ n: 3 });
	} finally {
		db.close();
	}
});

const HOSTS = [
	{ host: "bare workerd", start: startSelfhost },
	{ host: "Deno", start: startDeno },
];
it.each(HOSTS)(
	"resumes a user socket's two rooms across SIGTERM and SIGKILL of $host: the missed messages once and in order, unread and read positions unchanged",
	async ({ host, start }) => {
		let userServer = await start({});
		userServers[host] = userServer;
		let api = new Api(userServer.base);
		const t = await api.tenant(userServer.adminToken);
		const [alice, bob] = t.users as [{ id: string; token: string }, { id: string; token: string }];
		const backend = { clientKey: t.key };
		const rooms: string[] = [];
		for (const name of ["one", "two"]) {
			const res = await api.call("POST", "/room", backend, { name, members: [alice.id, bob.id] });
			expect(res.status).toBe(201);
			rooms.push(res.json.id);
		}
		const [one, two] = rooms as [string, string];
		// What bob stored in each room, and what alice's user sockets delivered of it, in order.
		const sent = new Map<string, Json[]>(rooms.map((r) => [r, []]));
		const seen = new Map<string, Json[]>(rooms.map((r) => [r, []]));
		const post = async (perRoom: number) => {
			for (const room_id of rooms) {
				for (let i = 0; i < perRoom; i++) {
					const list = sent.get(room_id) as Json[];
					const res = await api.call(
						"POST",
						`/room/${room_id}/message/send`,
						{ Authorization: `Bearer ${bob.token}` },
						{
							text_message: `m${list.length + 1}`,
						},
					);
					expect(res.status).toBe(201);
					list.push(res.json);
				}
			}
		};
		const isMessage = (room_id: string) => (e: ServerEvent) => e.event === "new_message" && e.data.room_id === room_id;
		/** Takes the room's messages until alice has `upTo` of them; each must be the next one stored. */
		const take = async (socket: RoomSocket, room_id: string, upTo: number) => {
			const got = seen.get(room_id) as Json[];
			while (got.length < upTo) {
				const { data } = await socket.next(isMessage(room_id));
				expect(data, `room ${room_id}, message ${got.length + 1}`).toEqual((sent.get(room_id) as Json[])[got.length]);
				got.push(data);
			}
		};
		/** Alice's user socket joined to both rooms from the last message she got: the missed ones come before each ack. */
		const resume = async () => {
			const socket = await openUserSocket(userServer.base, alice.token);
			const ready = await socket.next((e) => e.event === "ready");
			for (const room_id of rooms) {
				const last_seq = seen.get(room_id)?.at(-1)?.seq ?? 0;
				const stored = (sent.get(room_id) as Json[]).length;
				expect(await socket.request("join_room", { room_id, last_seq }, `j-${room_id}`)).toEqual({
					event: "ack",
					id: `j-${room_id}`,
					data: { room_id, last_seq: stored, online: [alice.id] },
				});
				await take(socket, room_id, stored);
			}
			// Nothing twice.
			await expect(socket.next((e) => e.event === "new_message", 300)).rejects.toThrow(/no matching event/);
			return { socket, ready: ready.data };
		};
		/** Unread and read positions as REST reports them, for both users. */
		const state = async () => {
			const read = async (path: string) => {
				const res = await api.call("GET", path, backend);
				expect(res.status, path).toBe(200);
				return res.json as Json;
			};
			return {
				unread: [await read(`/user/${alice.id}/unread`), await read(`/user/${bob.id}/unread`)],
				rooms: await read(`/user/${alice.id}/rooms`),
				reads: await Promise.all(rooms.map((id) => read(`/room/${id}/reads`))),
			};
		};

		let { socket } = await resume();
		await post(2);
		for (const room_id of rooms) await take(socket, room_id, 2);
		expect(await socket.request("mark_read", { room_id: one, seq: 1 }, "read-one")).toEqual({
			event: "ack",
			id: "read-one",
			data: { room_id: one, last_read_seq: 1, unread: 1 },
		});
		// Missed while away: one more per room.
		await socket.close();
		await post(1);
		const beforeTerm = await state();
		expect(beforeTerm.unread[0]).toEqual({
			unread_total: 5,
			rooms: expect.arrayContaining([
				{ room_id: one, last_seq: 3, last_read_seq: 1, unread: 2 },
				{ room_id: two, last_seq: 3, last_read_seq: 0, unread: 3 },
			]),
		});

		// 1. A graceful stop, with no socket open (workerd drains open WebSockets on SIGTERM).
		userServer = (await restart(userServer, "SIGTERM", start)).next;
		userServers[host] = userServer;
		api = new Api(userServer.base);
		expect(await state()).toEqual(beforeTerm);
		let ready: Json;
		({ socket, ready } = await resume());
		expect(ready.unread_total).toBe(5);
		expect(ready.rooms.map(({ online: _, ...r }: Json) => r).sort((a: Json, b: Json) => (a.room_id < b.room_id ? -1 : 1))).toEqual(
			[
				{ room_id: one, last_seq: 3, last_read_seq: 1, unread: 2 },
				{ room_id: two, last_seq: 3, last_read_seq: 0, unread: 3 },
			].sort((a, b) => (a.room_id < b.room_id ? -1 : 1)),
		);
		// The read position survived: a lower seq answers the current one.
		expect((await socket.request("mark_read", { room_id: one, seq: 0 }, "low")).data).toEqual({
			room_id: one,
			last_read_seq: 1,
			unread: 2,
		});
		expect((await socket.request("mark_read", { room_id: two, seq: 3 }, "read-two")).data).toEqual({
			room_id: two,
			last_read_seq: 3,
			unread: 0,
		});
		// Live again after the restart.
		await post(1);
		for (const room_id of rooms) await take(socket, room_id, 4);

		// 2. A crash right after the acks, with the socket open: alice has taken only the first of two new messages per room.
		await post(2);
		for (const room_id of rooms) await take(socket, room_id, 5);
		const beforeKill = await state();
		expect(beforeKill.unread[0].unread_total).toBe(5 + 3);
		userServer = (await restart(userServer, "SIGKILL", start)).next;
		userServers[host] = userServer;
		api = new Api(userServer.base);
		expect(await state()).toEqual(beforeKill);
		({ socket, ready } = await resume());
		expect(ready.unread_total).toBe(8);
		expect((await socket.request("mark_read", { room_id: two, seq: 0 }, "low-two")).data).toEqual({
			room_id: two,
			last_read_seq: 3,
			unread: 3,
		});
		for (const room_id of rooms) expect(seen.get(room_id)).toEqual(sent.get(room_id));
		await socket.close();
	},
);
