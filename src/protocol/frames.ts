import { z } from "zod";
import { Id } from "../schemas/common";
import { ClientMsgId, Message, Metadata, ReactionType, textMessage } from "../schemas/message";

/**
 * The WebSocket protocol: JSON text frames `{"event", "data", "id"?}`.
 * A server frame may carry several events separated by `\n`.
 */

/** Request id chosen by the client and echoed in the `ack` or `error` that answers it. */
export const RequestId = z.union([z.string().max(128), z.number()]);

export const JoinRoomData = z.object({ room_id: Id, last_seq: z.number().int().min(0).optional() }).meta({ id: "JoinRoomData" });
export const LeaveRoomData = z.object({ room_id: Id }).meta({ id: "LeaveRoomData" });
export const sendMessageData = (maxLength: number) =>
	z.object({
		room_id: Id,
		text_message: textMessage(maxLength),
		client_msg_id: ClientMsgId.optional(),
		reply_to: Id.optional(),
		metadata: Metadata.optional(),
	});
export const SendMessageData = sendMessageData(4000).meta({ id: "SendMessageData" });
export const editMessageData = (maxLength: number) =>
	z.object({ room_id: Id, message_id: Id, text_message: textMessage(maxLength), metadata: Metadata.optional() });
export const EditMessageData = editMessageData(4000).meta({ id: "EditMessageData" });
export const DeleteMessageData = z.object({ room_id: Id, message_id: Id }).meta({ id: "DeleteMessageData" });
export const ReactionData = z.object({ room_id: Id, message_id: Id, type: ReactionType }).meta({ id: "ReactionData" });
export const TypingData = z.object({ room_id: Id }).meta({ id: "TypingData" });

/** The frames both sockets accept for a room's conversation. */
export const conversationFrames = (maxLength: number) =>
	[
		z.object({ event: z.literal("join_room"), data: JoinRoomData, id: RequestId.optional() }),
		z.object({ event: z.literal("send_message"), data: sendMessageData(maxLength), id: RequestId.optional() }),
		z.object({ event: z.literal("leave_room"), data: LeaveRoomData, id: RequestId.optional() }),
		z.object({ event: z.literal("edit_message"), data: editMessageData(maxLength), id: RequestId.optional() }),
		z.object({ event: z.literal("delete_message"), data: DeleteMessageData, id: RequestId.optional() }),
		z.object({ event: z.literal("add_reaction"), data: ReactionData, id: RequestId.optional() }),
		z.object({ event: z.literal("remove_reaction"), data: ReactionData, id: RequestId.optional() }),
		z.object({ event: z.literal("typing"), data: TypingData, id: RequestId.optional() }),
	] as const;
export const ROOM_EVENTS = [
	"join_room",
	"send_message",
	"leave_room",
	"edit_message",
	"delete_message",
	"add_reaction",
	"remove_reaction",
	"typing",
] as const;

export const clientFrame = (maxLength: number) => z.discriminatedUnion("event", [...conversationFrames(maxLength)]);
export const ClientFrame = clientFrame(4000);
export type ClientFrameT = z.infer<typeof ClientFrame>;

/** Who is online in a room: users with a socket of either kind joined to it (or gone less than the grace period ago). */
export const OnlineIds = z
	.array(Id)
	.meta({ description: "Users online in the room (this socket's user too), by user id; at most PRESENCE_MAX_MEMBERS (100)" });
export const JoinAck = z.object({ room_id: Id, last_seq: z.number().int().min(0), online: OnlineIds }).meta({ id: "JoinAck" });
export const LeaveAck = z.object({ room_id: Id }).meta({ id: "LeaveAck" });

export const ProtocolErrorCode = z.enum([
	"invalid_json",
	"invalid_frame",
	"unknown_event",
	"validation_failed",
	"wrong_room",
	"frame_too_large",
	"binary_not_supported",
	"rate_limited",
	"internal_error",
	// The user socket (`/ws`) only: a frame for a room this user may not use, or past the joined-rooms cap.
	"forbidden",
	"not_found",
	"too_many_rooms",
	// An edit or reaction on a deleted message.
	"message_deleted",
	// Moderation: a banned user's frame for the room, a muted user's send or edit.
	"banned",
	"muted",
	// An edit of a message that has MAX_MESSAGE_VERSIONS (100) versions already.
	"too_many_versions",
]);
export type ProtocolErrorCodeT = z.infer<typeof ProtocolErrorCode>;
export const ProtocolError = z
	.object({
		code: ProtocolErrorCode,
		message: z.string(),
		retry_after_ms: z.number().int().positive().optional().meta({ description: "Slow mode: how long to wait before sending again" }),
	})
	.meta({ id: "ProtocolError" });

const eventSeq = z.number().int().positive().meta({ description: "This event's place in the room's log" });
export const NewMessageEvent = z.object({ event: z.literal("new_message"), data: Message }).meta({ id: "NewMessageEvent" });
export const MessageUpdatedData = z.object({ message: Message, seq: eventSeq }).meta({ id: "MessageUpdatedData" });
export const MessageUpdatedEvent = z
	.object({ event: z.literal("message_updated"), data: MessageUpdatedData })
	.meta({ id: "MessageUpdatedEvent" });
export const MessageDeletedData = z.object({ room_id: Id, message_id: Id, seq: eventSeq }).meta({ id: "MessageDeletedData" });
export const MessageDeletedEvent = z
	.object({ event: z.literal("message_deleted"), data: MessageDeletedData })
	.meta({ id: "MessageDeletedEvent" });
export const ReactionEventData = z
	.object({
		room_id: Id,
		message_id: Id,
		user_id: Id,
		type: ReactionType,
		reactions: z.record(z.string(), z.number().int().positive()).meta({ description: "The message's counts after this change" }),
		seq: eventSeq,
	})
	.meta({ id: "ReactionEventData" });
export const ReactionAddedEvent = z
	.object({ event: z.literal("reaction_added"), data: ReactionEventData })
	.meta({ id: "ReactionAddedEvent" });
export const ReactionRemovedEvent = z
	.object({ event: z.literal("reaction_removed"), data: ReactionEventData })
	.meta({ id: "ReactionRemovedEvent" });
export const TypingEventData = z
	.object({ room_id: Id, user_ids: z.array(Id).meta({ description: "Everyone typing now: the whole set" }) })
	.meta({ id: "TypingEventData" });
export const TypingEvent = z.object({ event: z.literal("typing"), data: TypingEventData }).meta({ id: "TypingEvent" });
export const ReadReceiptEvent = z
	.object({
		event: z.literal("read_receipt"),
		data: z.object({ room_id: Id, user_id: Id, last_read_seq: z.number().int().min(0) }).meta({ id: "ReadReceiptData" }),
	})
	.meta({ id: "ReadReceiptEvent" });
export const PresenceData = z
	.object({
		room_id: Id,
		user_id: Id,
		online: z.boolean(),
		last_active_at: z.iso
			.datetime()
			.meta({ description: "When the user came online; for `online: false`, when their last socket left the room" }),
	})
	.meta({ id: "PresenceData" });
export const PresenceEvent = z.object({ event: z.literal("presence"), data: PresenceData }).meta({ id: "PresenceEvent" });
/** What an ack of a change carries: the change's event data (a no-op reaction has no `seq`). */
const ChangeAck = z.union([MessageUpdatedData, MessageDeletedData, ReactionEventData.partial({ seq: true })]);
export const AckEvent = z
	.object({ event: z.literal("ack"), id: RequestId.optional(), data: z.union([Message, JoinAck, LeaveAck, ChangeAck]) })
	.meta({ id: "AckEvent" });
export const ErrorEvent = z.object({ event: z.literal("error"), id: RequestId.optional(), data: ProtocolError }).meta({ id: "ErrorEvent" });
export const ServerEvent = z.discriminatedUnion("event", [
	NewMessageEvent,
	MessageUpdatedEvent,
	MessageDeletedEvent,
	ReactionAddedEvent,
	ReactionRemovedEvent,
	TypingEvent,
	ReadReceiptEvent,
	PresenceEvent,
	AckEvent,
	ErrorEvent,
]);
export type ServerEventT = z.infer<typeof ServerEvent>;

/** Heartbeat answered by the runtime without waking the room: send exactly this text. */
export const PING = '{"event":"ping"}';
export const PONG = '{"event":"pong"}';

/** Offered in `Sec-WebSocket-Protocol` beside the JWT; the server answers with it. */
export const PROTOCOL_LABEL = "roomkit.v1";

/** Close code telling the client its token expired and it should fetch a new one. */
export const CLOSE_TOKEN_EXPIRED = 4001;
/** Close code for a member removed from the room. */
export const CLOSE_REMOVED = 4003;
/** Close code for a socket sent more than MAX_UNREAD_BYTES with no frame or heartbeat from it: reconnect with `last_seq`. */
export const CLOSE_NOT_READING = 4008;
