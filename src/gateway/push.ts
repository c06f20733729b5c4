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
 * A room's news for one gateway: its last seq, its latest messages (ascending, contiguous, ending at
 * `last_seq`; possibly starting after what the gateway has: the gateway reads any gap from the
 * room), the read state of its members on that gateway, and members removed since the last push.
 */
export interface RoomPush {
	room_id: string;
	last_seq: number;
	messages: MessageT[];
	inbox: InboxEntry[];
	removed: string[];
}

/** Who asks a room for something on a user's behalf: the Worker or gateway checked the credentials. */
export interface Caller {
	clientId: string;
	userId: string;
}

export type Refusal = { ok: false; code: "not_found" | "forbidden" | "rate_limited" };

export type ReadResult = { ok: true; room_id: string; last_seq: number; last_read_seq: number; unread: number } | Refusal;
export type SubscribeResult = { ok: true; last_seq: number } | Refusal;
export type RangeResult = { ok: true; messages: MessageT[] } | Refusal;
export type RoomSendResult = { ok: true; message: MessageT; created: boolean } | Refusal;

/** A room as a gateway sees it. */
export interface RoomPort {
	subscribe(caller: Caller, gateway: string): Promise<SubscribeResult>;
	unsubscribe(gateway: string): Promise<void>;
	range(caller: Caller, afterSeq: number, limit: number): Promise<RangeResult>;
	sendAs(caller: Caller, text: string, clientMsgId?: string): Promise<RoomSendResult>;
	markRead(caller: Caller, seq: number): Promise<ReadResult>;
}

/** A gateway as a room sees it. */
export interface GatewayPort {
	deliver(push: RoomPush): Promise<void>;
}
