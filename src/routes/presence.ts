import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { roomFor } from "../auth/access";
import { requirePrincipal } from "../auth/credentials";
import { roomRpc } from "../room/stub";
import { type AppEnv, directoryOf, principalOf } from "./context";
import { callers, errors, json, RoomIdParam, security } from "./openapi";

const RoomPresence = z
	.object({
		presence: z.array(
			z.object({
				user_id: z.uuid(),
				online: z
					.boolean()
					.meta({ description: "A socket of the user (either kind) is joined to the room, or left within the grace period" }),
				last_active_at: z.iso
					.datetime()
					.nullable()
					.meta({ description: "Now while online; when the user's last socket left the room; null if never seen in it" }),
			}),
		),
	})
	.meta({ id: "RoomPresence" });

const presence = createRoute({
	method: "get",
	path: "/room/{room_id}/presence",
	tags: ["Read state"],
	summary: "Who is online in the room and when each was last active, ordered by user id",
	description:
		"The room's members, and in a public room anyone who has joined it. Readers of the room only (a private room's members, or the backend).",
	security: security.any,
	middleware: [callers.any] as const,
	request: { params: RoomIdParam },
	responses: { 200: json(RoomPresence, "Presence"), 401: errors[401], 403: errors[403], 404: errors[404] },
});

export const presenceRoutes = new OpenAPIHono<AppEnv>().openapi(presence, async (c) => {
	const principal = requirePrincipal(await principalOf(c));
	const room = await roomFor(directoryOf(c), principal, c.req.valid("param").room_id);
	return c.json({ presence: await roomRpc(c.env, room.id).presence(principal.clientId) }, 200);
});
