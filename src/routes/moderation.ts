import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { inForce, roomFor, standingFor } from "../auth/access";
import { requireBackend, requirePrincipal } from "../auth/credentials";
import type { Principal } from "../auth/principal";
import { badRequest, forbidden, notFound } from "../errors";
import { gatewayName } from "../gateway/shard";
import { gatewayStub } from "../gateway/stub";
import { roomRpc } from "../room/stub";
import { PageQuery } from "../schemas/common";
import { BanPage, MutePage, RestrictBody, Restriction, SetRoleBody, UpdateRoomBody, UserBan, UserBanBody } from "../schemas/moderation";
import { Member, Room } from "../schemas/room";
import type { RestrictionKind, Role, RoomRestrictionRow, RoomRow } from "../storage/schema";
import { type AppContext, type AppEnv, configOf, directoryOf, pageSizeOf, principalOf } from "./context";
import { body, callers, errors, json, RoomIdParam, security, UserIdParam } from "./openapi";
import { nextCursor, presentMember, presentRoom } from "./present";

const RoomUserParam = RoomIdParam.extend(UserIdParam.shape);

const setRole = createRoute({
	method: "patch",
	path: "/room/{room_id}/members/{user_id}",
	tags: ["Moderation"],
	summary: "Set a member's role: `owner`, `moderator` or `member` (backend only)",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: RoomUserParam, ...body(SetRoleBody) },
	responses: { 200: json(Member, "The membership"), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404] },
});

const updateRoom = createRoute({
	method: "patch",
	path: "/room/{room_id}",
	tags: ["Rooms"],
	summary: "Change a room's settings: slow mode `cooldown_seconds` (backend only)",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: RoomIdParam, ...body(UpdateRoomBody) },
	responses: { 200: json(Room, "The room"), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404] },
});

const KINDS = {
	ban: {
		path: "bans",
		page: BanPage,
		what: "Ban",
		summary: "Ban a user from the room",
		effect:
			"The user stops being a member (and loses any role), their sockets there are cut at once (room socket 4003, user socket `room_removed`), and they may not join, read or send there (`403 banned`, frame error `banned`) until it ends. Lifted or over, they are not a member again.",
	},
	mute: {
		path: "mutes",
		page: MutePage,
		what: "Mute",
		summary: "Mute a user in the room",
		effect: "The user still reads, but sends and edits are refused (`403 muted`, frame error `muted`) until it ends.",
	},
} as const;

const WHO = "The client's backend, or an owner or moderator of the room with user credentials.";
const WHOM = "Moderators may not restrict owners or moderators, owners may not restrict owners (`403 forbidden`).";

const routesOf = (kind: RestrictionKind) => {
	const { path, page, what, summary, effect } = KINDS[kind];
	return {
		add: createRoute({
			method: "post",
			path: `/room/{room_id}/${path}`,
			tags: ["Moderation"],
			summary,
			description: `${effect} ${WHO} ${WHOM} A second one replaces the first. \`expires_at\` ends it by itself (checked against the clock when the user next acts).`,
			security: security.any,
			middleware: [callers.any] as const,
			request: { params: RoomIdParam, ...body(RestrictBody) },
			responses: { 201: json(Restriction, what), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404] },
		}),
		list: createRoute({
			method: "get",
			path: `/room/{room_id}/${path}`,
			tags: ["Moderation"],
			summary: `The room's ${path} in force, by user id`,
			description: WHO,
			security: security.any,
			middleware: [callers.any] as const,
			request: { params: RoomIdParam, query: PageQuery },
			responses: { 200: json(page, `A page of ${path}`), 401: errors[401], 403: errors[403], 404: errors[404] },
		}),
		lift: createRoute({
			method: "delete",
			path: `/room/{room_id}/${path}/{user_id}`,
			tags: ["Moderation"],
			summary: `Lift a ${kind} (an ended ban does not make the user a member again)`,
			description: WHO,
			security: security.any,
			middleware: [callers.any] as const,
			request: { params: RoomUserParam },
			responses: { 204: { description: "Lifted" }, 401: errors[401], 403: errors[403], 404: errors[404] },
		}),
	};
};
const banRoutes = routesOf("ban");
const muteRoutes = routesOf("mute");

/** Who acts on the room's moderation: its backend (role null), or one of its owners and moderators. */
async function moderatorOf(c: AppContext, roomId: string): Promise<{ principal: Principal; room: RoomRow; role: Role | null }> {
	const principal = requirePrincipal(await principalOf(c));
	const directory = directoryOf(c);
	if (principal.kind === "backend") return { principal, room: await roomFor(directory, principal, roomId), role: null };
	const { room, membership } = await standingFor(directory, principal, roomId);
	if (membership?.role !== "owner" && membership?.role !== "moderator") {
		throw forbidden("Only the room's owners and moderators (or the client's backend) may do this");
	}
	return { principal, room, role: membership.role };
}

/** The role matrix: the backend restricts anyone; owners restrict moderators and members; moderators members only. */
const mayRestrict = (actor: Role | null, target: Role | null) =>
	actor === null || target === null || target === "member" || (actor === "owner" && target === "moderator");

const presentRestriction = (row: RoomRestrictionRow) => ({
	room_id: row.roomId,
	user_id: row.userId,
	reason: row.reason,
	expires_at: row.expiresAt === null ? null : new Date(row.expiresAt).toISOString(),
	created_by: row.createdBy,
	created_at: new Date(row.createdAt).toISOString(),
});

/** A time in the future as ms, or null; a past one is a validation error. */
export function expiryOf(expiresAt: string | undefined, now: number): number | null {
	if (expiresAt === undefined) return null;
	const at = Date.parse(expiresAt);
	if (at <= now) throw badRequest("Invalid request", [{ path: "expires_at", message: "must be in the future" }]);
	return at;
}

const metaOf = (room: RoomRow) => ({ clientId: room.clientId, private: room.private });

function withRestrictions(app: OpenAPIHono<AppEnv>, kind: RestrictionKind, routes: ReturnType<typeof routesOf>) {
	return app
		.openapi(routes.add, async (c) => {
			const { principal, room, role } = await moderatorOf(c, c.req.valid("param").room_id);
			const { user_id, reason, expires_at } = c.req.valid("json");
			const now = Date.now();
			const expiresAt = expiryOf(expires_at, now);
			const directory = directoryOf(c);
			const target = await directory.standing(room.clientId, room.id, user_id);
			if (!target || !(await directory.getUser(room.clientId, user_id))) throw notFound("User");
			if (!mayRestrict(role, target.membership?.role ?? null)) {
				throw forbidden(`A ${role} may not ${kind} a ${target.membership?.role} of this room`);
			}
			const row: RoomRestrictionRow = {
				clientId: room.clientId,
				roomId: room.id,
				userId: user_id,
				kind,
				reason: reason ?? null,
				expiresAt,
				createdBy: principal.kind === "user" ? principal.userId : null,
				createdAt: now,
			};
			// The directory first (a ban also ends the membership there), then the room's copy, which
			// closes a banned user's sockets; a retry after a failure here repeats both harmlessly.
			await directory.restrict(row);
			await roomRpc(c.env, room.id).standingChanged(metaOf(room), user_id);
			return c.json(presentRestriction(row), 201);
		})
		.openapi(routes.list, async (c) => {
			const { room } = await moderatorOf(c, c.req.valid("param").room_id);
			const { limit, cursor } = c.req.valid("query");
			const pageSize = pageSizeOf(c, limit);
			const rows = await directoryOf(c).listRestrictions(room.clientId, room.id, kind, Date.now(), { after: cursor, limit: pageSize });
			const next_cursor = nextCursor(rows, pageSize, (r) => r.userId);
			const items = rows.map(presentRestriction);
			return c.json(kind === "ban" ? { bans: items, next_cursor } : { mutes: items, next_cursor }, 200);
		})
		.openapi(routes.lift, async (c) => {
			const { room_id, user_id } = c.req.valid("param");
			const { room } = await moderatorOf(c, room_id);
			const directory = directoryOf(c);
			const target = await directory.standing(room.clientId, room.id, user_id);
			const lifted = await directory.lift(room.clientId, room.id, user_id, kind);
			await roomRpc(c.env, room.id).standingChanged(metaOf(room), user_id);
			// An expired one is gone as far as anyone can tell: lifting it is 404 too.
			if (!lifted || !inForce(target?.[kind] ?? null)) throw notFound(KINDS[kind].what);
			return c.body(null, 204);
		});
}

const base = new OpenAPIHono<AppEnv>()
	.openapi(setRole, async (c) => {
		const backend = requireBackend(await principalOf(c));
		const { room_id, user_id } = c.req.valid("param");
		const directory = directoryOf(c);
		const room = await roomFor(directory, backend, room_id);
		const membership = await directory.setRole(backend.clientId, room.id, user_id, c.req.valid("json").role);
		if (!membership) throw notFound("Member");
		await roomRpc(c.env, room.id).standingChanged(metaOf(room), user_id);
		return c.json(presentMember(membership), 200);
	})
	.openapi(updateRoom, async (c) => {
		const backend = requireBackend(await principalOf(c));
		const directory = directoryOf(c);
		const room = await roomFor(directory, backend, c.req.valid("param").room_id);
		const updated = await directory.setCooldown(backend.clientId, room.id, c.req.valid("json").cooldown_seconds);
		if (!updated) throw notFound("Room");
		await roomRpc(c.env, room.id).settingsChanged(metaOf(updated));
		return c.json(presentRoom(updated), 200);
	});

const banUser = createRoute({
	method: "post",
	path: "/user/{user_id}/ban",
	tags: ["Moderation"],
	summary: "Ban a user client-wide (backend only): their JWTs and `clientKey` user calls get `403 banned`, and their sockets close",
	description:
		"Closes (4003) the user's user sockets, their room sockets in the rooms they are members of, and their room sockets in public rooms they opened one to without being a member. A second ban replaces the first; `expires_at` ends it by itself.",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: UserIdParam, ...body(UserBanBody) },
	responses: { 201: json(UserBan, "The ban"), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404] },
});

const unbanUser = createRoute({
	method: "delete",
	path: "/user/{user_id}/ban",
	tags: ["Moderation"],
	summary: "Lift a client-wide ban (backend only)",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: UserIdParam },
	responses: { 204: { description: "Lifted" }, 401: errors[401], 403: errors[403], 404: errors[404] },
});

/**
 * Closes a user's sockets: their gateway shard's user sockets, and room sockets in every room they
 * are a member of and in every public room they opened one to without being a member (their
 * gateway keeps that list, written at those handshakes, and forgets those rooms once they closed them).
 */
async function disconnectEverywhere(c: AppContext, clientId: string, userId: string): Promise<void> {
	const gateway = gatewayStub(c.env, gatewayName(clientId, userId, configOf(c).gatewayShards));
	const closing: Promise<unknown>[] = [gateway.disconnectUser(userId)];
	const visits = await gateway.visits(userId);
	const rooms = new Set<string>(visits);
	const directory = directoryOf(c);
	let after: string | undefined;
	for (;;) {
		const page = await directory.listUserRooms(clientId, userId, { after, limit: ROOM_PAGE });
		for (const room of page) rooms.add(room.id);
		if (page.length < ROOM_PAGE) break;
		after = page[page.length - 1]?.id;
	}
	for (const roomId of rooms) closing.push(roomRpc(c.env, roomId).disconnectUser(userId));
	await Promise.all(closing);
	// Only once every room closed them (a failure keeps the rows for a retry of the ban); a visit after the ban is recorded anew.
	if (visits.length > 0) await gateway.forgetVisits(userId, visits);
}
const ROOM_PAGE = 200;

const userBans = new OpenAPIHono<AppEnv>()
	.openapi(banUser, async (c) => {
		const backend = requireBackend(await principalOf(c));
		const { user_id } = c.req.valid("param");
		const { reason, expires_at } = c.req.valid("json");
		const at = Date.now();
		const ban = { at, expiresAt: expiryOf(expires_at, at), reason: reason ?? null };
		if (!(await directoryOf(c).setUserBan(backend.clientId, user_id, ban))) throw notFound("User");
		// After the write: a socket opened from now on is refused at its handshake.
		await disconnectEverywhere(c, backend.clientId, user_id);
		const expiresAt = ban.expiresAt === null ? null : new Date(ban.expiresAt).toISOString();
		return c.json({ user_id, reason: ban.reason, expires_at: expiresAt, created_at: new Date(at).toISOString() }, 201);
	})
	.openapi(unbanUser, async (c) => {
		const backend = requireBackend(await principalOf(c));
		const { user_id } = c.req.valid("param");
		const directory = directoryOf(c);
		const user = await directory.getUser(backend.clientId, user_id);
		if (!user || user.bannedAt === null) throw notFound("Ban");
		await directory.setUserBan(backend.clientId, user_id, null);
		return c.body(null, 204);
	});

export const moderationRoutes = withRestrictions(withRestrictions(base, "ban", banRoutes), "mute", muteRoutes).route("/", userBans);
