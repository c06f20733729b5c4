import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { roomFor } from "../auth/access";
import { requireBackend } from "../auth/credentials";
import { roomRpc } from "../room/stub";
import { RoomEventPage, RoomEventQuery } from "../schemas/webhook";
import { roomEvent } from "../webhooks/events";
import { type AppEnv, directoryOf, pageSizeOf, principalOf } from "./context";
import { callers, errors, json, RoomIdParam, security } from "./openapi";

const roomEvents = createRoute({
	method: "get",
	path: "/room/{room_id}/events",
	tags: ["Webhooks"],
	summary: "The room's stored events in seq order, as webhooks deliver them (to rebuild after losing track)",
	description:
		"Every stored change of the room: `message.new`, `message.updated`, `message.deleted`, `reaction.added`, `reaction.removed`, numbered by the room's seq with no gaps. A replayed event shows its message as it is now. Each `id` is the `webhook-id` its deliveries carry, and each `timestamp` the time the room stored the event, the same as in its deliveries, so a receiver can de-duplicate across both paths.",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: RoomIdParam, query: RoomEventQuery },
	responses: {
		200: json(RoomEventPage, "Events after `after_seq`"),
		400: errors[400],
		401: errors[401],
		403: errors[403],
		404: errors[404],
	},
});

export const roomEventRoutes = new OpenAPIHono<AppEnv>().openapi(roomEvents, async (c) => {
	const backend = requireBackend(await principalOf(c));
	const room = await roomFor(directoryOf(c), backend, c.req.valid("param").room_id);
	const { after_seq, limit } = c.req.valid("query");
	const afterSeq = after_seq ?? 0;
	const stored = await roomRpc(c.env, room.id).events(afterSeq, pageSizeOf(c, limit));
	const now = Date.now();
	const events = stored.map((event) => {
		const hook = roomEvent(event, now);
		const body = JSON.parse(hook.body) as { timestamp: string; data: Record<string, unknown> };
		return { id: hook.id, type: hook.type, timestamp: body.timestamp, data: body.data };
	});
	return c.json({ events, last_seq: stored[stored.length - 1]?.seq ?? afterSeq }, 200);
});
