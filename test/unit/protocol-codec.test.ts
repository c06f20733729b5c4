import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createDecoder, encodeAck, encodeError, encodeNewMessage, requestIdOf, splitFrame } from "../../src/protocol/codec";
import { ServerEvent } from "../../src/protocol/frames";

const ROOM = "0190a000-0000-7000-8000-00000000aaaa";
const decode = createDecoder(4000, 64 * 1024);
const message = {
	id: "0190b000-0000-7000-8000-000000000001",
	room_id: ROOM,
	seq: 1,
	user_id: "0190c000-0000-7000-8000-000000000001",
	text_message: 'quotes " and \n newlines \u2028 and emoji 🎉',
	created_at: "2026-11-24T06:00:00.000Z",
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

	it("never throws on frame-shaped objects with arbitrary data", () => {
		const event = fc.constantFrom("join_room", "send_message", "leave_room", "ping", "__proto__", "constructor");
		fc.assert(
			fc.property(event, fc.anything(), fc.anything(), (e, data, id) => {
				let raw: string;
				try {
					raw = JSON.stringify({ event: e, data, id });
				} catch {
					return;
				}
				if (raw === undefined) return;
				const result = decode(raw);
				if (result.ok) expect(["join_room", "send_message", "leave_room"]).toContain(result.frame.event);
				else expect(result.code).toMatch(/^(invalid_json|invalid_frame|unknown_event|validation_failed|frame_too_large)$/);
			}),
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
