import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { roomFor } from "../auth/access";
import { requirePrincipal, requireUser } from "../auth/credentials";
import { badRequest } from "../errors";
import { roomRpc } from "../room/stub";
import { HistoryQuery, Message, MessagePage, SendMessageBody, textMessage } from "../schemas/message";
import { type AppEnv, configOf, directoryOf, pageSizeOf, principalOf } from "./context";
import { changeError } from "./conversation";
import { body, callers, errors, json, RoomIdParam, security } from "./openapi";

const sendMessage = createRoute({
	method: "post",
	path: "/room/{room_id}/message/send",
	tags: ["Messages"],
	summary: "Send a message as a user",
	description:
		"`text_message` is 1 to MAX_MESSAGE_LENGTH (default 4000) UTF-16 code units. A retry with the same `client_msg_id` by the same user returns the first message (200) and stores nothing. `reply_to` names a message of the same room (404 otherwise); `metadata` is any JSON object up to 4 KiB. Moderation: a muted user gets 403 `muted`, a banned one 403 `banned`; in slow mode a send too soon gets 429 `rate_limited` with `retry_after_ms` and `Retry-After` (owners, moderators and the backend, `clientKey: <api_token>.<user_id>`, are exempt; a user's own JWT is not).",
	security: security.user,
	middleware: [callers.user] as const,
	request: { params: RoomIdParam, ...body(SendMessageBody) },
	responses: {
		200: json(Message, "A retry: the message first stored with this `client_msg_id`"),
		201: json(Message, "Stored, and sent to the room's sockets"),
		400: errors[400],
		401: errors[401],
		403: errors[403],
		404: errors[404],
		413: errors[413],
		429: {
			...errors[429],
			headers: z.object({ "Retry-After": z.string().optional().meta({ description: "Seconds to wait (slow mode)" }) }),
		},
	},
});

const history = createRoute({
	method: "get",
	path: "/room/{room_id}/messages",
	tags: ["Messages"],
	summary: "Read a room's messages in ascending `seq`",
	description:
		"With `after_seq`: the messages after it. Otherwise the newest ones (before `before_seq` when given). `limit` defaults to 50 and is clamped to 200.",
	security: security.any,
	middleware: [callers.any] as const,
	request: { params: RoomIdParam, query: HistoryQuery },
	responses: { 200: json(MessagePage, "Messages"), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404] },
});

export const messageRoutes = new OpenAPIHono<AppEnv>()
	.openapi(sendMessage, async (c) => {
		const user = requireUser(await principalOf(c));
		const room = await roomFor(directoryOf(c), user, c.req.valid("param").room_id);
		const { text_message, client_msg_id, reply_to, metadata } = c.req.valid("json");
		const length = textMessage(configOf(c).maxMessageLength).safeParse(text_message);
		if (!length.success) {
			throw badRequest(
				"Invalid request",
				length.error.issues.map((issue) => ({ path: "text_message", message: issue.message })),
			);
		}
		const result = await roomRpc(c.env, room.id).send({
			clientId: user.clientId,
			roomId: room.id,
			userId: user.userId,
			text: text_message,
			clientMsgId: client_msg_id,
			replyTo: reply_to,
			metadata,
			// The API token's holder sends for the user: slow mode does not apply to it.
			byBackend: user.via === "clientKey",
		});
		if (!result.ok) throw changeError(result, "No such message to reply to in this room");
		return c.json(result.message, result.created ? 201 : 200);
	})
	.openapi(history, async (c) => {
		const principal = requirePrincipal(await principalOf(c));
		const room = await roomFor(directoryOf(c), principal, c.req.valid("param").room_id);
		const { after_seq, before_seq, limit } = c.req.valid("query");
		const messages = await roomRpc(c.env, room.id).history({ afterSeq: after_seq, beforeSeq: before_seq, limit: pageSizeOf(c, limit) });
		return c.json({ messages }, 200);
	});
