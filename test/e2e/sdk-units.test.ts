// The SDK's pure pieces, without a server: ordering, backoff, token claims, frame parsing, and the
// user connection's unread total from the frames a server sends.
import { describe, expect, it } from "vitest";
import { backoffDelay, readTokenClaims, Sequencer, TokenSource, UserConnection, type WebSocketConstructor } from "../../src/client";
import { parseServerFrame } from "../../src/client/realtime/frames";
import type { ChatMessage } from "../../src/client/types";

const message = (seq: number): ChatMessage => ({
	id: `0190aaaa-0000-7000-8000-${String(seq).padStart(12, "0")}`,
	room_id: "0190aaaa-0000-7000-8000-000000000000",
	seq,
	user_id: "0190aaaa-0000-7000-8000-ffffffffffff",
	text_message: `m${seq}`,
	created_at: "2026-11-24T06:00:00.000Z",
});
const seqs = (messages: ChatMessage[]) => messages.map((m) => m.seq);

describe("Sequencer", () => {
	it("hands out each seq once, in order, holding later ones until the gap fills", () => {
		const sequencer = new Sequencer(2);
		expect(seqs(sequencer.accept(message(2)))).toEqual([]);
		expect(seqs(sequencer.accept(message(4)))).toEqual([]);
		expect(sequencer.hasGap).toBe(true);
		expect(seqs(sequencer.accept(message(5)))).toEqual([]);
		expect(seqs(sequencer.accept(message(4)))).toEqual([]);
		expect(seqs(sequencer.accept(message(3)))).toEqual([3, 4, 5]);
		expect(sequencer.hasGap).toBe(false);
		expect(seqs(sequencer.accept(message(3)))).toEqual([]);
		expect(sequencer.last).toBe(5);
	});

	it("without a position, starts after what the room held at the first join", () => {
		const sequencer = new Sequencer();
		expect(seqs(sequencer.accept(message(8)))).toEqual([]);
		expect(seqs(sequencer.accept(message(9)))).toEqual([]);
		expect(seqs(sequencer.start(8))).toEqual([9]);
		expect(seqs(sequencer.start(20))).toEqual([]);
		expect(sequencer.last).toBe(9);
	});
});

describe("backoffDelay", () => {
	it("doubles its window up to the cap, with half of it random", () => {
		const options = { minDelayMs: 100, maxDelayMs: 1_000 };
		expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, options, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
		expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, options, () => 1))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
	});
});

describe("token claims", () => {
	const jwt = (payload: unknown) => `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.sig`;

	it("reads sub, iat and exp and ignores the rest or anything malformed", () => {
		expect(readTokenClaims(jwt({ sub: "u1", iat: 10, exp: 13, cid: "c" }))).toEqual({ sub: "u1", iat: 10, exp: 13 });
		expect(readTokenClaims(jwt({ exp: "soon" }))).toEqual({});
		expect(readTokenClaims("not a jwt")).toEqual({});
		expect(readTokenClaims("a.%%%.c")).toEqual({});
	});

	it("refreshes once for concurrent callers, and before connecting when the token is about to expire", async () => {
		let now = 10_000;
		let calls = 0;
		const source = new TokenSource(
			jwt({ exp: 12 }),
			async () => {
				calls += 1;
				return jwt({ exp: 100 + calls });
			},
			() => now,
		);
		expect(await source.valid(1_000)).toBe(jwt({ exp: 12 }));
		now = 11_500;
		const [a, b] = await Promise.all([source.valid(1_000), source.refresh()]);
		expect([a, b, calls]).toEqual([jwt({ exp: 101 }), jwt({ exp: 101 }), 1]);
		await expect(new TokenSource("x").refresh()).rejects.toThrow(/getToken/);
		await expect(new TokenSource("x", () => "").refresh()).rejects.toThrow(/must return a JWT/);
	});
});

describe("parseServerFrame", () => {
	it("splits batches on newlines and keeps only well-formed events", () => {
		const frame = [
			JSON.stringify({ event: "new_message", data: message(1) }),
			'{"event":"pong"}',
			JSON.stringify({ event: "ack", id: "c_1", data: message(1) }),
			"not json",
			JSON.stringify({ event: "new_message", data: { seq: "2" } }),
			JSON.stringify({ event: "error", id: 7, data: { code: "rate_limited", message: "slow down" } }),
			JSON.stringify({ event: "message_deleted", data: { room_id: "r", message_id: "m", seq: 2 } }),
			JSON.stringify({ event: "reaction_added", data: { room_id: "r", message_id: "m" } }),
			"",
		].join("\n");
		expect(parseServerFrame(frame)).toEqual([
			{ event: "log", entry: { seq: 1, event: "new_message", data: message(1) } },
			{ event: "pong" },
			{ event: "ack", id: "c_1", data: message(1) },
			{ event: "error", id: 7, data: { code: "rate_limited", message: "slow down" } },
			// Changes in the room's log carry their seq; one without it is dropped.
			{ event: "log", entry: { seq: 2, event: "message_deleted", data: { room_id: "r", message_id: "m", seq: 2 } } },
		]);
	});
});

describe("UserConnection's unread total", () => {
	/** The socket the connection opens: the test speaks as the server on it. */
	class ServerSide {
		static last: ServerSide | undefined;
		readyState = 1;
		private readonly listeners = new Map<string, Array<(event: unknown) => void>>();
		constructor() {
			ServerSide.last = this;
		}
		addEventListener(type: string, listener: (event: unknown) => void) {
			this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
		}
		send() {}
		close() {
			this.readyState = 3;
		}
		serve(event: string, data: unknown) {
			for (const listener of this.listeners.get("message") ?? []) listener({ data: JSON.stringify({ event, data }) });
		}
	}
	const room = (id: string, unread: number) => ({ room_id: id, last_seq: 10, last_read_seq: 10 - unread, unread });

	async function connected() {
		ServerSide.last = undefined;
		const connection = new UserConnection({
			baseUrl: "http://127.0.0.1:1",
			tokens: new TokenSource("a.b.c"),
			WebSocket: ServerSide as unknown as WebSocketConstructor,
		});
		await expect.poll(() => ServerSide.last).toBeDefined();
		const totals: number[] = [];
		connection.on("unread_total", (n) => totals.push(n));
		return { connection, server: ServerSide.last as ServerSide, totals };
	}

	it("counts a room that ready did not list once, when an update first names it", async () => {
		const { connection, server, totals } = await connected();
		// Room C's 7 unread are in the total but past the list (the server lists at most READY_MAX_ROOMS rooms).
		server.serve("ready", { user_id: "u", rooms: [room("A", 2), room("B", 1)], unread_total: 10 });
		server.serve("inbox_update", { room_id: "C", last_seq: 11, unread: 8, message: null });
		expect(connection.unreadTotal).toBe(11);
		// Known now: a read elsewhere, and news in a listed room, move it exactly.
		server.serve("read", { room_id: "C", last_read_seq: 11, unread: 0 });
		server.serve("inbox_update", { room_id: "A", last_seq: 11, unread: 3, message: null });
		server.serve("room_removed", { room_id: "B" });
		expect(totals).toEqual([10, 11, 3, 4, 3]);
		// A room the user had no unread in (or a new one): nothing of it was in the total.
		server.serve("inbox_update", { room_id: "D", last_seq: 1, unread: 1, message: null });
		expect(connection.unreadTotal).toBe(4);
		// The next ready replaces it all.
		server.serve("ready", { user_id: "u", rooms: [room("A", 0)], unread_total: 0 });
		expect(connection.unreadTotal).toBe(0);
		connection.close();
	});

	it("never lets a room past the list take more than the remainder", async () => {
		const { connection, server } = await connected();
		server.serve("ready", { user_id: "u", rooms: [room("A", 2)], unread_total: 5 });
		// C and E share the remainder of 3: C, at 2 now, takes 2 of it; E, at 4 now, the last 1.
		server.serve("inbox_update", { room_id: "C", last_seq: 12, unread: 2, message: null });
		expect(connection.unreadTotal).toBe(5);
		server.serve("inbox_update", { room_id: "E", last_seq: 9, unread: 4, message: null });
		expect(connection.unreadTotal).toBe(8);
		connection.close();
	});
});
