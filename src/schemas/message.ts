import { z } from "zod";
import { Id, Timestamp, WellFormedText, wellFormed } from "./common";

/** Idempotency key chosen by the sender: a retry with the same key returns the first message. */
export const ClientMsgId = z.string().min(1).max(128).refine(wellFormed, WellFormedText);

/** Custom data on a message: a JSON object, stored and returned verbatim, at most 4 KiB serialised. */
export const MAX_METADATA_BYTES = 4096;
export const Metadata = z
	.record(z.string(), z.unknown())
	.refine((value) => new TextEncoder().encode(JSON.stringify(value)).byteLength <= MAX_METADATA_BYTES, {
		message: `metadata is limited to ${MAX_METADATA_BYTES} bytes of JSON`,
	})
	.meta({ id: "Metadata", description: "Any JSON object, at most 4 KiB serialised" });

/** A reaction: a short string such as an emoji. */
export const MAX_REACTION_LENGTH = 32;
export const ReactionType = z.string().min(1).max(MAX_REACTION_LENGTH).refine(wellFormed, WellFormedText);

/** One stored message: the same object in REST responses and in events. Optional fields appear only when set. */
export const Message = z
	.object({
		id: Id,
		room_id: Id,
		seq: z
			.number()
			.int()
			.positive()
			.meta({ description: "The seq of the event that created it: events are numbered 1, 2, 3, ... with no gaps" }),
		user_id: Id,
		text_message: z.string().meta({ description: "Empty once deleted" }),
		created_at: Timestamp,
		client_msg_id: ClientMsgId.optional(),
		reply_to: Id.optional().meta({ description: "The message this one replies to (same room)" }),
		metadata: z.record(z.string(), z.unknown()).optional(),
		edited_at: Timestamp.optional(),
		version: z.number().int().min(2).optional().meta({ description: "2, 3, ... after edits; absent means 1" }),
		deleted_at: Timestamp.optional().meta({ description: "A tombstone: text and metadata were erased" }),
		reactions: z.record(z.string(), z.number().int().positive()).optional().meta({ description: "{type: count}, when any" }),
		reply_count: z.number().int().positive().optional().meta({ description: "Replies to this message, when any" }),
	})
	.meta({ id: "Message" });

/** A previous or current version of a message's content (`GET .../versions`). */
export const MessageVersion = z
	.object({
		version: z.number().int().positive(),
		text_message: z.string(),
		metadata: z.record(z.string(), z.unknown()).optional(),
		at: Timestamp,
	})
	.meta({ id: "MessageVersion" });

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
		reply_to: Id.optional(),
		metadata: Metadata.optional(),
	})
	.meta({ id: "SendMessageBody" });

export const EditMessageBody = z
	.object({
		text_message: SendMessageBody.shape.text_message,
		metadata: Metadata.optional().meta({ description: "Replaces the metadata; omit to keep it" }),
	})
	.meta({ id: "EditMessageBody" });
export const ReactionBody = z.object({ type: ReactionType }).meta({ id: "ReactionBody" });
export const VersionPage = z.object({ versions: z.array(MessageVersion) }).meta({ id: "VersionPage" });

export const HistoryQuery = z.object({
	after_seq: z.coerce.number().int().min(0).optional(),
	before_seq: z.coerce.number().int().min(1).optional(),
	limit: z.coerce.number().int().min(1).optional().meta({ description: "Default 50, clamped to 200" }),
});

export const MessagePage = z.object({ messages: z.array(Message) }).meta({ id: "MessagePage" });

export type MessageT = z.infer<typeof Message>;
