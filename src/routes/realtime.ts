import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { standingFor } from "../auth/access";
import { authenticate, requireUser } from "../auth/credentials";
import type { UserPrincipal } from "../auth/principal";
import { ApiError, forbidden, unauthorized } from "../errors";
import { gatewayName } from "../gateway/shard";
import { GATEWAY_IDENTITY_HEADER, type GatewayIdentity, gatewayStub } from "../gateway/stub";
import { PROTOCOL_LABEL } from "../protocol/frames";
import type { ConnState } from "../room/room-core";
import { IDENTITY_HEADER, MEMBERS_ONLY_HEADER, roomStub } from "../room/stub";
import { negotiateCompression } from "./compression";
import { type AppContext, type AppEnv, configOf, directoryOf } from "./context";
import { errors, RoomIdParam, security } from "./openapi";

const credentialsHelp = `Send \`Upgrade: websocket\`. Credentials: offer \`Sec-WebSocket-Protocol: ${PROTOCOL_LABEL}, <jwt>\` (the server answers \`${PROTOCOL_LABEL}\`), or \`?token=<jwt>\`, or the REST headers. Failures are answered before the upgrade.`;

const connectUser = createRoute({
	method: "get",
	path: "/ws",
	tags: ["Realtime"],
	summary: "Open the user socket: one connection for all of the user's rooms (protocol: /asyncapi.json)",
	description: `${credentialsHelp} The first frame is \`ready\` with the user's rooms and unread counts.`,
	security: security.user,
	responses: {
		101: { description: "Switching Protocols: the socket is open" },
		401: errors[401],
		403: errors[403],
		426: errors[400],
		429: errors[429],
	},
});

const connect = createRoute({
	method: "get",
	path: "/room/{room_id}/ws",
	tags: ["Realtime"],
	summary: "Open the room's WebSocket (protocol: /asyncapi.json)",
	description: credentialsHelp,
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

/** The checks both sockets share, before any upgrade: Upgrade header, Origin allowlist, credentials (401). */
async function handshake(c: AppContext): Promise<{ user: UserPrincipal; label: boolean }> {
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
	return { user: requireUser(principal), label: subprotocols.label };
}

/**
 * Hands the verified handshake to the object. On workerd a fresh request carries only what was
 * verified; a host that upgrades in-process (Deno) also needs the client's own request.
 */
function forward(c: AppContext, stub: { fetch(url: string, init: RequestInit): Promise<Response> }, url: string, headers: Headers) {
	const local = c.env.LOCAL_UPGRADE;
	return typeof local === "function" ? local(stub, new Request(url, { headers }), c.req.raw) : stub.fetch(url, { headers });
}

export const realtimeRoutes = new OpenAPIHono<AppEnv>()
	.openapi(connect, async (c) => {
		const { user, label } = await handshake(c);
		const { room, membership } = await standingFor(directoryOf(c), user, c.req.valid("param").room_id);
		if (room.private && !membership) throw forbidden("This room is private and you are not a member");
		// A visitor of a public room: recorded with their gateway, so a client-wide ban finds this socket.
		if (!membership)
			await gatewayStub(c.env, gatewayName(user.clientId, user.userId, configOf(c).gatewayShards)).visited(user.userId, room.id);
		const identity: ConnState = { userId: user.userId, clientId: user.clientId, roomId: room.id, exp: user.exp, joined: false };
		const headers = new Headers({ Upgrade: "websocket", [IDENTITY_HEADER]: JSON.stringify(identity) });
		if (label) headers.set("Sec-WebSocket-Protocol", PROTOCOL_LABEL);
		if (room.private) headers.set(MEMBERS_ONLY_HEADER, "1");
		// A fresh request: nothing the client sent reaches the room object except what was verified.
		// Deno's in-process upgrade has no `webSocket` on its 101, and is passed through unchanged.
		return negotiateCompression(await forward(c, roomStub(c.env, room.id), "https://room.internal/ws", headers), configOf(c).wsCompression);
	})
	.openapi(connectUser, async (c) => {
		const { user, label } = await handshake(c);
		const identity: GatewayIdentity = { userId: user.userId, clientId: user.clientId, exp: user.exp };
		const headers = new Headers({ Upgrade: "websocket", [GATEWAY_IDENTITY_HEADER]: JSON.stringify(identity) });
		if (label) headers.set("Sec-WebSocket-Protocol", PROTOCOL_LABEL);
		const gateway = gatewayName(user.clientId, user.userId, configOf(c).gatewayShards);
		return negotiateCompression(
			await forward(c, gatewayStub(c.env, gateway), "https://gateway.internal/ws", headers),
			configOf(c).wsCompression,
		);
	});
