import { z } from "zod";
import { Id } from "../schemas/common";
import { ClientMsgId, Message, textMessage } from "../schemas/message";

/**
 * The WebSocket protocol: JSON text frames `{"event", "data", "id"?}`.
 * A server frame may carry several events separated by `\n`.
 */

/** Request id chosen by the client and echoed in the `ack` or `error` that answers it. */
export const RequestId = z.union([z.string().max(128), z.number()]);

export const JoinRoomData = z.object({ room_id: Id, last_seq: z.number().int().min(0).optional() }).meta({ id: "JoinRoomData" });
export const LeaveRoomData = z.object({ room_id: Id }).meta({ id: "LeaveRoomData" });
export const sendMessageData = (maxLength: number) =>
	z.object({ room_id: Id, text_message: textMessage(maxLength), client_msg_id: ClientMsgId.optional() });
export const SendMessageData = sendMessageData(4000).meta({ id: "SendMessageData" });

export const clientFrame = (maxLength: number) =>
	z.discriminatedUnion("event", [
		z.object({ event: z.literal("join_room"), data: JoinRoomData, id: RequestId.optional() }),
		z.object({ event: z.literal("send_message"), data: sendMessageData(maxLength), id: RequestId.optional() }),
		z.object({ event: z.literal("leave_room"), data: LeaveRoomData, id: RequestId.optional() }),
	]);
export const ClientFrame = clientFrame(4000);
export type ClientFrameT = z.infer<typeof ClientFrame>;

export const JoinAck = z.object({ room_id: Id, last_seq: z.number().int().min(0) }).meta({ id: "JoinAck" });
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
]);
export type ProtocolErrorCodeT = z.infer<typeof ProtocolErrorCode>;
export const ProtocolError = z.object({ code: ProtocolErrorCode, message: z.string() }).meta({ id: "ProtocolError" });

export const NewMessageEvent = z.object({ event: z.literal("new_message"), data: Message }).meta({ id: "NewMessageEvent" });
export const AckEvent = z
	.object({ event: z.literal("ack"), id: RequestId.optional(), data: z.union([Message, JoinAck, LeaveAck]) })
	.meta({ id: "AckEvent" });
export const ErrorEvent = z.object({ event: z.literal("error"), id: RequestId.optional(), data: ProtocolError }).meta({ id: "ErrorEvent" });
export const ServerEvent = z.discriminatedUnion("event", [NewMessageEvent, AckEvent, ErrorEvent]);
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
