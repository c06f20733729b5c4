import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { standingFor } from "../auth/access";
import { requireUser } from "../auth/credentials";
import { forbidden, notFound } from "../errors";
import { uuidv7 } from "../ids";
import { roomRpc } from "../room/stub";
import { Id, Timestamp, WellFormedText, wellFormed } from "../schemas/common";
import type { MessageFlagRow } from "../storage/schema";
import { type AppEnv, directoryOf, principalOf } from "./context";
import { body, callers, errors, json, RoomIdParam, security } from "./openapi";

// `id`, the message's `seq` and the reporter come from the server.
const FlagBody = z
	.object({ reason: z.string().trim().min(1).max(1000).refine(wellFormed, WellFormedText).meta({ description: "Why it is reported" }) })
	.meta({ id: "FlagMessageBody" });

const Flag = z
	.object({
		id: Id,
		room_id: Id,
		message_id: Id,
		seq: z.number().int().positive(),
		flagged_by: Id,
		reason: z.string(),
		created_at: Timestamp,
	})
	.meta({ id: "MessageFlag" });

const flagMessage = createRoute({
	method: "post",
	path: "/room/{room_id}/messages/{message_id}/flag",
	tags: ["Moderation"],
	summary: "Report a message (as a member of the room); sends the `message.flagged` webhook",
	description:
		"Members only: a user who is not a member gets 403 `forbidden`, even in a public room they can read (reports are for the room's own people, so a passer-by cannot flood its moderators); a banned user 403 `banned`. One report per user and message: reporting it again returns the first report (200) and sends nothing.",
	security: security.user,
	middleware: [callers.user] as const,
	request: { params: RoomIdParam.extend({ message_id: Id }), ...body(FlagBody) },
	responses: {
		200: json(Flag, "Already reported by this user"),
		201: json(Flag, "Reported"),
		400: errors[400],
		401: errors[401],
		403: errors[403],
		404: errors[404],
	},
});

const present = (row: MessageFlagRow) => ({
	id: row.id,
	room_id: row.roomId,
	message_id: row.messageId,
	seq: row.seq,
	flagged_by: row.userId,
	reason: row.reason,
	created_at: new Date(row.createdAt).toISOString(),
});

export const flagRoutes = new OpenAPIHono<AppEnv>().openapi(flagMessage, async (c) => {
	const user = requireUser(await principalOf(c));
	const directory = directoryOf(c);
	const { room_id, message_id } = c.req.valid("param");
	const { room, membership } = await standingFor(directory, user, room_id);
	if (!membership) throw forbidden("Only members of this room may report its messages");
	const message = await roomRpc(c.env, room.id).message(message_id);
	if (!message) throw notFound("Message");
	const { created, flag } = await directory.flagMessage({
		id: uuidv7(),
		clientId: user.clientId,
		roomId: room.id,
		messageId: message.id,
		seq: message.seq,
		userId: user.userId,
		reason: c.req.valid("json").reason,
		createdAt: Date.now(),
	});
	return c.json(present(flag), created ? 201 : 200);
});
