import { z } from "zod";
import { Id, Timestamp, WellFormedText, wellFormed } from "./common";

/** Idempotency key chosen by the sender: a retry with the same key returns the first message. */
export const ClientMsgId = z.string().min(1).max(128).refine(wellFormed, WellFormedText);

/** One stored message: the same object in REST responses and `new_message` events. */
export const Message = z
	.object({
		id: Id,
		room_id: Id,
		seq: z.number().int().positive().meta({ description: "Position in the room: 1, 2, 3, ... with no gaps" }),
		user_id: Id,
		text_message: z.string(),
		created_at: Timestamp,
		client_msg_id: ClientMsgId.optional(),
	})
	.meta({ id: "Message" });

/** The text limit is configurable, so the body schema is built from it. */
export const textMessage = (maxLength: number) => z.string().min(1).max(maxLength).refine(wellFormed, WellFormedText);

// The route checks the shape; the text's maximum is configured (MAX_MESSAGE_LENGTH), so the
// handler checks it with `textMessage(max)`, the same schema the WebSocket frames use.
export const SendMessageBody = z
	.object({
		text_message: z
			.string()
			.min(1)
			.refine(wellFormed, WellFormedText)
			.meta({ description: "1 to MAX_MESSAGE_LENGTH (default 4000) UTF-16 code units" }),
		client_msg_id: ClientMsgId.optional(),
	})
	.meta({ id: "SendMessageBody" });

export const HistoryQuery = z.object({
	after_seq: z.coerce.number().int().min(0).optional(),
	before_seq: z.coerce.number().int().min(1).optional(),
	limit: z.coerce.number().int().min(1).optional().meta({ description: "Default 50, clamped to 200" }),
});

export const MessagePage = z.object({ messages: z.array(Message) }).meta({ id: "MessagePage" });

export type MessageT = z.infer<typeof Message>;
