// The SDK's room sockets against a real `wrangler dev`, through a TCP proxy that breaks the
// network on cue: resets, silent connections, lost acks, refused reconnects, several rooms, removal.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
	type ChatClient,
	type ChatMessage,
	type ConnectionState,
	createClient,
	type RoomConnection,
	type RoomEvents,
} from "../../src/client";
import { type RunningServer, startWranglerDev } from "./harness";
import { TcpProxy } from "./sdk-tcp-proxy";

// A shared 2-core machine: the first socket to a cold room object can take a while.
vi.setConfig({ testTimeout: 90_000 });

let server: RunningServer;
let backend: ChatClient;
let alice: ChatClient;
let bobToken: string;
let bobId: string;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
	server = await startWranglerDev();
	const admin = createClient({ baseUrl: server.base, adminToken: server.adminToken });
	const { api_token } = await admin.admin.createClient({ name: "sdk realtime" });
	backend = createClient({ baseUrl: server.base, apiToken: api_token });
	const a = await backend.users.create({ name: "alice" });
	const b = await backend.users.create({ name: "bob" });
	alice = createClient({ baseUrl: server.base, apiToken: api_token, userId: a.id });
	bobId = b.id;
	bobToken = (await backend.users.token(b.id)).token;
});
afterEach(async () => {
	// Last in, first out: rooms close before the proxy they go through.
	for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => server?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
	const started = Date.now();
	while (!(await check())) {
		if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
		await sleep(25);
	}
}

/** Bob's side: a client that reaches the server only through a fresh proxy, and what it observed. */
async function bobThroughProxy() {
	const proxy = await TcpProxy.start(Number(new URL(server.base).port));
	cleanups.push(() => proxy.close());
	const client = createClient({ baseUrl: proxy.url, token: bobToken });
	return { proxy, client };
}

function watch(room: RoomConnection) {
	cleanups.push(() => room.close());
	const seen = {
		messages: [] as ChatMessage[],
		states: [] as ConnectionState[],
		disconnects: [] as RoomEvents["disconnected"][],
		errors: [] as string[],
	};
	room.on("new_message", (m) => seen.messages.push(m));
	room.on("state", (s) => seen.states.push(s));
	room.on("disconnected", (d) => seen.disconnects.push(d));
	room.on("error", (e) => seen.errors.push(e.code));
	return seen;
}

const texts = (messages: ChatMessage[]) => messages.map((m) => m.text_message);
const seqs = (messages: ChatMessage[]) => messages.map((m) => m.seq);
const range = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);
const fast = { minDelayMs: 50, maxDelayMs: 400 };

async function publicRoom(name: string) {
	return alice.rooms.create({ name });
}

describe("reconnect and resume", () => {
	it("delivers every message exactly once and in order when the socket is reset mid-stream", async () => {
		const { id } = await publicRoom("reset");
		const { proxy, client } = await bobThroughProxy();
		const room = client.joinRoom(id, fast);
		const seen = watch(room);
		await until(() => room.state === "connected", "bob connected");

		for (const i of range(30)) {
			await alice.messages.send(id, `m${i}`);
			if (i === 10) {
				// The connection dies and the server stays unreachable while 10 more are sent.
				proxy.refusing = true;
				proxy.killAll();
			}
			if (i === 20) proxy.refusing = false;
			await sleep(15);
		}
		await until(() => seen.messages.length >= 30, "30 messages");
		await sleep(300);

		expect(texts(seen.messages)).toEqual(range(30).map((i) => `m${i}`));
		expect(seqs(seen.messages)).toEqual(range(30));
		expect(room.lastSeq).toBe(30);
		expect(seen.disconnects[0]).toEqual({ code: 1006, reason: "", willReconnect: true });
		expect(seen.states.at(0)).toBe("connected");
		expect(seen.states).toContain("reconnecting");
		expect(seen.states.at(-1)).toBe("connected");
		expect(proxy.accepted).toBeGreaterThan(2);
	});

	it("treats a silent connection as dead after a missed pong, then catches up", async () => {
		const { id } = await publicRoom("silent");
		await alice.messages.send(id, "before");
		const { proxy, client } = await bobThroughProxy();
		const room = client.joinRoom(id, { ...fast, lastSeq: 0, heartbeatIntervalMs: 300, heartbeatTimeoutMs: 300 });
		const seen = watch(room);
		await until(() => seen.messages.length === 1 && room.state === "connected", "replay of history");

		proxy.silenceAll();
		for (const i of range(5)) await alice.messages.send(id, `during ${i}`);
		await until(() => seen.messages.length >= 6, "catch-up");
		await alice.messages.send(id, "after");
		await until(() => seen.messages.length >= 7, "live after reconnect");

		expect(texts(seen.messages)).toEqual(["before", ...range(5).map((i) => `during ${i}`), "after"]);
		expect(seqs(seen.messages)).toEqual(range(7));
		expect(seen.disconnects).toEqual([{ code: 4000, reason: "heartbeat timeout", willReconnect: true }]);
		expect(seen.states).toEqual(["connected", "reconnecting", "connected"]);
	});

	it("re-sends unacknowledged messages with the same client_msg_id: stored once, each promise gets the stored message", async () => {
		const { id } = await publicRoom("lost acks");
		const { proxy, client } = await bobThroughProxy();
		const room = client.joinRoom(id, { ...fast, heartbeatIntervalMs: 400, heartbeatTimeoutMs: 400 });
		const seen = watch(room);
		await until(() => room.state === "connected", "bob connected");

		// The server receives the sends and stores them; its acks never come back.
		proxy.dropDownstream();
		const sends = ["one", "two", "three"].map((text) => room.send(text));
		await until(async () => (await alice.messages.history(id)).messages.length === 3, "stored before any ack");
		const acked = await Promise.all(sends);

		const { messages } = await alice.messages.history(id);
		expect(messages).toEqual(acked);
		expect(texts(messages)).toEqual(["one", "two", "three"]);
		expect(seqs(messages)).toEqual([1, 2, 3]);
		const ids = messages.map((m) => m.client_msg_id);
		expect(new Set(ids).size).toBe(3);
		expect(messages.every((m) => m.user_id === bobId && typeof m.client_msg_id === "string")).toBe(true);
		await until(() => seen.messages.length >= 3, "bob's own messages");
		await sleep(200);
		expect(seen.messages).toEqual(messages);
		expect(seen.disconnects.map((d) => d.reason)).toEqual(["heartbeat timeout"]);
	});

	it("queues sends while offline and delivers them once, in order, when the server is back", async () => {
		const { id } = await publicRoom("offline queue");
		const { proxy, client } = await bobThroughProxy();
		const room = client.joinRoom(id, fast);
		const seen = watch(room);
		await until(() => room.state === "connected", "bob connected");

		proxy.refusing = true;
		proxy.killAll();
		await until(() => room.state === "reconnecting", "reconnecting");
		const sends = ["q1", "q2", "q3"].map((text) => room.send(text));
		await sleep(600);
		expect((await alice.messages.history(id)).messages).toEqual([]);
		proxy.refusing = false;

		const acked = await Promise.all(sends);
		expect(texts(acked)).toEqual(["q1", "q2", "q3"]);
		expect(seqs(acked)).toEqual([1, 2, 3]);
		expect((await alice.messages.history(id)).messages).toEqual(acked);
		await until(() => seen.messages.length >= 3, "echoes");
		expect(seen.messages).toEqual(acked);
	});
});

describe("rooms", () => {
	it("keeps several rooms apart, each on its own socket", async () => {
		const first = await publicRoom("first");
		const second = await publicRoom("second");
		const { proxy, client } = await bobThroughProxy();
		const a = client.joinRoom(first.id, fast);
		const b = client.joinRoom(second.id, fast);
		const seenA = watch(a);
		const seenB = watch(b);
		await until(() => a.state === "connected" && b.state === "connected", "both connected");
		expect(proxy.live).toBe(2);

		await alice.messages.send(first.id, "to first");
		await alice.messages.send(second.id, "to second");
		const mine = await b.send("bob in second");
		await until(() => seenA.messages.length === 1 && seenB.messages.length === 2, "fan-out");
		expect(texts(seenA.messages)).toEqual(["to first"]);
		expect(texts(seenB.messages)).toEqual(["to second", "bob in second"]);
		expect(mine).toEqual(seenB.messages[1]);

		a.close();
		expect(a.state).toBe("closed");
		await expect(a.send("too late")).rejects.toMatchObject({ name: "ChatRoomError", code: "room_closed" });
		await until(() => proxy.live === 1, "first socket closed");
		await alice.messages.send(second.id, "still here");
		await until(() => seenB.messages.length === 3, "second keeps working");
	});

	it("closes for good on 4003 (removed from a private room): no reconnect, later sends rejected", async () => {
		const room = await backend.rooms.create({ name: "private", private: true, members: [bobId] });
		const { proxy, client } = await bobThroughProxy();
		const conn = client.joinRoom(room.id, fast);
		const seen = watch(conn);
		await until(() => conn.state === "connected", "bob connected");
		const before = proxy.accepted;

		await backend.rooms.removeMember(room.id, bobId);
		await until(() => conn.state === "closed", "closed");
		await sleep(1_000);
		expect(seen.disconnects).toEqual([{ code: 4003, reason: "removed from room", willReconnect: false }]);
		expect(seen.errors).toEqual(["removed"]);
		expect(seen.states).toEqual(["connected", "closed"]);
		expect(proxy.accepted).toBe(before);
		await expect(conn.send("still here?")).rejects.toMatchObject({ name: "ChatRoomError", code: "room_closed" });
	});

	it("gives up when the handshake is refused for good (not a member of a private room)", async () => {
		const room = await backend.rooms.create({ name: "not for bob", private: true });
		const { client } = await bobThroughProxy();
		const conn = client.joinRoom(room.id, fast);
		const seen = watch(conn);
		const pending = conn.send("let me in").catch((error: unknown) => error);
		await until(() => conn.state === "closed", "closed");
		expect(seen.errors).toEqual(["forbidden"]);
		expect(await pending).toMatchObject({
			name: "ChatRoomError",
			code: "forbidden",
			message: "This room is private and you are not a member",
		});
		expect((await backend.messages.history(room.id)).messages).toEqual([]);
	});
});
