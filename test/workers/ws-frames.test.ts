// Bad frames over a real socket: each gets an `error` event with its stable code, the socket
// stays open and usable, and nothing is stored or broadcast. Plus the heartbeat and rate limit.
import { beforeAll, describe, expect, it, vi } from "vitest";
import { room, tenant } from "./helpers";
import { type Client, connect, join, online, send, viaProtocol } from "./ws-support";

// Sockets, alarms and a shared 2-core machine: allow more than the default 5 s per test.
vi.setConfig({ testTimeout: 30_000 });

let roomId: string;
let otherRoomId: string;
let tokens: string[];
let userIds: string[];
beforeAll(async () => {
	const t = await tenant(2);
	roomId = (await room(t, {})).id;
	otherRoomId = (await room(t, {})).id;
	tokens = t.users.map((u) => u.token);
	userIds = t.users.map((u) => u.id);
});

const errorOf = (code: string, message: string, id?: string | number) => ({
	event: "error",
	...(id === undefined ? {} : { id }),
	data: { code, message },
});

const frameShape = 'A frame is an object {"event", "data", "id"?}';

// Built lazily: they need the room ids.
const cases = (): Array<[string, string | ArrayBuffer, ReturnType<typeof errorOf>]> => [
	["not JSON", "hello", errorOf("invalid_json", "Frame is not valid JSON")],
	[
		"a binary frame",
		new TextEncoder().encode(JSON.stringify(join(roomId, 1))).buffer as ArrayBuffer,
		errorOf("binary_not_supported", "Frames must be JSON text"),
	],
	["an array", JSON.stringify([join(roomId, 1)]), errorOf("invalid_frame", frameShape)],
	["null", "null", errorOf("invalid_frame", frameShape)],
	[
		"an unknown event",
		JSON.stringify({ event: "delete_room", data: { room_id: roomId }, id: 9 }),
		errorOf(
			"unknown_event",
			'Unknown event "delete_room"; expected join_room, send_message, leave_room, edit_message, delete_message, add_reaction, remove_reaction or typing',
			9,
		),
	],
	[
		"the event hidden under __proto__",
		`{"__proto__":{"event":"send_message","data":{"room_id":"${roomId}","text_message":"x"}},"id":"p"}`,
		errorOf(
			"unknown_event",
			'Unknown event "undefined"; expected join_room, send_message, leave_room, edit_message, delete_message, add_reaction, remove_reaction or typing',
			"p",
		),
	],
	[
		"text hidden under __proto__",
		`{"event":"send_message","id":"q","data":{"room_id":"${roomId}","__proto__":{"text_message":"x"}}}`,
		errorOf("validation_failed", "data.text_message: Invalid input: expected string, received undefined", "q"),
	],
	[
		"text_message of the wrong type",
		JSON.stringify({ event: "send_message", data: { room_id: roomId, text_message: ["hi"] }, id: "t" }),
		errorOf("validation_failed", "data.text_message: Invalid input: expected string, received array", "t"),
	],
	[
		"last_seq of the wrong type",
		JSON.stringify({ event: "join_room", data: { room_id: roomId, last_seq: "0" }, id: "l" }),
		errorOf("validation_failed", "data.last_seq: Invalid input: expected number, received string", "l"),
	],
	[
		"text over 4000 characters",
		JSON.stringify(send(roomId, "x".repeat(4001), "long")),
		errorOf("validation_failed", "data.text_message: Too big: expected string to have <=4000 characters", "long"),
	],
	[
		"a lone UTF-16 surrogate in the text",
		`{"event":"send_message","id":"u","data":{"room_id":"${roomId}","text_message":"a\\ud800b"}}`,
		errorOf("validation_failed", "data.text_message: must be well-formed Unicode (no lone surrogates)", "u"),
	],
	[
		"another room's id",
		JSON.stringify(send(otherRoomId, "sneaky", "w")),
		errorOf("wrong_room", "This socket belongs to another room", "w"),
	],
	[
		"a frame over 64 KiB",
		JSON.stringify(send(roomId, "x".repeat(70_000), "big")),
		errorOf("frame_too_large", "Frames are limited to 65536 bytes"),
	],
];

describe("bad frames over a real socket", () => {
	let watcher: Client;
	beforeAll(async () => {
		watcher = await connect(roomId, viaProtocol(tokens[1] as string));
		await watcher.request(join(roomId, "w"));
	});

	it.each(cases().map(([name], i) => [name, i] as const))("%s", async (_name, index) => {
		const [, raw, expected] = cases()[index] as [string, string | ArrayBuffer, ReturnType<typeof errorOf>];
		const s = await connect(roomId, viaProtocol(tokens[0] as string));
		s.send(raw);
		expect(await s.next()).toEqual(expected);
		// Still open and usable: it can join and send, and the watcher sees only that message.
		const joined = await s.request(join(roomId, "j"));
		expect(joined).toEqual([
			{ event: "ack", id: "j", data: { room_id: roomId, last_seq: expect.any(Number), online: online(...userIds) } },
		]);
		const sent = await s.request(send(roomId, `after ${index}`, "s"));
		const stored = sent.at(-1).data;
		expect(stored.text_message).toBe(`after ${index}`);
		expect(stored.seq).toBe(joined[0].data.last_seq + 1);
		// The watcher also hears presence when this user first comes online (not the subject here).
		await watcher.until(() => watcher.events.some((e) => e.event === "new_message"), "the message");
		expect(watcher.events.splice(0).filter((e) => e.event !== "presence")).toEqual([{ event: "new_message", data: stored }]);
		expect(s.closed).toBeNull();
		s.close();
	});

	it("all of them back to back on one socket, then a good frame", async () => {
		const s = await connect(roomId, viaProtocol(tokens[0] as string));
		const all = cases();
		for (const [, raw] of all) s.send(raw);
		const errors = await s.take(all.length);
		expect(errors).toEqual(all.map(([, , expected]) => expected));
		expect((await s.request(join(roomId, "ok")))[0].event).toBe("ack");
		s.close();
	});
});

describe("very large frames", () => {
	it("a 2 MiB frame is refused with frame_too_large and the socket stays usable", async () => {
		const s = await connect(roomId, viaProtocol(tokens[0] as string));
		s.send(JSON.stringify(send(roomId, "x".repeat(2 * 1024 * 1024), "huge")));
		expect(await s.next()).toEqual(errorOf("frame_too_large", "Frames are limited to 65536 bytes"));
		expect((await s.request(join(roomId, "j"))).at(-1).event).toBe("ack");
		expect(s.closed).toBeNull();
		s.close();
	});
});

describe("heartbeat", () => {
	it('{"event":"ping"} is answered with {"event":"pong"}, before and after join', async () => {
		const s = await connect(roomId, viaProtocol(tokens[0] as string));
		s.send('{"event":"ping"}');
		await s.until(() => s.frames.length === 1, "pong");
		expect(s.frames).toEqual(['{"event":"pong"}']);
		await s.request(join(roomId, "j"));
		s.send('{"event":"ping"}');
		await s.until(() => s.frames.length === 3, "pong");
		expect(s.frames[2]).toBe('{"event":"pong"}');
		s.close();
	});

	it("only the exact text is a heartbeat; a spaced variant is an unknown event", async () => {
		const s = await connect(roomId, viaProtocol(tokens[0] as string));
		s.send('{ "event": "ping" }');
		expect(await s.next()).toEqual(
			errorOf(
				"unknown_event",
				'Unknown event "ping"; expected join_room, send_message, leave_room, edit_message, delete_message, add_reaction, remove_reaction or typing',
			),
		);
		s.close();
	});
});

describe("rate limit", () => {
	it("past a burst of 40 frames they get rate_limited, the socket stays open, and the rest of the room is unaffected", async () => {
		const t = await tenant(2);
		const r = await room(t, {});
		const s = await connect(r.id, viaProtocol(t.users[0]?.token as string));
		const other = await connect(r.id, viaProtocol(t.users[1]?.token as string));
		const total = 150;
		const started = Date.now();
		for (let i = 1; i <= total; i++) s.send(send(r.id, `m${i}`, i));
		await s.until(() => s.events.length >= total, `${total} answers`);
		const elapsed = Date.now() - started;
		const acks = s.events.filter((e) => e.event === "ack");
		const limited = s.events.filter((e) => e.event === "error");
		// The burst of 40, plus the tokens that came back at 20/s while the frames were arriving.
		expect(acks.length).toBeGreaterThanOrEqual(40);
		expect(acks.length).toBeLessThanOrEqual(40 + Math.ceil((elapsed / 1000) * 20) + 1);
		expect(limited.length).toBeGreaterThan(0);
		// Each refusal echoes the id of the request it refuses.
		const answered = new Set([...acks, ...limited].map((e) => e.id));
		expect(answered.size).toBe(total);
		expect(limited).toEqual(
			limited.map((e) => ({ event: "error", id: e.id, data: { code: "rate_limited", message: "Too many frames, slow down" } })),
		);
		expect(limited.every((e) => typeof e.id === "number" && e.id > 40)).toBe(true);
		// The first 40 are never limited.
		expect(s.events.slice(0, 40).every((e) => e.event === "ack")).toBe(true);
		expect(acks.map((e) => e.data.seq)).toEqual(Array.from({ length: acks.length }, (_, i) => i + 1));
		expect(s.closed).toBeNull();
		expect((await other.request(send(r.id, "fine", "o"))).at(-1).data.seq).toBe(acks.length + 1);
		s.close();
		other.close();
	});
});
