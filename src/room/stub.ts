import type { Env } from "../env";
import type { Caller, ReadResult, RoomChange, RoomChangeResult } from "../gateway/push";
import type { MessageT } from "../schemas/message";
import type { RoomMeta } from "./membership";
import type { HistoryRange, RoomEvent } from "./message-log";
import type { ChangeResult, SendInput, SendResult } from "./room-core";
import type { RoomSummary } from "./room-inbox";

/** The room's Durable Object: one per room id, the single writer of its messages. */
export const roomStub = (env: Env, roomId: string) => env.ROOMS.get(env.ROOMS.idFromName(roomId));

/** Header carrying the identity the Worker verified to the room object (never taken from a client). */
export const IDENTITY_HEADER = "X-Roomkit-Identity";

/** Header the Worker sets to "1" when the room is private: the object then confirms membership after accepting. */
export const MEMBERS_ONLY_HEADER = "X-Roomkit-Members-Only";

/**
 * The room object's RPC methods the Worker calls, with plain types: workerd's RPC typing turns
 * `Record<string, unknown>` (message metadata) into `never`, so the stub is seen through this.
 */
export interface RoomRpc {
	send(input: SendInput & { clientId: string }): Promise<SendResult>;
	history(range: HistoryRange): Promise<MessageT[]>;
	events(afterSeq: number, limit: number): Promise<RoomEvent[]>;
	message(id: string): Promise<MessageT | null>;
	/** `fromRest`: a REST call, which takes from the per-user REST write budget (the gateway limits its own frames). */
	change(caller: Caller, change: RoomChange, fromRest?: boolean): Promise<RoomChangeResult>;
	deleteAsBackend(clientId: string, messageId: string): Promise<ChangeResult>;
	versions(
		messageId: string,
	): Promise<Array<{ version: number; text_message: string; metadata?: Record<string, unknown>; at: string }> | null>;
	replies(messageId: string, afterSeq: number, limit: number): Promise<MessageT[] | null>;
	markRead(caller: Caller, seq: number): Promise<ReadResult>;
	reads(clientId: string): Promise<Array<{ user_id: string; last_read_seq: number }>>;
	presence(clientId: string): Promise<Array<{ user_id: string; online: boolean; last_active_at: string | null }>>;
	summary(caller: Caller): Promise<({ ok: true } & RoomSummary) | { ok: false; code: "not_found" | "forbidden" | "banned" }>;
	/** After the directory changed a user's role, ban or mute in the room. */
	standingChanged(meta: RoomMeta, userId: string): Promise<void>;
	/** After the directory changed the room's settings (slow mode). */
	settingsChanged(meta: RoomMeta): Promise<void>;
	/** Closes the user's room sockets (4003). */
	disconnectUser(userId: string): Promise<void>;
}

export const roomRpc = (env: Env, roomId: string) => roomStub(env, roomId) as unknown as RoomRpc;
