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
	/** Who is online in the room, as the server last heard (in `ready`; absent for rooms above the presence cap). */
	online?: string[];
}

/** A user came online in a room (their first socket joined it) or went offline (a grace period after their last left). */
export interface Presence {
	room_id: string;
	user_id: string;
	online: boolean;
	last_active_at: string;
}

export type ReactionCounts = Record<string, number>;

/** A change in a room's log other than a new message, as the SDK hands it on. */
export interface MessageUpdated {
	message: ChatMessage;
	seq: number;
}
export interface MessageDeleted {
	room_id: string;
	message_id: string;
	seq: number;
}
export interface ReactionChanged {
	room_id: string;
	message_id: string;
	user_id: string;
	type: string;
	reactions: ReactionCounts;
	seq: number;
}

/** Every stored change of a room, numbered by one `seq`. */
export type LogEvent =
	| { seq: number; event: "new_message"; data: ChatMessage }
	| { seq: number; event: "message_updated"; data: MessageUpdated }
	| { seq: number; event: "message_deleted"; data: MessageDeleted }
	| { seq: number; event: "reaction_added" | "reaction_removed"; data: ReactionChanged };

const LOGGED = new Set(["new_message", "message_updated", "message_deleted", "reaction_added", "reaction_removed"]);

export type ServerEvent =
	| { event: "pong" }
	| { event: "log"; entry: LogEvent }
	| { event: "typing"; data: { room_id: string; user_ids: string[] } }
	| { event: "read_receipt"; data: { room_id: string; user_id: string; last_read_seq: number } }
	| { event: "presence"; data: Presence }
	| { event: "ready"; data: { user_id: string; rooms: RoomState[]; unread_total: number } }
	| { event: "inbox_update"; data: { room_id: string; last_seq: number; unread: number; message: ChatMessage | null } }
	| { event: "read"; data: { room_id: string; last_read_seq: number; unread: number } }
	| { event: "room_removed"; data: { room_id: string } }
	| { event: "ack"; id?: string | number; data: Record<string, unknown> }
	| { event: "error"; id?: string | number; data: { code: RoomErrorCode; message: string; retry_after_ms?: number } };

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
		else if (typeof value.event === "string" && LOGGED.has(value.event) && isObject(data)) {
			const seq = value.event === "new_message" ? data.seq : data.seq;
			if (value.event === "new_message" && !isMessage(data)) continue;
			if (Number.isInteger(seq)) events.push({ event: "log", entry: { seq, event: value.event, data } as unknown as LogEvent });
		} else if (value.event === "typing" && isObject(data) && Array.isArray(data.user_ids)) {
			events.push({ event: "typing", data: data as unknown as { room_id: string; user_ids: string[] } });
		} else if (value.event === "read_receipt" && isObject(data) && typeof data.user_id === "string") {
			events.push({ event: "read_receipt", data: data as unknown as { room_id: string; user_id: string; last_read_seq: number } });
		} else if (value.event === "presence" && isObject(data) && typeof data.user_id === "string" && typeof data.online === "boolean") {
			events.push({ event: "presence", data: data as unknown as Presence });
		} else if (value.event === "ready" && isObject(data) && Array.isArray(data.rooms) && typeof data.unread_total === "number") {
			events.push({ event: "ready", data: data as unknown as Extract<ServerEvent, { event: "ready" }>["data"] });
		} else if (value.event === "inbox_update" && isObject(data) && typeof data.room_id === "string" && typeof data.unread === "number") {
			events.push({ event: "inbox_update", data: data as unknown as Extract<ServerEvent, { event: "inbox_update" }>["data"] });
		} else if (value.event === "read" && isObject(data) && typeof data.room_id === "string" && typeof data.unread === "number") {
			events.push({ event: "read", data: data as unknown as Extract<ServerEvent, { event: "read" }>["data"] });
		} else if (value.event === "room_removed" && isObject(data) && typeof data.room_id === "string") {
			events.push({ event: "room_removed", data: { room_id: data.room_id } });
		} else if (value.event === "ack" && isObject(data)) events.push({ event: "ack", id, data });
		else if (value.event === "error" && isObject(data) && typeof data.code === "string" && typeof data.message === "string") {
			events.push({ event: "error", id, data: { code: data.code as RoomErrorCode, message: data.message } });
		}
	}
	return events;
}

export const isStoredMessage = isMessage;

/** A join ack as the SDK hands it on (`joined`). */
export const joinedOf = (roomId: string, data: Record<string, unknown>) => ({
	room_id: roomId,
	last_seq: data.last_seq as number,
	online: Array.isArray(data.online) ? data.online.filter((id): id is string => typeof id === "string") : [],
});
