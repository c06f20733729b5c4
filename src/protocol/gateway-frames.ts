import { z } from "zod";
import { Id } from "../schemas/common";
import { Message } from "../schemas/message";
import { conversationFrames, OnlineIds, ProtocolError, RequestId, ROOM_EVENTS } from "./frames";

/**
 * The user socket (`GET /ws`): one connection for all of a user's rooms. Same frame shape and
 * error codes as the room socket; every event names its room.
 */

const seq = z.number().int().min(0);

export const MarkReadData = z.object({ room_id: Id, seq }).meta({ id: "MarkReadData" });

export const gatewayFrame = (maxLength: number) =>
	z.discriminatedUnion("event", [
		...conversationFrames(maxLength),
		z.object({ event: z.literal("mark_read"), data: MarkReadData, id: RequestId.optional() }),
	]);
export const GatewayFrame = gatewayFrame(4000);
export type GatewayFrameT = z.infer<typeof GatewayFrame>;
export const GATEWAY_EVENTS = [...ROOM_EVENTS, "mark_read"] as const;

/** A room as the user's room list shows it: where the room is, where the user read to, and how many unread. */
export const RoomState = z
	.object({
		room_id: Id,
		last_seq: seq.meta({ description: "The room's last seq" }),
		last_read_seq: seq.meta({ description: "The user's read position (mark_read)" }),
		unread: z.number().int().min(0).meta({ description: "Messages after last_read_seq not sent by this user" }),
	})
	.meta({ id: "RoomState" });
export type RoomStateT = z.infer<typeof RoomState>;

/** A room in `ready`: `online` as the room last told the gateway (absent when unknown, or the room is above its presence cap). */
export const ReadyRoom = RoomState.extend({ online: OnlineIds.optional() }).meta({ id: "ReadyRoom" });
export const ReadyData = z
	.object({ user_id: Id, rooms: z.array(ReadyRoom), unread_total: z.number().int().min(0) })
	.meta({ id: "ReadyData" });
export const ReadyEvent = z.object({ event: z.literal("ready"), data: ReadyData }).meta({ id: "ReadyEvent" });

export const InboxUpdateData = RoomState.omit({ last_read_seq: true })
	.extend({ message: Message.nullable() })
	.meta({ id: "InboxUpdateData" });
export const InboxUpdateEvent = z.object({ event: z.literal("inbox_update"), data: InboxUpdateData }).meta({ id: "InboxUpdateEvent" });

export const ReadData = RoomState.omit({ last_seq: true }).meta({ id: "ReadData" });
export const ReadEvent = z.object({ event: z.literal("read"), data: ReadData }).meta({ id: "ReadEvent" });

export const RoomRemovedData = z.object({ room_id: Id }).meta({ id: "RoomRemovedData" });
export const RoomRemovedEvent = z.object({ event: z.literal("room_removed"), data: RoomRemovedData }).meta({ id: "RoomRemovedEvent" });

/** `mark_read`'s ack. */
export const MarkReadAck = ReadData.meta({ id: "MarkReadAck" });

export const GatewayErrorEvent = z
	.object({ event: z.literal("error"), id: RequestId.optional(), data: ProtocolError })
	.meta({ id: "GatewayErrorEvent" });
