import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { roomFor } from "../auth/access";
import { requirePrincipal, requireUser } from "../auth/credentials";
import { ApiError, badRequest, banned, forbidden, notFound, rateLimited } from "../errors";
import type { RoomChange } from "../gateway/push";
import { MAX_MESSAGE_VERSIONS } from "../room/message-log";
import { type ChangeRefusal, SLOW_MODE_TEXT } from "../room/room-core";
import { roomRpc } from "../room/stub";
import { EditMessageBody, Message, MessagePage, ReactionBody, ReactionType, textMessage, VersionPage } from "../schemas/message";
import { type AppContext, type AppEnv, configOf, directoryOf, pageSizeOf, principalOf } from "./context";
import { body, callers, errors, json, MessageIdParam, security } from "./openapi";

/** A REST edit, delete or reaction past the per-user REST write budget. */
const CHANGE_RATE_TEXT = "Too many changes from this user in this room, slow down";

/** A refused change to a message or send, as the API's error. */
export function changeError(
	refusal: ChangeRefusal,
	notFoundText = "Message not found",
	rateLimitedText = "Too many messages from this user in this room, slow down",
) {
	const { code, retryAfterMs } = refusal;
	if (code === "not_found") return new ApiError(404, "not_found", notFoundText);
	if (code === "forbidden") return forbidden("Only the author may change this message");
	if (code === "message_deleted") return new ApiError(409, "message_deleted", "This message was deleted");
	if (code === "too_many_versions") {
		return new ApiError(409, "too_many_versions", `This message has ${MAX_MESSAGE_VERSIONS} versions, the most a message may have`);
	}
	if (code === "banned") return banned();
	if (code === "muted") return new ApiError(403, "muted", "You are muted in this room");
	// Slow mode says how long to wait (the route adds Retry-After).
	if (retryAfterMs !== undefined) return new ApiError(429, "rate_limited", SLOW_MODE_TEXT, undefined, { retry_after_ms: retryAfterMs });
	return rateLimited(rateLimitedText);
}

const ReactionResult = z
	.object({
		message_id: z.uuid(),
		user_id: z.uuid(),
		type: ReactionType,
		reactions: z.record(z.string(), z.number().int().positive()),
		seq: z.number().int().positive().optional().meta({ description: "The event's seq; absent when nothing changed" }),
	})
	.meta({ id: "ReactionResult" });
const DeleteResult = z.object({ room_id: z.uuid(), message_id: z.uuid(), seq: z.number().int().positive() }).meta({ id: "DeleteResult" });
const EditResult = z.object({ message: Message, seq: z.number().int().positive() }).meta({ id: "EditResult" });
const RepliesQuery = z.object({
	after_seq: z.coerce.number().int().min(0).optional(),
	limit: z.coerce.number().int().min(1).optional().meta({ description: "Default 50, clamped to 200" }),
});
const ReactionParam = MessageIdParam.extend({ type: ReactionType });

const editMessage = createRoute({
	method: "patch",
	path: "/room/{room_id}/messages/{message_id}",
	tags: ["Messages"],
	summary: "Edit your message: a new version (the previous ones stay readable); joined sockets get `message_updated`",
	description:
		"A message has at most 100 versions (the original and 99 edits): one more edit gets 409 `too_many_versions`. 409 `message_deleted` for a tombstone; edits share the REST write budget of sends (429 `rate_limited`).",
	security: security.user,
	middleware: [callers.user] as const,
	request: { params: MessageIdParam, ...body(EditMessageBody) },
	responses: {
		200: json(EditResult, "The message as it is now, and the event's seq"),
		400: errors[400],
		401: errors[401],
		403: errors[403],
		404: errors[404],
		409: errors[409],
		429: errors[429],
	},
});

const deleteMessage = createRoute({
	method: "delete",
	path: "/room/{room_id}/messages/{message_id}",
	tags: ["Messages"],
	summary: "Delete a message (its author, or the client's backend for any): text and metadata are erased, a tombstone stays",
	description:
		"Deleting again answers the first deletion. Joined sockets get `message_deleted`. A user's deletes share the REST write budget of sends (429 `rate_limited`); the backend's are not limited.",
	security: security.any,
	middleware: [callers.any] as const,
	request: { params: MessageIdParam },
	responses: { 200: json(DeleteResult, "Deleted"), 401: errors[401], 403: errors[403], 404: errors[404], 429: errors[429] },
});

const versions = createRoute({
	method: "get",
	path: "/room/{room_id}/messages/{message_id}/versions",
	tags: ["Messages"],
	summary: "Every version of a message, oldest first (an edit cannot silently rewrite what others read)",
	security: security.any,
	middleware: [callers.any] as const,
	request: { params: MessageIdParam },
	responses: { 200: json(VersionPage, "Versions"), 401: errors[401], 403: errors[403], 404: errors[404] },
});

const replies = createRoute({
	method: "get",
	path: "/room/{room_id}/messages/{message_id}/replies",
	tags: ["Messages"],
	summary: "Replies to a message in ascending `seq` (page with `after_seq`)",
	security: security.any,
	middleware: [callers.any] as const,
	request: { params: MessageIdParam, query: RepliesQuery },
	responses: { 200: json(MessagePage, "Replies"), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404] },
});

const addReaction = createRoute({
	method: "post",
	path: "/room/{room_id}/messages/{message_id}/reactions",
	tags: ["Messages"],
	summary: "React to a message (one reaction per user and type; adding it again changes nothing)",
	security: security.user,
	middleware: [callers.user] as const,
	request: { params: MessageIdParam, ...body(ReactionBody) },
	responses: {
		200: json(ReactionResult, "The message's reaction counts"),
		400: errors[400],
		401: errors[401],
		403: errors[403],
		404: errors[404],
		409: errors[409],
		429: errors[429],
	},
});

const removeReaction = createRoute({
	method: "delete",
	path: "/room/{room_id}/messages/{message_id}/reactions/{type}",
	tags: ["Messages"],
	summary: "Take your reaction back (removing one that is not there changes nothing)",
	security: security.user,
	middleware: [callers.user] as const,
	request: { params: ReactionParam },
	responses: {
		200: json(ReactionResult, "The message's reaction counts"),
		401: errors[401],
		403: errors[403],
		404: errors[404],
		409: errors[409],
		429: errors[429],
	},
});

/**
 * A user's change through the room, after the route checked access the same way every route does.
 * It takes from the user's REST write budget in the room, the one REST sends use (429 when spent).
 */
async function userChange(c: AppContext, roomId: string, change: RoomChange) {
	const user = requireUser(await principalOf(c));
	const room = await roomFor(directoryOf(c), user, roomId);
	const result = await roomRpc(c.env, room.id).change({ clientId: user.clientId, userId: user.userId }, change, true);
	if (!result.ok) throw changeError(result, undefined, CHANGE_RATE_TEXT);
	return result.data as Record<string, unknown>;
}

export const conversationRoutes = new OpenAPIHono<AppEnv>()
	.openapi(editMessage, async (c) => {
		const { room_id, message_id } = c.req.valid("param");
		const { text_message, metadata } = c.req.valid("json");
		const length = textMessage(configOf(c).maxMessageLength).safeParse(text_message);
		if (!length.success)
			throw badRequest(
				"Invalid request",
				length.error.issues.map((i) => ({ path: "text_message", message: i.message })),
			);
		const data = await userChange(c, room_id, { kind: "edit", messageId: message_id, text: text_message, metadata });
		return c.json(data as z.infer<typeof EditResult>, 200);
	})
	.openapi(deleteMessage, async (c) => {
		const principal = requirePrincipal(await principalOf(c));
		const { room_id, message_id } = c.req.valid("param");
		if (principal.kind === "user") {
			const data = await userChange(c, room_id, { kind: "delete", messageId: message_id });
			return c.json(data as z.infer<typeof DeleteResult>, 200);
		}
		const room = await roomFor(directoryOf(c), principal, room_id);
		const result = await roomRpc(c.env, room.id).deleteAsBackend(principal.clientId, message_id);
		if (!result.ok) throw changeError(result);
		return c.json(result.data as z.infer<typeof DeleteResult>, 200);
	})
	.openapi(versions, async (c) => {
		const principal = requirePrincipal(await principalOf(c));
		const { room_id, message_id } = c.req.valid("param");
		const room = await roomFor(directoryOf(c), principal, room_id);
		const found = await roomRpc(c.env, room.id).versions(message_id);
		if (!found) throw notFound("Message");
		return c.json({ versions: found }, 200);
	})
	.openapi(replies, async (c) => {
		const principal = requirePrincipal(await principalOf(c));
		const { room_id, message_id } = c.req.valid("param");
		const { after_seq, limit } = c.req.valid("query");
		const room = await roomFor(directoryOf(c), principal, room_id);
		const found = await roomRpc(c.env, room.id).replies(message_id, after_seq ?? 0, pageSizeOf(c, limit));
		if (!found) throw notFound("Message");
		return c.json({ messages: found }, 200);
	})
	.openapi(addReaction, async (c) => {
		const { room_id, message_id } = c.req.valid("param");
		const data = await userChange(c, room_id, { kind: "react", messageId: message_id, type: c.req.valid("json").type, add: true });
		return c.json(data as z.infer<typeof ReactionResult>, 200);
	})
	.openapi(removeReaction, async (c) => {
		const { room_id, message_id, type } = c.req.valid("param");
		const data = await userChange(c, room_id, { kind: "react", messageId: message_id, type, add: false });
		return c.json(data as z.infer<typeof ReactionResult>, 200);
	});
