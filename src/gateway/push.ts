import type { RoomEvent } from "../room/message-log";
import type { MessageT } from "../schemas/message";

/**
 * What a room tells a gateway object, and what a gateway asks of a room. Plain data over RPC
 * (Durable Objects) or plain calls (one process): no callbacks, no sockets between objects.
 */

/** One member's place in the room, computed by the room from its log when the push was built. */
export interface InboxEntry {
	user_id: string;
	last_read_seq: number;
	unread: number;
}

/**
 * One stored event as a push carries it: its `seq` and its frame, encoded once by the room for
 * every gateway of the flush. A string crosses an RPC as a copy, where the event as an object would
 * be serialised field by field once per gateway, and the gateway sends it to its sockets as it is.
 */
export interface PushedEvent {
	seq: number;
	frame: string;
}

/**
 * A room's news for one gateway: its last seq, its latest events (ascending, contiguous, ending at
 * `last_seq`; possibly starting after what the gateway has: the gateway reads any gap from the
 * room), its newest message (for room lists), the read state of its members on that gateway, and
 * members removed since the last push.
 */
export interface RoomPush {
	room_id: string;
	last_seq: number;
	events: PushedEvent[];
	latest: MessageT | null;
	inbox: InboxEntry[];
	/** Removed from a private room: access ends (`room_removed`). */
	removed: string[];
	/** Left a public room: it leaves their room list only. */
	left: string[];
	/** Who is online in the room (for `ready`); null when the room is above the presence cap. */
	online?: string[] | null;
	/**
	 * Nothing up to this seq is owed to the gateway: the room's pushes through it were answered (so
	 * each socket joined then was sent them) and a socket that joined since started after it. A
	 * gateway whose stored cursor is lower lost a lazy cursor write in a restart (the sockets
	 * survived it, as hibernatable ones do) and skips to it instead of reading a "gap" it already
	 * sent. Absent in a wake's answer and from rooms of an earlier release: nothing is skipped.
	 */
	settled_through?: number;
}

/**
 * A gateway's answer to a push: the members in it with no socket there (`idle`), whose room-list
 * state the room stops sending until the gateway calls `wake` for them. `token` orders these
 * answers against wakes: the room ignores an `idle` older than the user's last wake.
 */
export interface DeliverReply {
	idle: string[];
	token: number;
}

/** A change to a message, asked on a user's behalf. */
export type RoomChange =
	| { kind: "edit"; messageId: string; text: string; metadata?: Record<string, unknown> }
	| { kind: "delete"; messageId: string }
	| { kind: "react"; messageId: string; type: string; add: boolean };

/** Who asks a room for something on a user's behalf: the Worker or gateway checked the credentials. */
export interface Caller {
	clientId: string;
	userId: string;
}

/** A room's refusal; `retryAfterMs` when slow mode refused a send. */
export type Refusal = {
	ok: false;
	code: "not_found" | "forbidden" | "rate_limited" | "message_deleted" | "banned" | "muted" | "too_many_versions";
	retryAfterMs?: number;
};

export type ReadResult = { ok: true; room_id: string; last_seq: number; last_read_seq: number; unread: number } | Refusal;
/** `typing`: who is typing in the room now, so a socket that joins late sees it too; `online`: who is online (the caller too). */
export type SubscribeResult = { ok: true; last_seq: number; typing: string[]; online: string[] } | Refusal;
export type RangeResult = { ok: true; events: RoomEvent[] } | Refusal;
export type RoomSendResult = { ok: true; message: MessageT; created: boolean } | Refusal;
export type RoomChangeResult = { ok: true; data: unknown } | Refusal;

/** One `send_message` a gateway hands to a room. */
export interface QueuedSend {
	caller: Caller;
	text: string;
	options?: SendOptions;
}

export interface SendOptions {
	clientMsgId?: string;
	replyTo?: string;
	metadata?: Record<string, unknown>;
}

/** A room as a gateway sees it. */
export interface RoomPort {
	/** A socket of the caller on `gateway` joins the room (the caller is then online in it). */
	subscribe(caller: Caller, gateway: string): Promise<SubscribeResult>;
	/** The user has no socket joined to the room on `gateway` any more (no user: none of its users has). */
	unsubscribe(gateway: string, userId?: string): Promise<void>;
	range(caller: Caller, afterSeq: number, limit: number): Promise<RangeResult>;
	/** A gateway's sends in one call, stored in this order (one answer each, in the same order). */
	sendMany(sends: QueuedSend[]): Promise<RoomSendResult[]>;
	change(caller: Caller, change: RoomChange): Promise<RoomChangeResult>;
	/** The caller's socket on a gateway that joined the room is typing. */
	typing(caller: Caller): Promise<void>;
	markRead(caller: Caller, seq: number): Promise<ReadResult>;
	/**
	 * The caller has a socket again on gateway `gateway`: the room resumes their room-list state
	 * (it stopped when that gateway said they were idle) and answers it now, as a push.
	 */
	wake(caller: Caller, gateway: string, token: number): Promise<RoomPush>;
}

/** A gateway as a room sees it. */
export interface GatewayPort {
	deliver(push: RoomPush): Promise<DeliverReply | undefined>;
	/**
	 * Ephemeral (typing, read receipts, presence): to the sockets that joined the room, never
	 * stored, never retried; `room_online` (presence) is the room's online set, kept for `ready`.
	 */
	signal(roomId: string, event: string, data: { room_id: string; except_user_id?: string } & Record<string, unknown>): Promise<void>;
}
