import type { ChatMessage, RoomErrorCode } from "../types";

/**
 * The room protocol as the SDK speaks it (the server's zod schemas in src/protocol/frames.ts
 * are the reference; these literals are repeated so the bundle carries no zod).
 */
export const PROTOCOL_LABEL = "roomkit.v1";
export const PING = '{"event":"ping"}';
export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_REMOVED = 4003;

/** A room as the user socket's room list reports it. */
export interface RoomState {
	room_id: string;
	last_seq: number;
	last_read_seq: number;
	unread: number;
}

export type ServerEvent =
	| { event: "pong" }
	| { event: "ready"; data: { user_id: string; rooms: RoomState[]; unread_total: number } }
	| { event: "inbox_update"; data: { room_id: string; last_seq: number; unread: number; message: ChatMessage | null } }
	| { event: "read"; data: { room_id: string; last_read_seq: number; unread: number } }
	| { event: "room_removed"; data: { room_id: string } }
	| { event: "new_message"; data: ChatMessage }
	| { event: "ack"; id?: string | number; data: Record<string, unknown> }
	| { event: "error"; id?: string | number; data: { code: RoomErrorCode; message: string } };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

const isMessage = (value: unknown): value is ChatMessage =>
	isObject(value) &&
	typeof value.id === "string" &&
	typeof value.room_id === "string" &&
	typeof value.user_id === "string" &&
	typeof value.text_message === "string" &&
	typeof value.created_at === "string" &&
	Number.isInteger(value.seq);

/** Splits a server frame (events joined by `\n`) into the events the SDK understands; the rest is dropped. */
export function parseServerFrame(frame: string): ServerEvent[] {
	const events: ServerEvent[] = [];
	for (const line of frame.split("\n")) {
		if (line === "") continue;
		let value: unknown;
		try {
			value = JSON.parse(line);
		} catch {
			continue;
		}
		if (!isObject(value)) continue;
		const id = typeof value.id === "string" || typeof value.id === "number" ? value.id : undefined;
		const data = value.data;
		if (value.event === "pong") events.push({ event: "pong" });
		else if (value.event === "ready" && isObject(data) && Array.isArray(data.rooms) && typeof data.unread_total === "number") {
			events.push({ event: "ready", data: data as unknown as Extract<ServerEvent, { event: "ready" }>["data"] });
		} else if (value.event === "inbox_update" && isObject(data) && typeof data.room_id === "string" && typeof data.unread === "number") {
			events.push({ event: "inbox_update", data: data as unknown as Extract<ServerEvent, { event: "inbox_update" }>["data"] });
		} else if (value.event === "read" && isObject(data) && typeof data.room_id === "string" && typeof data.unread === "number") {
			events.push({ event: "read", data: data as unknown as Extract<ServerEvent, { event: "read" }>["data"] });
		} else if (value.event === "room_removed" && isObject(data) && typeof data.room_id === "string") {
			events.push({ event: "room_removed", data: { room_id: data.room_id } });
		} else if (value.event === "new_message" && isMessage(data)) events.push({ event: "new_message", data });
		else if (value.event === "ack" && isObject(data)) events.push({ event: "ack", id, data });
		else if (value.event === "error" && isObject(data) && typeof data.code === "string" && typeof data.message === "string") {
			events.push({ event: "error", id, data: { code: data.code as RoomErrorCode, message: data.message } });
		}
	}
	return events;
}

export const isStoredMessage = isMessage;
