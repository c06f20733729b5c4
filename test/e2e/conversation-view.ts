// What a client of the property test sees: a socket that hands every server event to a listener
// from its first frame, and a room's messages materialised from the logged events it received.
import WebSocket from "ws";
import type { ServerEvent } from "./ws-client";

/** The logged kinds: every stored change of a room, numbered by the room's `seq`. */
export const LOGGED = new Set(["new_message", "message_updated", "message_deleted", "reaction_added", "reaction_removed"]);

/** One message as the test compares it across sockets, REST and the model. */
export interface MessageState {
	id: string;
	seq: number;
	user_id: string;
	text_message: string;
	deleted: boolean;
	reactions: Record<string, number>;
	version: number;
	reply_to: string | null;
	reply_count: number;
}

/** A REST (or event) message object in the compared shape; `reply_count` as the server says it. */
// biome-ignore lint/suspicious/noExplicitAny: black-box tests read arbitrary JSON and assert on it exactly
export const stateOf = (m: any): MessageState => ({
	id: m.id,
	seq: m.seq,
	user_id: m.user_id,
	text_message: m.text_message,
	deleted: m.deleted_at !== undefined,
	reactions: m.reactions ?? {},
	version: m.version ?? 1,
	reply_to: m.reply_to ?? null,
	reply_count: m.reply_count ?? 0,
});

/**
 * One room as a socket saw it: events applied in `seq` order, each exactly the next one (a gap, a
 * duplicate or a reordering is recorded as a violation, never silently absorbed).
 */
export class RoomView {
	lastSeq = 0;
	private readonly messages = new Map<string, Omit<MessageState, "reply_count">>();

	constructor(
		readonly roomId: string,
		private readonly violations: string[],
		private readonly label: string,
	) {}

	/** Applies one logged event; false (and a violation recorded) when it is not the next one. */
	apply(e: ServerEvent): boolean {
		const seq = e.data?.seq as number;
		const roomId = e.event === "message_updated" ? e.data?.message?.room_id : e.data?.room_id;
		if (roomId !== this.roomId) return this.violate(`${e.event} for room ${roomId} in the view of ${this.roomId}`);
		if (seq !== this.lastSeq + 1) return this.violate(`${e.event} seq ${seq} after seq ${this.lastSeq}`);
		this.lastSeq = seq;
		if (e.event === "new_message") {
			if (this.messages.has(e.data.id)) return this.violate(`new_message ${e.data.id} twice`);
			// Reactions start empty: each one is an event after the message's own, so the view
			// builds them from those events alone (a replayed message already shows today's counts).
			this.messages.set(e.data.id, { ...stateOf(e.data), reactions: {} });
			return true;
		}
		const id = e.event === "message_updated" ? e.data.message.id : e.data.message_id;
		const message = this.messages.get(id);
		if (!message) return this.violate(`${e.event} at seq ${seq} for unknown message ${id}`);
		if (e.event === "message_updated") {
			message.text_message = e.data.message.text_message;
			message.version = e.data.message.version ?? 1;
			message.deleted = e.data.message.deleted_at !== undefined;
		} else if (e.event === "message_deleted") {
			message.deleted = true;
			message.text_message = "";
			message.reactions = {};
		} else message.reactions = { ...e.data.reactions };
		return true;
	}

	/**
	 * The room's messages in `seq` order. `reply_count` is derived from the replies' `reply_to`:
	 * the room bumps a parent's count when a reply is appended (src/room/message-log.ts, `append`)
	 * but logs no event for the parent, so a live socket never hears the parent's new count, while
	 * a replayed `new_message` shows the count as it is now (later replies included). Counting the
	 * replies a socket saw gives the same answer both ways.
	 */
	snapshot(): MessageState[] {
		const replies = new Map<string, number>();
		for (const m of this.messages.values()) if (m.reply_to) replies.set(m.reply_to, (replies.get(m.reply_to) ?? 0) + 1);
		return [...this.messages.values()].map((m) => ({ ...m, reply_count: replies.get(m.id) ?? 0 })).sort((a, b) => a.seq - b.seq);
	}

	private violate(what: string): false {
		this.violations.push(`${this.label}: ${what}`);
		return false;
	}
}

export interface Connection {
	ws: WebSocket;
	/** Sends a frame with a fresh id; resolves with the `ack` or `error` that answers it. */
	request(event: string, data: unknown, timeoutMs?: number): Promise<ServerEvent>;
	close(): Promise<void>;
}

/**
 * Opens a socket with the JWT beside `roomkit.v1`. `onEvent` is attached before the upgrade
 * completes, so it sees the `ready` frame and anything sent in the same TCP segment after it.
 */
export function connect(url: string, token: string, onEvent: (e: ServerEvent) => void): Promise<Connection> {
	const ws = new WebSocket(url, ["roomkit.v1", token]);
	const pending = new Map<number, (e: ServerEvent) => void>();
	let nextId = 1;
	ws.on("message", (payload) => {
		for (const line of payload.toString().split("\n")) {
			if (!line.startsWith('{"event":"') || line.startsWith('{"event":"pong"')) continue;
			const event = JSON.parse(line) as ServerEvent;
			const answer = (event.event === "ack" || event.event === "error") && typeof event.id === "number" && pending.get(event.id);
			if (answer) {
				pending.delete(event.id as number);
				answer(event);
			} else onEvent(event);
		}
	});
	const connection: Connection = {
		ws,
		request(event, data, timeoutMs = 15_000) {
			const id = nextId++;
			return new Promise((resolve, reject) => {
				const timer = setTimeout(() => {
					pending.delete(id);
					reject(new Error(`no answer to ${event} ${JSON.stringify(data)} within ${timeoutMs} ms`));
				}, timeoutMs);
				pending.set(id, (e) => {
					clearTimeout(timer);
					resolve(e);
				});
				ws.send(JSON.stringify({ event, data, id }));
			});
		},
		close: () =>
			new Promise((resolve) => {
				if (ws.readyState === WebSocket.CLOSED) return resolve();
				ws.once("close", () => resolve());
				ws.close(1000);
			}),
	};
	return new Promise((resolve, reject) => {
		ws.once("open", () => resolve(connection));
		ws.once("unexpected-response", (_req, res) => {
			reject(new Error(`upgrade refused with ${res.statusCode}`));
			ws.terminate();
		});
		ws.once("error", reject);
	});
}
