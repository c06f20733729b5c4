import type { z } from "zod";
import type { MessageT } from "../schemas/message";
import { type ClientFrameT, clientFrame, type ProtocolErrorCodeT, RequestId, ROOM_EVENTS } from "./frames";
import { GATEWAY_EVENTS, type GatewayFrameT, gatewayFrame } from "./gateway-frames";

export type DecodeResult<F = ClientFrameT> =
	| { ok: true; frame: F }
	| { ok: false; code: ProtocolErrorCodeT; message: string; id?: string | number };

const encoder = new TextEncoder();
const utf8Length = (text: string) => encoder.encode(text).byteLength;

/** Decodes one room-socket frame. Never throws: every bad input becomes an error with a stable code. */
export function createDecoder(maxLength: number, maxFrameBytes: number) {
	return frameDecoder<ClientFrameT>(clientFrame(maxLength), ROOM_EVENTS, maxFrameBytes);
}

/** Decodes one user-socket (`/ws`) frame: the room socket's events plus `mark_read`. */
export function createGatewayDecoder(maxLength: number, maxFrameBytes: number) {
	return frameDecoder<GatewayFrameT>(gatewayFrame(maxLength), GATEWAY_EVENTS, maxFrameBytes);
}

function frameDecoder<F>(schema: z.ZodType<F>, events: readonly string[], maxFrameBytes: number) {
	const expected = `${events.slice(0, -1).join(", ")} or ${events[events.length - 1]}`;
	return (raw: string | ArrayBuffer): DecodeResult<F> => {
		if (typeof raw !== "string") {
			return { ok: false, code: "binary_not_supported", message: "Frames must be JSON text" };
		}
		// A UTF-16 code unit takes 1 to 3 UTF-8 bytes, so only frames in between need encoding to be measured.
		if (raw.length > maxFrameBytes || (raw.length * 3 > maxFrameBytes && utf8Length(raw) > maxFrameBytes)) {
			return { ok: false, code: "frame_too_large", message: `Frames are limited to ${maxFrameBytes} bytes` };
		}
		let value: unknown;
		try {
			value = JSON.parse(raw);
		} catch {
			return { ok: false, code: "invalid_json", message: "Frame is not valid JSON" };
		}
		if (typeof value !== "object" || value === null || Array.isArray(value)) {
			return { ok: false, code: "invalid_frame", message: 'A frame is an object {"event", "data", "id"?}' };
		}
		const record = value as Record<string, unknown>;
		const id = RequestId.safeParse(record.id);
		const requestId = id.success ? id.data : undefined;
		if (typeof record.event !== "string" || !events.includes(record.event)) {
			return {
				ok: false,
				code: "unknown_event",
				message: `Unknown event ${JSON.stringify(String(record.event)).slice(0, 80)}; expected ${expected}`,
				id: requestId,
			};
		}
		const parsed = schema.safeParse(value);
		if (!parsed.success) {
			const issue = parsed.error.issues[0];
			const where = issue ? `${issue.path.join(".") || "frame"}: ${issue.message}` : "invalid frame";
			return { ok: false, code: "validation_failed", message: where, id: requestId };
		}
		return { ok: true, frame: parsed.data };
	};
}

/**
 * The request id of a frame that will not be handled (rate limited), so the client can match the
 * refusal to its request. Only the id is read; nothing is validated. Never throws.
 */
export function requestIdOf(raw: string | ArrayBuffer, maxFrameBytes: number): string | number | undefined {
	if (typeof raw !== "string" || raw.length > maxFrameBytes || !raw.includes('"id"')) return undefined;
	try {
		const value: unknown = JSON.parse(raw);
		if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
		const id = RequestId.safeParse((value as Record<string, unknown>).id);
		return id.success ? id.data : undefined;
	} catch {
		return undefined;
	}
}

/** Encoders for server events. `new_message` text is built once per message and shared by every socket. */
export const encodeNewMessage = (message: MessageT) => `{"event":"new_message","data":${JSON.stringify(message)}}`;

export const encodeAck = (id: string | number | undefined, data: unknown) =>
	JSON.stringify(id === undefined ? { event: "ack", data } : { event: "ack", id, data });

/** An error frame; `details` (slow mode's `retry_after_ms`) go beside `code` and `message`. */
export const encodeError = (code: ProtocolErrorCodeT, message: string, id?: string | number, details?: Record<string, unknown>) => {
	const data = { code, message, ...details };
	return JSON.stringify(id === undefined ? { event: "error", data } : { event: "error", id, data });
};

/** Splits a server frame into its events (the SDK and tests use this). */
export const splitFrame = (frame: string): unknown[] =>
	frame
		.split("\n")
		.filter((line) => line.length > 0)
		.map((line) => JSON.parse(line) as unknown);

/** Any other server event without a request id (`ready`, `inbox_update`, `read`, `room_removed`). */
export const encodeEvent = (event: string, data: unknown) => `{"event":${JSON.stringify(event)},"data":${JSON.stringify(data)}}`;
