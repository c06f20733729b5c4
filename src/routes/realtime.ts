import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { roomFor } from "../auth/access";
import { authenticate, requireUser } from "../auth/credentials";
import { ApiError, forbidden, unauthorized } from "../errors";
import { PROTOCOL_LABEL } from "../protocol/frames";
import type { ConnState } from "../room/room-core";
import { IDENTITY_HEADER, MEMBERS_ONLY_HEADER, roomStub } from "../room/stub";
import { negotiateCompression } from "./compression";
import { type AppEnv, configOf, directoryOf } from "./context";
import { errors, RoomIdParam, security } from "./openapi";

const connect = createRoute({
	method: "get",
	path: "/room/{room_id}/ws",
	tags: ["Realtime"],
	summary: "Open the room's WebSocket (protocol: /asyncapi.json)",
	description: `Send \`Upgrade: websocket\`. Credentials: offer \`Sec-WebSocket-Protocol: ${PROTOCOL_LABEL}, <jwt>\` (the server answers \`${PROTOCOL_LABEL}\`), or \`?token=<jwt>\`, or the REST headers. Failures are answered before the upgrade.`,
	security: security.user,
	request: { params: RoomIdParam },
	responses: {
		101: { description: "Switching Protocols: the socket is open" },
		401: errors[401],
		403: errors[403],
		404: errors[404],
		426: errors[400],
		429: errors[429],
	},
});

/** Splits `Sec-WebSocket-Protocol` into our label and a JWT offered beside it. */
function fromSubprotocols(header: string | undefined): { label: boolean; token?: string } {
	const offered = (header ?? "")
		.split(",")
		.map((s) => s.trim())
		.filter(Boolean);
	const label = offered.includes(PROTOCOL_LABEL);
	const token = label ? offered.find((p) => p !== PROTOCOL_LABEL) : undefined;
	return { label, token };
}

export const realtimeRoutes = new OpenAPIHono<AppEnv>().openapi(connect, async (c) => {
	if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
		throw new ApiError(426 as 400, "validation_failed", "This endpoint needs `Upgrade: websocket`");
	}
	const config = configOf(c);
	const origin = c.req.header("Origin");
	if (origin && config.wsAllowedOrigins.length > 0 && !config.wsAllowedOrigins.includes(origin)) {
		throw forbidden(`Origin ${origin} may not open sockets here`);
	}
	const subprotocols = fromSubprotocols(c.req.header("Sec-WebSocket-Protocol"));
	const directory = directoryOf(c);
	const principal = await authenticate(c.env, directory, {
		token: subprotocols.token ?? c.req.query("token") ?? null,
		clientKey: c.req.header("clientKey"),
		authorization: c.req.header("Authorization"),
	});
	if (!principal) throw unauthorized("Offer a JWT as a subprotocol or `?token=`, or send the REST credentials");
	c.set("clientId", principal.clientId);
	const user = requireUser(principal);
	const room = await roomFor(directory, user, c.req.valid("param").room_id);
	const identity: ConnState = { userId: user.userId, clientId: user.clientId, roomId: room.id, exp: user.exp, joined: false };
	const headers = new Headers({ Upgrade: "websocket", [IDENTITY_HEADER]: JSON.stringify(identity) });
	if (subprotocols.label) headers.set("Sec-WebSocket-Protocol", PROTOCOL_LABEL);
	if (room.private) headers.set(MEMBERS_ONLY_HEADER, "1");
	// A fresh request: nothing the client sent reaches the room object except what was verified.
	return negotiateCompression(await roomStub(c.env, room.id).fetch("https://room.internal/ws", { headers }), config.wsCompression);
});
