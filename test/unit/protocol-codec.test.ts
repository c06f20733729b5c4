import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
	createDecoder,
	createGatewayDecoder,
	encodeAck,
	encodeError,
	encodeNewMessage,
	requestIdOf,
	splitFrame,
} from "../../src/protocol/codec";
import { ROOM_EVENTS, ServerEvent } from "../../src/protocol/frames";
import { GATEWAY_EVENTS } from "../../src/protocol/gateway-frames";

const ROOM = "0190a000-0000-7000-8000-00000000aaaa";
const decode = createDecoder(4000, 64 * 1024);
const decodeGateway = createGatewayDecoder(4000, 64 * 1024);
const message = {
	id: "0190b000-0000-7000-8000-000000000001",
	room_id: ROOM,
	seq: 1,
	user_id: "0190c000-0000-7000-8000-000000000001",
	text_message: 'quotes " and \n newlines \u2028 and emoji 🎉',
	created_at: "2026-11-24T06:00:00.000Z",
};

const uuid = fc.uuid();
const wellFormedText = (maxLength: number) => fc.string({ unit: "grapheme", minLength: 1, maxLength }).filter((t) => t.length <= maxLength);
const requestId = fc.option(fc.oneof(fc.string({ maxLength: 128 }), fc.integer()), { nil: undefined });
// As JSON carries it: a -0 in a value arrives as 0 (toEqual tells them apart).
const metadata = fc
	.dictionary(
		fc.string({ maxLength: 10 }).filter((k) => k !== "__proto__"),
		fc.jsonValue({ maxDepth: 2 }),
		{ maxKeys: 4 },
	)
	.map((value) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>);
const reactionType = fc.oneof(fc.constantFrom("👍", "🎉", "👩‍👩‍👧‍👦", "x".repeat(32)), wellFormedText(32));
/** Frames as a client sends them; optional fields absent (not undefined) so they survive JSON. */
const frameOf = <E extends string, D extends Record<string, fc.Arbitrary<unknown>>>(
	event: E,
	data: D,
	optional: (keyof D & string)[] = [],
) =>
	fc
		.record({
			event: fc.constant(event),
			data: fc.record(data, { requiredKeys: Object.keys(data).filter((k) => !optional.includes(k)) as (keyof D)[] }),
			id: requestId,
		})
		.map(({ id, ...frame }) => (id === undefined ? frame : { ...frame, id }));
const validFrame = fc.oneof(
	frameOf("join_room", { room_id: uuid, last_seq: fc.nat() }, ["last_seq"]),
	frameOf("leave_room", { room_id: uuid }),
	frameOf(
		"send_message",
		{ room_id: uuid, text_message: wellFormedText(4000), client_msg_id: wellFormedText(128), reply_to: uuid, metadata },
		["client_msg_id", "reply_to", "metadata"],
	),
	frameOf("edit_message", { room_id: uuid, message_id: uuid, text_message: wellFormedText(4000), metadata }, ["metadata"]),
	frameOf("delete_message", { room_id: uuid, message_id: uuid }),
	frameOf("add_reaction", { room_id: uuid, message_id: uuid, type: reactionType }),
	frameOf("remove_reaction", { room_id: uuid, message_id: uuid, type: reactionType }),
	frameOf("typing", { room_id: uuid }),
	frameOf("mark_read", { room_id: uuid, seq: fc.nat() }),
);
/** Values each data field refuses. */
const badValues: Record<string, fc.Arbitrary<unknown>> = {
	room_id: fc.oneof(fc.constantFrom("", "ROOM", "0190a000-0000-7000-8000"), fc.integer(), fc.constant(null)),
	message_id: fc.oneof(fc.constantFrom("", "not-a-uuid"), fc.integer(), fc.constant(null)),
	reply_to: fc.oneof(fc.constantFrom("", "not-a-uuid"), fc.integer(), fc.constant(null)),
	text_message: fc.oneof(fc.constantFrom("", "x".repeat(4001), "lone \ud800 surrogate"), fc.integer(), fc.constant(null)),
	client_msg_id: fc.oneof(fc.constantFrom("", "x".repeat(129)), fc.integer()),
	type: fc.oneof(fc.constantFrom("", "x".repeat(33), "\udfff"), fc.integer(), fc.constant(null)),
	metadata: fc.oneof(
		fc.constant({ pad: "m".repeat(4097 - '{"pad":""}'.length) }),
		fc.array(fc.integer(), { maxLength: 3 }),
		fc.string(),
		fc.constant(null),
	),
	last_seq: fc.oneof(
		fc.integer({ max: -1 }),
		fc.double({ min: 0.5, max: 10, noNaN: true }).filter((x) => !Number.isInteger(x)),
		fc.string(),
	),
	seq: fc.oneof(fc.integer({ max: -1 }), fc.constant(1.5), fc.string(), fc.constant(null)),
};

describe("decode", () => {
	it("parses each client event", () => {
		expect(decode(JSON.stringify({ event: "join_room", data: { room_id: ROOM, last_seq: 3 }, id: 1 }))).toEqual({
			ok: true,
			frame: { event: "join_room", data: { room_id: ROOM, last_seq: 3 }, id: 1 },
		});
		expect(decode(JSON.stringify({ event: "send_message", data: { room_id: ROOM, text_message: "hi", client_msg_id: "c" } }))).toEqual({
			ok: true,
			frame: { event: "send_message", data: { room_id: ROOM, text_message: "hi", client_msg_id: "c" } },
		});
		expect(decode(JSON.stringify({ event: "leave_room", data: { room_id: ROOM }, id: "x" }))).toEqual({
			ok: true,
			frame: { event: "leave_room", data: { room_id: ROOM }, id: "x" },
		});
	});

	it("measures the cap in UTF-8 bytes: 65536 bytes pass the size check, 65537 do not", () => {
		const frame = (bytes: number) => {
			const shell = JSON.stringify({ event: "join_room", data: { room_id: ROOM }, pad: "" });
			// "é" is two bytes in UTF-8; pad with one "a" when the count is odd.
			const room = bytes - shell.length;
			return shell.replace('"pad":""', `"pad":"${"é".repeat(Math.floor(room / 2))}${"a".repeat(room % 2)}"`);
		};
		expect(new TextEncoder().encode(frame(65536)).byteLength).toBe(65536);
		expect(decode(frame(65536))).toEqual({ ok: true, frame: { event: "join_room", data: { room_id: ROOM } } });
		expect(new TextEncoder().encode(frame(65537)).byteLength).toBe(65537);
		expect(decode(frame(65537))).toEqual({ ok: false, code: "frame_too_large", message: "Frames are limited to 65536 bytes" });
	});

	it("never throws, whatever the input", () => {
		fc.assert(
			fc.property(
				fc.oneof(
					fc.string(),
					fc.json(),
					fc.jsonValue().map((v) => JSON.stringify(v)),
				),
				(raw) => {
					const result = decode(raw);
					expect(typeof result.ok).toBe("boolean");
				},
			),
			{ numRuns: 2_000 },
		);
	});

	it("never throws on frame-shaped objects with arbitrary data, on either socket's decoder", () => {
		const event = fc.constantFrom(...GATEWAY_EVENTS, "ping", "new_message", "ready", "__proto__", "constructor");
		fc.assert(
			fc.property(fc.boolean(), event, fc.anything(), fc.anything(), (userSocket, e, data, id) => {
				let raw: string;
				try {
					raw = JSON.stringify({ event: e, data, id });
				} catch {
					return;
				}
				if (raw === undefined) return;
				const result = (userSocket ? decodeGateway : decode)(raw);
				if (result.ok) expect(userSocket ? GATEWAY_EVENTS : ROOM_EVENTS).toContain(result.frame.event);
				else expect(result.code).toMatch(/^(invalid_json|invalid_frame|unknown_event|validation_failed|frame_too_large)$/);
			}),
			{ numRuns: 2_000 },
		);
	});

	it("decodes every valid conversation frame to itself; mark_read only on the user socket", () => {
		fc.assert(
			fc.property(validFrame, (frame) => {
				const raw = JSON.stringify(frame);
				expect(decodeGateway(raw)).toEqual({ ok: true, frame });
				if (frame.event === "mark_read") {
					expect(decode(raw)).toMatchObject({ ok: false, code: "unknown_event", id: frame.id });
				} else expect(decode(raw)).toEqual({ ok: true, frame });
			}),
			{ numRuns: 2_000 },
		);
	});

	it("answers a conversation frame with one bad field with validation_failed naming the field, and its request id", () => {
		fc.assert(
			fc.property(
				validFrame.chain((frame) => {
					const fields = Object.keys(frame.data).filter((key) => badValues[key] !== undefined);
					return fc.tuple(
						fc.constant(frame),
						fc.constantFrom(...fields).chain((key) => fc.tuple(fc.constant(key), badValues[key] as fc.Arbitrary<unknown>)),
					);
				}),
				([frame, [key, bad]]) => {
					const raw = JSON.stringify({ ...frame, data: { ...frame.data, [key]: bad } });
					expect(decodeGateway(raw)).toEqual({
						ok: false,
						code: "validation_failed",
						message: expect.stringMatching(new RegExp(`^data\\.${key}(\\.|:)`)),
						id: frame.id,
					});
				},
			),
			{ numRuns: 2_000 },
		);
	});
});

describe("encode", () => {
	it("new_message is the message object under data, and survives hostile text", () => {
		const encoded = encodeNewMessage(message);
		expect(encoded.includes("\n")).toBe(false);
		expect(JSON.parse(encoded)).toEqual({ event: "new_message", data: message });
		expect(ServerEvent.parse(JSON.parse(encoded))).toEqual({ event: "new_message", data: message });
	});

	it("ack and error carry id only when the request had one", () => {
		expect(encodeAck(undefined, { room_id: ROOM, last_seq: 0 })).toBe(`{"event":"ack","data":{"room_id":"${ROOM}","last_seq":0}}`);
		expect(encodeAck(0, { room_id: ROOM })).toBe(`{"event":"ack","id":0,"data":{"room_id":"${ROOM}"}}`);
		expect(encodeError("wrong_room", "no", "r")).toBe('{"event":"error","id":"r","data":{"code":"wrong_room","message":"no"}}');
		expect(encodeError("invalid_json", "bad")).toBe('{"event":"error","data":{"code":"invalid_json","message":"bad"}}');
	});

	it("splitFrame undoes a `\\n`-joined batch, whatever the messages contain", () => {
		fc.assert(
			fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 20 }), (texts) => {
				const messages = texts.map((text_message, i) => ({ ...message, seq: i + 1, text_message }));
				expect(splitFrame(messages.map(encodeNewMessage).join("\n"))).toEqual(messages.map((data) => ({ event: "new_message", data })));
			}),
		);
	});
});

describe("requestIdOf", () => {
	it("reads only a valid id, and never throws", () => {
		expect(requestIdOf('{"event":"x","id":"a"}', 1024)).toBe("a");
		expect(requestIdOf('{"id":0}', 1024)).toBe(0);
		expect(requestIdOf('{"id":{"a":1}}', 1024)).toBeUndefined();
		expect(requestIdOf(`{"id":"${"x".repeat(129)}"}`, 1024)).toBeUndefined();
		expect(requestIdOf('[{"id":1}]', 1024)).toBeUndefined();
		expect(requestIdOf('{"id":1', 1024)).toBeUndefined();
		expect(requestIdOf('{"id":1}', 7)).toBeUndefined();
		expect(requestIdOf(new ArrayBuffer(8), 1024)).toBeUndefined();
		fc.assert(fc.property(fc.string(), (raw) => void requestIdOf(raw, 1024)));
	});
});
