// The SDK's user socket (`client.connect()`) against a real `wrangler dev`, through a TCP proxy
// that resets the connection: one socket for several rooms, the room list and unread counts,
// read sync across two connections, resume without loss or duplicates, removal.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type ChatClient, type ChatMessage, createClient, type UserConnection } from "../../src/client";
import { type RunningServer, startWranglerDev } from "./harness";
import { TcpProxy } from "./sdk-tcp-proxy";

vi.setConfig({ testTimeout: 90_000 });

let server: RunningServer;
let backend: ChatClient;
let aliceToken: string;
let aliceId: string;
let bob: ChatClient;
let bobId: string;
let apiToken: string;
const open: UserConnection[] = [];

beforeAll(async () => {
	server = await startWranglerDev();
	const admin = createClient({ baseUrl: server.base, adminToken: server.adminToken });
	const { api_token } = await admin.admin.createClient({ name: "sdk user socket" });
	backend = createClient({ baseUrl: server.base, apiToken: api_token });
	apiToken = api_token;
	const a = await backend.users.create({ name: "alice" });
	const b = await backend.users.create({ name: "bob" });
	aliceId = a.id;
	aliceToken = (await backend.users.token(a.id)).token;
	bobId = b.id;
	bob = createClient({ baseUrl: server.base, apiToken: api_token, userId: b.id });
});
afterAll(async () => {
	for (const c of open) c.close();
	await server?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
	const started = Date.now();
	while (!check()) {
		if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
		await sleep(25);
	}
}
const connect = (client: ChatClient) => {
	const chat = client.connect();
	open.push(chat);
	return chat;
};

describe("client.connect(): the user socket", () => {
	it("keeps the room list and unread counts, delivers joined rooms exactly once in order across resets, and syncs reads", async () => {
		const r1 = await backend.rooms.create({ name: "one", members: [aliceId, bobId] });
		const r2 = await backend.rooms.create({ name: "two", members: [aliceId] });
		await backend.rooms.addMember(r2.id, bobId);
		const proxy = await TcpProxy.start(Number(new URL(server.base).port));
		const alice = createClient({ baseUrl: proxy.url, token: aliceToken });
		const chat = connect(alice);
		const phone = connect(createClient({ baseUrl: server.base, token: aliceToken }));
		await until(() => chat.state === "connected" && phone.state === "connected", "both connections");
		expect(chat.rooms.get(r1.id)).toEqual({ room_id: r1.id, last_seq: 0, last_read_seq: 0, unread: 0, online: [] });

		const got: ChatMessage[] = [];
		const sub = chat.join(r1.id, { lastSeq: 0 });
		sub.on("new_message", (m) => got.push(m));
		const totals: number[] = [];
		phone.on("unread_total", (n) => totals.push(n));

		for (let i = 1; i <= 10; i++) {
			await bob.messages.send(r1.id, { text_message: `m${i}` });
			if (i === 5) proxy.killAll();
		}
		await bob.messages.send(r2.id, { text_message: "elsewhere" });
		await until(() => got.length === 10, "ten messages on the joined room");
		expect(got.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
		await until(() => phone.rooms.get(r2.id)?.unread === 1 && phone.rooms.get(r1.id)?.unread === 10, "the phone's badges");
		expect(phone.unreadTotal).toBe(11);

		// A send on the same socket, to a room not joined.
		const sent = await chat.send(r2.id, "from alice");
		expect(sent).toMatchObject({ room_id: r2.id, seq: 2, text_message: "from alice" });

		// Reading on one connection clears the badge on the other.
		expect(await sub.markRead()).toEqual({ room_id: r1.id, last_read_seq: 10, unread: 0 });
		await until(() => phone.rooms.get(r1.id)?.unread === 0, "the read on the phone");
		expect(phone.unreadTotal).toBe(1);
		expect(totals.at(-1)).toBe(1);
		expect((await backend.users.unread(aliceId)).unread_total).toBe(1);
		await proxy.close();
	});

	it("edits, deletes, reactions, replies and typing through the SDK, on both kinds of connection, in seq order", async () => {
		const room = await backend.rooms.create({ members: [aliceId, bobId] });
		const chat = connect(createClient({ baseUrl: server.base, token: aliceToken }));
		await until(() => chat.state === "connected", "connected");
		const sub = chat.join(room.id, { lastSeq: 0 });
		const seen: string[] = [];
		for (const event of ["new_message", "message_updated", "message_deleted", "reaction_added", "reaction_removed"] as const) {
			sub.on(event, (data) => seen.push(`${event}:${(data as { seq: number }).seq}`));
		}
		const typers: string[][] = [];
		sub.on("typing", (t) => typers.push(t.user_ids));
		const presence: Array<{ user_id: string; online: boolean }> = [];
		sub.on("presence", (p) => presence.push({ user_id: p.user_id, online: p.online }));
		const aliceJoins: string[][] = [];
		sub.on("joined", (j) => aliceJoins.push(j.online));
		await until(() => sub.joined, "joined");
		expect(aliceJoins).toEqual([[aliceId]]);
		const bobRoom = bob.joinRoom(room.id);
		const bobJoins: string[][] = [];
		bobRoom.on("joined", (j) => bobJoins.push(j.online));
		await until(() => bobRoom.state === "connected", "bob connected");
		// Presence on both kinds: bob's join result lists both; alice's subscription hears bob come online.
		expect(bobJoins).toEqual([[aliceId, bobId].sort()]);
		await until(() => presence.length === 1, "presence");
		expect(presence).toEqual([{ user_id: bobId, online: true }]);
		// The room connection hears presence too: carol opens the room.
		const roomPresence: Array<{ user_id: string; online: boolean }> = [];
		bobRoom.on("presence", (p) => roomPresence.push({ user_id: p.user_id, online: p.online }));
		const carolId = (await backend.users.create({ name: "carol" })).id;
		const carolRoom = createClient({ baseUrl: server.base, apiToken, userId: carolId }).joinRoom(room.id);
		await until(() => roomPresence.length === 1 && presence.length === 2, "carol's presence");
		expect(roomPresence).toEqual([{ user_id: carolId, online: true }]);
		expect(presence.at(-1)).toEqual({ user_id: carolId, online: true });
		carolRoom.close();
		bobRoom.typing();
		await until(() => typers.length === 1, "typing");
		expect(typers[0]).toEqual([bobId]);
		const first = await bobRoom.send("helo", { metadata: { draft: false } });
		expect(first.metadata).toEqual({ draft: false });
		expect((await bobRoom.edit(first.id, "hello")).message).toMatchObject({ text_message: "hello", version: 2 });
		expect((await sub.react(first.id, "👍")).reactions).toEqual({ "👍": 1 });
		const reply = await sub.send("hi!", { replyTo: first.id });
		expect(reply.reply_to).toBe(first.id);
		expect((await sub.unreact(first.id, "👍")).reactions).toEqual({});
		await expect(sub.edit(first.id, "not mine")).rejects.toMatchObject({ code: "forbidden" });
		expect(await bobRoom.delete(first.id)).toEqual({ room_id: room.id, message_id: first.id, seq: 6 });
		await until(() => seen.length === 6, "six events");
		expect(seen).toEqual([
			"new_message:1",
			"message_updated:2",
			"reaction_added:3",
			"new_message:4",
			"reaction_removed:5",
			"message_deleted:6",
		]);
		// Typing stopped with bob's message (announced once a second has passed since it started).
		await until(() => typers.at(-1)?.length === 0, "typing stopped");
		expect((await backend.messages.versions(room.id, first.id)).versions).toEqual([
			{ version: 2, text_message: "", at: expect.any(String) },
		]);
		expect((await backend.messages.replies(room.id, first.id)).messages.map((m) => m.id)).toEqual([reply.id]);
		bobRoom.close();
	});

	it("ends a private room's subscription on removal and drops it from the room list", async () => {
		const room = await backend.rooms.create({ private: true, members: [aliceId, bobId] });
		const chat = connect(createClient({ baseUrl: server.base, token: aliceToken }));
		await until(() => chat.state === "connected", "connected");
		const sub = chat.join(room.id);
		const removed: string[] = [];
		sub.on("removed", (e) => removed.push(e.room_id));
		await until(() => sub.joined, "joined");
		await backend.rooms.removeMember(room.id, aliceId);
		await until(() => removed.length === 1, "room_removed");
		expect(chat.rooms.has(room.id)).toBe(false);
		expect(sub.ended).toBe(true);
	});

	it("moderation through client.moderation: roles, a ban that ends the subscription, a mute, slow mode, and a client-wide ban that ends the connection", async () => {
		const carol = await backend.users.create({ name: "carol" });
		const asCarol = createClient({ baseUrl: server.base, token: (await backend.users.token(carol.id)).token });
		const room = await backend.rooms.create({ members: [aliceId, bobId, carol.id] });
		expect(await backend.moderation.setRole(room.id, carol.id, "moderator")).toEqual({
			user_id: carol.id,
			role: "moderator",
			joined_at: expect.any(String),
		});
		const failure = (p: Promise<unknown>) =>
			p.then(
				() => undefined,
				(e: { status: number; code: string }) => [e.status, e.code],
			);

		const chat = connect(createClient({ baseUrl: server.base, token: aliceToken }));
		await until(() => chat.state === "connected", "connected");
		const sub = chat.join(room.id);
		const removed: string[] = [];
		sub.on("removed", (e) => removed.push(e.room_id));
		await until(() => sub.joined, "joined");
		const ban = await asCarol.moderation.bans.add(room.id, aliceId, { reason: "test" });
		expect(ban).toMatchObject({ room_id: room.id, user_id: aliceId, reason: "test", expires_at: null, created_by: carol.id });
		await until(() => removed.length === 1, "room_removed");
		expect((await asCarol.moderation.bans.list(room.id)).next_cursor).toBeNull();
		await asCarol.moderation.bans.lift(room.id, aliceId);

		await backend.moderation.mutes.add(room.id, bobId);
		expect(await failure(bob.messages.send(room.id, "hi"))).toEqual([403, "muted"]);
		await backend.moderation.mutes.lift(room.id, bobId);
		expect((await backend.moderation.setCooldown(room.id, 60)).cooldown_seconds).toBe(60);
		await bob.messages.send(room.id, "one");
		const slow = await bob.messages.send(room.id, "two").then(
			() => undefined,
			(e: { status: number; code: string; retryAfterMs?: number }) => e,
		);
		expect([slow?.status, slow?.code]).toEqual([429, "rate_limited"]);
		// The wait the server named (about 60 s), for the app to show or to retry after.
		expect(slow?.retryAfterMs).toBeGreaterThan(55_000);
		expect(slow?.retryAfterMs).toBeLessThanOrEqual(60_000);

		const closes: Array<{ code: number; willReconnect: boolean }> = [];
		chat.on("disconnected", (e) => closes.push({ code: e.code, willReconnect: e.willReconnect }));
		expect((await backend.moderation.banUser(aliceId)).user_id).toBe(aliceId);
		await until(() => chat.state === "closed", "closed");
		expect(closes).toEqual([{ code: 4003, willReconnect: false }]);
		await backend.moderation.unbanUser(aliceId);
	});
});
