// RoomCore without a runtime: real MessageLog on real SQLite (node:sqlite), the real Outbox
// driven by hand, and peers that record every frame they are written.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { ServerEvent } from "../../src/protocol/frames";
import { makeRoom, messageId, OTHER_ROOM, ROOM, T0 } from "./room-support";

const at = (ms: number) => new Date(T0 + ms).toISOString();
const msg = (n: number, userId: string, text: string, extra: Record<string, unknown> = {}, createdMs = 0) => ({
	id: messageId(n),
	room_id: ROOM,
	seq: n,
	user_id: userId,
	text_message: text,
	created_at: at(createdMs),
	...extra,
});
const newMessage = (data: unknown) => ({ event: "new_message", data });
const send = (text: string, id?: string | number, clientMsgId?: string) => ({
	event: "send_message",
	data: { room_id: ROOM, text_message: text, ...(clientMsgId === undefined ? {} : { client_msg_id: clientMsgId }) },
	...(id === undefined ? {} : { id }),
});
const join = (id?: string | number, lastSeq?: number) => ({
	event: "join_room",
	data: { room_id: ROOM, ...(lastSeq === undefined ? {} : { last_seq: lastSeq }) },
	...(id === undefined ? {} : { id }),
});

/** Alice and bob, both joined, with their join acks already taken. */
function joinedPair(room: ReturnType<typeof makeRoom>) {
	const alice = room.peer("alice");
	const bob = room.peer("bob");
	room.feed(alice, join());
	room.feed(bob, join());
	alice.take();
	bob.take();
	return { alice, bob };
}

describe("join_room", () => {
	it("acks with the room and its last seq, and marks the socket joined", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		expect(room.feed(alice, join(1))).toEqual({});
		expect(alice.takeFrames()).toEqual([`{"event":"ack","id":1,"data":{"room_id":"${ROOM}","last_seq":0,"online":["alice"]}}`]);
		expect(alice.state.joined).toBe(true);
		expect(alice.saved).toEqual([{ userId: "alice", clientId: "client-1", roomId: ROOM, exp: 0, joined: true }]);
		// A second join saves nothing new and still answers.
		room.feed(alice, join("again"));
		expect(alice.take()).toEqual([{ event: "ack", id: "again", data: { room_id: ROOM, last_seq: 0, online: ["alice"] } }]);
		expect(alice.saved).toHaveLength(1);
	});

	it("acks without id when the request has none", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		room.feed(alice, join());
		expect(alice.takeFrames()).toEqual([`{"event":"ack","data":{"room_id":"${ROOM}","last_seq":0,"online":["alice"]}}`]);
	});

	it("leave_room stops delivery and is acknowledged", () => {
		const room = makeRoom();
		const { alice, bob } = joinedPair(room);
		room.feed(bob, { event: "leave_room", data: { room_id: ROOM }, id: "bye" });
		expect(bob.take()).toEqual([{ event: "ack", id: "bye", data: { room_id: ROOM } }]);
		expect(bob.state.joined).toBe(false);
		room.feed(alice, send("anyone?"));
		expect(bob.take()).toEqual([]);
		expect(alice.take()).toEqual([newMessage(msg(1, "alice", "anyone?")), { event: "ack", data: msg(1, "alice", "anyone?") }]);
	});
});

describe("send_message", () => {
	it("stores, then sends new_message to every joined socket and the ack to the sender in the same frame", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		const bob = room.peer("bob");
		const lurker = room.peer("carol");
		room.feed(alice, join());
		room.feed(bob, join());
		alice.take();
		bob.take();
		room.clock.now = T0 + 5;
		room.core.handleFrame(alice, JSON.stringify(send("hello", "r1")));
		// Written synchronously before anything is flushed.
		expect(room.rows()).toEqual([{ seq: 1, user_id: "alice", text_message: "hello", client_msg_id: null }]);
		expect(alice.frames).toEqual([]);
		room.flush();
		const stored = msg(1, "alice", "hello", {}, 5);
		expect(alice.takeFrames()).toEqual([
			`{"event":"new_message","data":${JSON.stringify(stored)}}\n{"event":"ack","id":"r1","data":${JSON.stringify(stored)}}`,
		]);
		expect(bob.takeFrames()).toEqual([`{"event":"new_message","data":${JSON.stringify(stored)}}`]);
		expect(lurker.frames).toEqual([]);
	});

	it("a socket that never joined receives nothing, even while others talk", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		const lurker = room.peer("carol");
		room.feed(alice, join());
		for (let i = 0; i < 5; i++) room.feed(alice, send(`m${i}`));
		room.core.sendFromRest({ roomId: ROOM, userId: "bob", text: "rest" });
		room.flush();
		expect(lurker.frames).toEqual([]);
		expect(alice.take()).toHaveLength(1 + 5 * 2 + 1);
	});

	it("an unjoined sender still gets its ack (and no new_message)", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		room.feed(alice, send("fire and forget", 9));
		expect(alice.take()).toEqual([{ event: "ack", id: 9, data: msg(1, "alice", "fire and forget") }]);
	});

	it("a REST send reaches joined sockets and returns the stored message", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		room.feed(alice, join());
		alice.take();
		const result = room.core.sendFromRest({ roomId: ROOM, userId: "bob", text: "from rest", clientMsgId: "k1" });
		const stored = msg(1, "bob", "from rest", { client_msg_id: "k1" });
		expect(result).toEqual({ ok: true, created: true, message: stored });
		room.flush();
		expect(alice.take()).toEqual([newMessage(stored)]);
	});

	it("assigns seq 1, 2, 3... with no gaps and keeps counting on a reopened log", () => {
		const db = new DatabaseSync(":memory:");
		const first = makeRoom({ db });
		const alice = first.peer("alice");
		for (let i = 1; i <= 3; i++) first.feed(alice, send(`m${i}`, i));
		expect(alice.take().map((e) => (e as { data: { seq: number } }).data.seq)).toEqual([1, 2, 3]);
		const again = makeRoom({ db });
		expect(again.core.lastSeq()).toBe(3);
		const bob = again.peer("bob");
		again.feed(bob, send("m4", 4));
		expect(bob.take()).toEqual([{ event: "ack", id: 4, data: { ...msg(4, "bob", "m4"), id: messageId(1) } }]);
		expect(again.rows().map((r) => r.seq)).toEqual([1, 2, 3, 4]);
	});

	it("every frame the server writes matches the ServerEvent schema (the AsyncAPI document)", () => {
		const room = makeRoom();
		// Real user ids are UUIDs, and the Message schema says so.
		const alice = room.peer("0190c000-0000-7000-8000-000000000001");
		room.feed(alice, join(1));
		room.feed(alice, send("x", "a", "c"));
		room.feed(alice, { event: "leave_room", data: { room_id: ROOM } });
		room.feed(alice, "nope");
		const events = alice.take();
		expect(events).toHaveLength(5);
		for (const event of events) expect(ServerEvent.parse(event)).toEqual(event);
	});
});

describe("catch-up with last_seq", () => {
	it("delivers exactly the missed messages in seq order, then the ack, then live ones", () => {
		const room = makeRoom();
		const writer = room.peer("alice");
		for (let i = 1; i <= 5; i++) room.feed(writer, send(`m${i}`));
		writer.take();
		const late = room.peer("bob");
		room.feed(late, join("j", 2));
		expect(late.take()).toEqual([
			newMessage(msg(3, "alice", "m3")),
			newMessage(msg(4, "alice", "m4")),
			newMessage(msg(5, "alice", "m5")),
			{ event: "ack", id: "j", data: { room_id: ROOM, last_seq: 5, online: ["bob"] } },
		]);
		room.feed(writer, send("m6"));
		expect(late.take()).toEqual([newMessage(msg(6, "alice", "m6"))]);
	});

	it("last_seq 0 replays the whole room; last_seq at or past the end replays nothing", () => {
		const room = makeRoom();
		const writer = room.peer("alice");
		for (let i = 1; i <= 3; i++) room.feed(writer, send(`m${i}`));
		const all = room.peer("bob");
		room.feed(all, join(undefined, 0));
		expect(all.take()).toEqual([
			newMessage(msg(1, "alice", "m1")),
			newMessage(msg(2, "alice", "m2")),
			newMessage(msg(3, "alice", "m3")),
			{ event: "ack", data: { room_id: ROOM, last_seq: 3, online: ["bob"] } },
		]);
		for (const lastSeq of [3, 99]) {
			const none = room.peer(`u${lastSeq}`);
			room.feed(none, join(undefined, lastSeq));
			expect(none.take()).toEqual([
				{ event: "ack", data: { room_id: ROOM, last_seq: 3, online: lastSeq === 3 ? ["bob", "u3"] : ["bob", "u3", "u99"] } },
			]);
		}
	});

	it("catches up across more messages than one batch holds, in order", () => {
		const room = makeRoom({ limits: { restSendRateBurst: 10_000 } });
		for (let i = 1; i <= 1200; i++) room.core.sendFromRest({ roomId: ROOM, userId: "bulk", text: `m${i}` });
		expect(room.core.lastSeq()).toBe(1200);
		const late = room.peer("late");
		room.feed(late, join("j", 100));
		const events = late.take() as Array<{ event: string; data: { seq?: number } }>;
		expect(events).toHaveLength(1101);
		expect(events.slice(0, 1100).map((e) => e.data.seq)).toEqual(Array.from({ length: 1100 }, (_, i) => 101 + i));
		expect(events[1100]).toEqual({ event: "ack", id: "j", data: { room_id: ROOM, last_seq: 1200, online: ["late"] } });
	});

	it("stops reading history once the socket is detached mid catch-up (e.g. closed for not reading)", () => {
		const room = makeRoom({ limits: { restSendRateBurst: 10_000 } });
		for (let i = 1; i <= 1200; i++) room.core.sendFromRest({ roomId: ROOM, userId: "bulk", text: `m${i}` });
		const late = room.peer("late");
		// The first full batch (512 events) is written at once; the room closes the socket there.
		const write = late.write.bind(late);
		late.write = (frame) => {
			write(frame);
			room.core.detach(late);
		};
		room.feed(late, join("j", 0));
		const events = late.take() as Array<{ event: string; data: { seq?: number } }>;
		expect(events.map((e) => e.data.seq)).toEqual(Array.from({ length: 512 }, (_, i) => 1 + i));
		expect(late.state.joined).toBe(false);
	});
});

describe("idempotent retries", () => {
	it("a retried send_message returns the first message: no second row, no second broadcast", () => {
		const room = makeRoom();
		const { alice, bob } = joinedPair(room);
		room.feed(alice, send("once", 1, "c-1"));
		const stored = msg(1, "alice", "once", { client_msg_id: "c-1" });
		expect(alice.take()).toEqual([newMessage(stored), { event: "ack", id: 1, data: stored }]);
		expect(bob.take()).toEqual([newMessage(stored)]);
		room.clock.now += 1000;
		room.feed(alice, send("once, again (different text)", 2, "c-1"));
		expect(alice.take()).toEqual([{ event: "ack", id: 2, data: stored }]);
		expect(bob.take()).toEqual([]);
		// Over REST with the same key: the same message, not created, not broadcast.
		expect(room.core.sendFromRest({ roomId: ROOM, userId: "alice", text: "rest retry", clientMsgId: "c-1" })).toEqual({
			ok: true,
			created: false,
			message: stored,
		});
		room.flush();
		expect(bob.take()).toEqual([]);
		expect(room.rows()).toEqual([{ seq: 1, user_id: "alice", text_message: "once", client_msg_id: "c-1" }]);
	});

	it("the key is per user: another user with the same client_msg_id gets their own message", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		const bob = room.peer("bob");
		room.feed(alice, send("a", 1, "same"));
		room.feed(bob, send("b", 1, "same"));
		expect(bob.take()).toEqual([{ event: "ack", id: 1, data: msg(2, "bob", "b", { client_msg_id: "same" }) }]);
		expect(room.rows()).toHaveLength(2);
	});
});

describe("bad frames: an error event with a stable code, and the socket keeps working", () => {
	const errorOf = (code: string, message: string, id?: string | number) => ({
		event: "error",
		...(id === undefined ? {} : { id }),
		data: { code, message },
	});
	const frameShape = 'A frame is an object {"event", "data", "id"?}';
	const big = "x".repeat(64 * 1024 + 1);
	const cases: Array<[string, string | ArrayBuffer, ReturnType<typeof errorOf>]> = [
		["not JSON", "hello there", errorOf("invalid_json", "Frame is not valid JSON")],
		["an empty frame", "", errorOf("invalid_json", "Frame is not valid JSON")],
		["truncated JSON", '{"event":"join_room"', errorOf("invalid_json", "Frame is not valid JSON")],
		[
			"a binary frame",
			new TextEncoder().encode(JSON.stringify(join())).buffer as ArrayBuffer,
			errorOf("binary_not_supported", "Frames must be JSON text"),
		],
		["an array", JSON.stringify([join()]), errorOf("invalid_frame", frameShape)],
		["null", "null", errorOf("invalid_frame", frameShape)],
		["a number", "42", errorOf("invalid_frame", frameShape)],
		["a string", '"join_room"', errorOf("invalid_frame", frameShape)],
		[
			"an unknown event (id echoed)",
			JSON.stringify({ event: "shout", data: { room_id: ROOM }, id: 7 }),
			errorOf(
				"unknown_event",
				'Unknown event "shout"; expected join_room, send_message, leave_room, edit_message, delete_message, add_reaction, remove_reaction or typing',
				7,
			),
		],
		[
			"no event",
			JSON.stringify({ data: { room_id: ROOM }, id: "n" }),
			errorOf(
				"unknown_event",
				'Unknown event "undefined"; expected join_room, send_message, leave_room, edit_message, delete_message, add_reaction, remove_reaction or typing',
				"n",
			),
		],
		[
			"an event inherited through __proto__",
			`{"__proto__":{"event":"join_room","data":{"room_id":"${ROOM}"}}}`,
			errorOf(
				"unknown_event",
				'Unknown event "undefined"; expected join_room, send_message, leave_room, edit_message, delete_message, add_reaction, remove_reaction or typing',
			),
		],
		[
			"text_message of the wrong type",
			JSON.stringify({ event: "send_message", data: { room_id: ROOM, text_message: 5 }, id: "t" }),
			errorOf("validation_failed", "data.text_message: Invalid input: expected string, received number", "t"),
		],
		[
			"a field smuggled through __proto__",
			`{"event":"send_message","id":"p","data":{"room_id":"${ROOM}","__proto__":{"text_message":"hi"}}}`,
			errorOf("validation_failed", "data.text_message: Invalid input: expected string, received undefined", "p"),
		],
		[
			"missing data",
			JSON.stringify({ event: "join_room", id: 3 }),
			errorOf("validation_failed", "data: Invalid input: expected object, received undefined", 3),
		],
		[
			"data that is an array",
			JSON.stringify({ event: "join_room", data: [ROOM] }),
			errorOf("validation_failed", "data: Invalid input: expected object, received array"),
		],
		[
			"a negative last_seq",
			JSON.stringify({ event: "join_room", data: { room_id: ROOM, last_seq: -1 } }),
			errorOf("validation_failed", "data.last_seq: Too small: expected number to be >=0"),
		],
		[
			"a fractional last_seq",
			JSON.stringify({ event: "join_room", data: { room_id: ROOM, last_seq: 1.5 } }),
			errorOf("validation_failed", "data.last_seq: Invalid input: expected int, received number"),
		],
		[
			"a last_seq given as a string",
			JSON.stringify({ event: "join_room", data: { room_id: ROOM, last_seq: "3" } }),
			errorOf("validation_failed", "data.last_seq: Invalid input: expected number, received string"),
		],
		[
			"a room_id that is not a UUID",
			JSON.stringify({ event: "join_room", data: { room_id: "general" } }),
			errorOf("validation_failed", "data.room_id: Invalid UUID"),
		],
		[
			"an id that is an object (not echoed)",
			JSON.stringify({ event: "join_room", data: { room_id: ROOM }, id: { x: 1 } }),
			errorOf("validation_failed", "id: Invalid input"),
		],
		[
			"an empty text_message",
			JSON.stringify(send("", "e")),
			errorOf("validation_failed", "data.text_message: Too small: expected string to have >=1 characters", "e"),
		],
		[
			"a text_message over the length limit",
			JSON.stringify(send("y".repeat(4001), "long")),
			errorOf("validation_failed", "data.text_message: Too big: expected string to have <=4000 characters", "long"),
		],
		[
			"a lone UTF-16 surrogate in the text",
			`{"event":"send_message","id":"u","data":{"room_id":"${ROOM}","text_message":"a\\ud800b"}}`,
			errorOf("validation_failed", "data.text_message: must be well-formed Unicode (no lone surrogates)", "u"),
		],
		[
			"an empty client_msg_id",
			JSON.stringify(send("z", "c", "")),
			errorOf("validation_failed", "data.client_msg_id: Too small: expected string to have >=1 characters", "c"),
		],
		[
			"another room's id",
			JSON.stringify({ ...send("hi", "w"), data: { room_id: OTHER_ROOM, text_message: "hi" } }),
			errorOf("wrong_room", "This socket belongs to another room", "w"),
		],
		[
			"another room's id on join",
			JSON.stringify({ event: "join_room", data: { room_id: OTHER_ROOM }, id: "wj" }),
			errorOf("wrong_room", "This socket belongs to another room", "wj"),
		],
		["a frame over 64 KiB", big, errorOf("frame_too_large", "Frames are limited to 65536 bytes")],
		[
			"a frame under 64 Ki characters but over 64 KiB in UTF-8",
			JSON.stringify(send("é".repeat(33_000))),
			errorOf("frame_too_large", "Frames are limited to 65536 bytes"),
		],
	];

	it.each(cases)("%s", (_name, raw, expected) => {
		const room = makeRoom();
		const alice = room.peer("alice");
		const bob = room.peer("bob");
		room.feed(bob, join());
		bob.take();
		expect(room.feed(alice, raw)).toEqual({});
		expect(alice.take()).toEqual([expected]);
		expect(alice.state.joined).toBe(false);
		expect(room.rows()).toEqual([]);
		expect(bob.take()).toEqual([]);
		// Nothing leaked onto Object.prototype from `__proto__` keys.
		expect(({} as Record<string, unknown>).event).toBeUndefined();
		expect(({} as Record<string, unknown>).text_message).toBeUndefined();
		// The same peer is still usable.
		room.feed(alice, join("after"));
		room.feed(alice, send("still here", "s"));
		expect(alice.take()).toEqual([
			{ event: "ack", id: "after", data: { room_id: ROOM, last_seq: 0, online: ["alice", "bob"] } },
			newMessage(msg(1, "alice", "still here")),
			{ event: "ack", id: "s", data: msg(1, "alice", "still here") },
		]);
	});

	it("a text_message of exactly the limit is accepted, and unknown fields are ignored", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		room.feed(alice, { ...send("y".repeat(4000), 1), extra: true, data: { room_id: ROOM, text_message: "y".repeat(4000), admin: true } });
		expect(alice.take()).toEqual([{ event: "ack", id: 1, data: msg(1, "alice", "y".repeat(4000)) }]);
	});

	it("a __proto__ key inside data does not become last_seq", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		room.feed(alice, send("m1"));
		const bob = room.peer("bob");
		room.feed(bob, `{"event":"join_room","data":{"room_id":"${ROOM}","__proto__":{"last_seq":0}}}`);
		expect(bob.take()).toEqual([{ event: "ack", data: { room_id: ROOM, last_seq: 1, online: ["bob"] } }]);
	});

	it("a burst of bad frames never stops the room", () => {
		const room = makeRoom({ limits: { wsRateBurst: 10_000 } });
		const alice = room.peer("alice");
		for (const [, raw] of cases) room.feed(alice, raw);
		room.feed(alice, send("ok", "last"));
		const events = alice.take() as Array<{ event: string; id?: unknown }>;
		expect(events.filter((e) => e.event === "error")).toHaveLength(cases.length);
		expect(events.at(-1)).toEqual({ event: "ack", id: "last", data: msg(1, "alice", "ok") });
	});
});

describe("limits", () => {
	it("rate limit: 40 frames at once pass, the 41st is rate_limited, tokens come back at 20/s", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		const bob = room.peer("bob");
		for (let i = 1; i <= 40; i++) room.core.handleFrame(alice, JSON.stringify(send(`m${i}`, i)));
		room.flush();
		expect(alice.take()).toHaveLength(40);
		// The refusal echoes the request id, so a client waiting for its answer gets one.
		const limited = (id?: number) => ({
			event: "error",
			...(id === undefined ? {} : { id }),
			data: { code: "rate_limited", message: "Too many frames, slow down" },
		});
		room.feed(alice, send("too fast", 41));
		expect(alice.take()).toEqual([limited(41)]);
		expect(room.core.lastSeq()).toBe(40);
		// Another connection has its own bucket.
		room.feed(bob, send("bob is fine", "b"));
		expect(bob.take()).toEqual([{ event: "ack", id: "b", data: msg(41, "bob", "bob is fine") }]);
		// 49 ms later there is still no whole token; at 50 ms there is one.
		room.clock.now = T0 + 49;
		room.feed(alice, send("early", 42));
		expect(alice.take()).toEqual([limited(42)]);
		room.clock.now = T0 + 50;
		room.feed(alice, send("on time", 43));
		expect(alice.take()).toEqual([{ event: "ack", id: 43, data: msg(42, "alice", "on time", {}, 50) }]);
		room.feed(alice, send("again too fast", 44));
		expect(alice.take()).toEqual([limited(44)]);
		// After two idle seconds the full burst is back, and no more.
		room.clock.now = T0 + 10_000;
		for (let i = 0; i < 40; i++) room.core.handleFrame(alice, JSON.stringify(join()));
		room.flush();
		expect((alice.take() as Array<{ event: string }>).every((e) => e.event === "ack")).toBe(true);
		room.feed(alice, join());
		expect(alice.take()).toEqual([limited()]);
		// Ids are echoed whatever the frame; an id of the wrong type is not.
		room.feed(alice, { event: "nonsense", id: "n" });
		room.feed(alice, { event: "join_room", id: { x: 1 } });
		room.feed(alice, new TextEncoder().encode('{"id":1}').buffer as ArrayBuffer);
		expect(alice.take()).toEqual([{ ...limited(), id: "n" }, limited(), limited()]);
	});

	it("bad frames count against the rate limit too", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		for (let i = 0; i < 40; i++) room.core.handleFrame(alice, "garbage");
		room.flush();
		room.feed(alice, join());
		expect(alice.take().at(-1)).toEqual({ event: "error", data: { code: "rate_limited", message: "Too many frames, slow down" } });
	});

	it("REST sends are limited per user: 40 at once, then rate_limited, nothing stored", () => {
		const room = makeRoom();
		for (let i = 0; i < 40; i++) expect(room.core.sendFromRest({ roomId: ROOM, userId: "alice", text: `m${i}` }).ok).toBe(true);
		expect(room.core.sendFromRest({ roomId: ROOM, userId: "alice", text: "no" })).toEqual({ ok: false, code: "rate_limited" });
		expect(room.core.sendFromRest({ roomId: ROOM, userId: "bob", text: "yes" }).ok).toBe(true);
		expect(room.core.lastSeq()).toBe(41);
	});

	it("token expiry: a frame at or after exp closes with 4001 and does nothing else", () => {
		const room = makeRoom();
		const exp = T0 / 1000 + 10;
		const alice = room.peer("alice", { exp });
		room.clock.now = exp * 1000 - 1;
		room.feed(alice, join(1));
		expect(alice.take()).toEqual([{ event: "ack", id: 1, data: { room_id: ROOM, last_seq: 0, online: ["alice"] } }]);
		room.clock.now = exp * 1000;
		expect(room.feed(alice, send("too late", 2))).toEqual({ close: { code: 4001, reason: "token expired" } });
		expect(alice.take()).toEqual([]);
		expect(room.rows()).toEqual([]);
		// Credentials without expiry (exp 0: an API token) never expire.
		const forever = room.peer("bob");
		room.clock.now = T0 + 10 * 365 * 86_400_000;
		expect(room.feed(forever, join())).toEqual({});
	});

	it("detach forgets the peer: nothing more is written to it, even what was pending", () => {
		const room = makeRoom();
		const { alice, bob } = joinedPair(room);
		room.core.handleFrame(alice, JSON.stringify(send("pending")));
		room.core.detach(bob);
		room.flush();
		expect(bob.frames).toEqual([]);
		expect([...room.core.connected()]).toEqual([alice]);
		room.feed(alice, send("after"));
		expect(bob.frames).toEqual([]);
	});
});

describe("history", () => {
	it("returns pages in ascending seq, newest page by default", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		for (let i = 1; i <= 5; i++) room.feed(alice, send(`m${i}`));
		const seqs = (range: Parameters<typeof room.core.history>[0]) => room.core.history(range).map((m) => m.seq);
		expect(seqs({ limit: 2 })).toEqual([4, 5]);
		expect(seqs({ beforeSeq: 4, limit: 2 })).toEqual([2, 3]);
		expect(seqs({ afterSeq: 1, limit: 2 })).toEqual([2, 3]);
		expect(seqs({ afterSeq: 1, beforeSeq: 4, limit: 10 })).toEqual([2, 3]);
		expect(room.core.history({ afterSeq: 4, limit: 10 })).toEqual([msg(5, "alice", "m5")]);
	});
});
