import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { inForce, roomFor, standingFor } from "../auth/access";
import { requireBackend, requirePrincipal, requireUser } from "../auth/credentials";
import { badRequest, banned, forbidden, notFound } from "../errors";
import { uuidv7 } from "../ids";
import { roomStub } from "../room/stub";
import { PageQuery } from "../schemas/common";
import { AddMemberBody, CreateRoomBody, Member, MemberPage, Room } from "../schemas/room";
import { type AppEnv, directoryOf, pageSizeOf, principalOf } from "./context";
import { body, callers, errors, json, RoomIdParam, security } from "./openapi";
import { nextCursor, presentMember, presentRoom } from "./present";

const createRoom = createRoute({
	method: "post",
	path: "/room",
	tags: ["Rooms"],
	summary: "Create a room; a user who creates it becomes a member",
	security: security.any,
	middleware: [callers.any] as const,
	request: body(CreateRoomBody),
	responses: { 201: json(Room, "The room"), 400: errors[400], 401: errors[401] },
});

const getRoom = createRoute({
	method: "get",
	path: "/room/{room_id}",
	tags: ["Rooms"],
	summary: "Get a room",
	security: security.any,
	middleware: [callers.any] as const,
	request: { params: RoomIdParam },
	responses: { 200: json(Room, "The room"), 401: errors[401], 403: errors[403], 404: errors[404] },
});

const joinRoom = createRoute({
	method: "post",
	path: "/room/{room_id}/join",
	tags: ["Rooms"],
	summary: "Become a member of a public room (as a user); for a member of a private room it changes nothing",
	security: security.user,
	middleware: [callers.user] as const,
	request: { params: RoomIdParam },
	responses: { 200: json(Member, "The membership"), 401: errors[401], 403: errors[403], 404: errors[404] },
});

const listMembers = createRoute({
	method: "get",
	path: "/room/{room_id}/members",
	tags: ["Members"],
	summary: "List a room's members",
	security: security.any,
	middleware: [callers.any] as const,
	request: { params: RoomIdParam, query: PageQuery },
	responses: { 200: json(MemberPage, "A page of members"), 401: errors[401], 403: errors[403], 404: errors[404] },
});

const addMember = createRoute({
	method: "post",
	path: "/room/{room_id}/members",
	tags: ["Members"],
	summary: "Add a user to a room (backend only)",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: RoomIdParam, ...body(AddMemberBody) },
	responses: {
		200: json(Member, "Already a member"),
		201: json(Member, "Added"),
		400: errors[400],
		401: errors[401],
		403: errors[403],
		404: errors[404],
	},
});

const removeMember = createRoute({
	method: "delete",
	path: "/room/{room_id}/members/{user_id}",
	tags: ["Members"],
	summary: "Remove a user from a room (backend only); their sockets in a private room are closed with 4003",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: RoomIdParam.extend({ user_id: AddMemberBody.shape.user_id }) },
	responses: { 204: { description: "Removed" }, 401: errors[401], 403: errors[403], 404: errors[404] },
});

export const roomRoutes = new OpenAPIHono<AppEnv>()
	.openapi(createRoom, async (c) => {
		const principal = requirePrincipal(await principalOf(c));
		const input = c.req.valid("json");
		const directory = directoryOf(c);
		const members = [...new Set(input.members ?? [])];
		const known = new Set(await directory.existingUserIds(principal.clientId, members));
		const unknown = members.filter((id) => !known.has(id));
		if (unknown.length > 0) {
			throw badRequest(
				"Unknown members",
				unknown.map((id) => ({ path: `members.${members.indexOf(id)}`, message: `No user ${id} in this client` })),
			);
		}
		if (principal.kind === "user" && !members.includes(principal.userId)) members.push(principal.userId);
		const row = {
			id: uuidv7(),
			clientId: principal.clientId,
			name: input.name ?? null,
			private: input.private ?? false,
			createdBy: principal.kind === "user" ? principal.userId : null,
			createdAt: Date.now(),
			cooldownSeconds: 0,
		};
		await directory.createRoom(row, members);
		// The room keeps its own member list for unread counts and user-socket pushes. Should this call
		// fail, the room loads the list from the directory the first time it is used.
		await roomStub(c.env, row.id)
			.created({ clientId: row.clientId, private: row.private }, members, row.createdBy ?? undefined)
			.catch((error: unknown) => console.error(JSON.stringify({ msg: "room creation not told to the room", error: String(error) })));
		return c.json(presentRoom(row), 201);
	})
	.openapi(getRoom, async (c) => {
		const principal = requirePrincipal(await principalOf(c));
		const room = await roomFor(directoryOf(c), principal, c.req.valid("param").room_id);
		return c.json(presentRoom(room), 200);
	})
	.openapi(joinRoom, async (c) => {
		const user = requireUser(await principalOf(c));
		const directory = directoryOf(c);
		// A banned user may not join (403 banned) until the ban ends.
		const { room, membership: current } = await standingFor(directory, user, c.req.valid("param").room_id);
		// Joining stays idempotent for members of a private room; everyone else needs an invitation.
		if (room.private && !current) {
			throw forbidden("Private rooms are joined only by invitation (POST /room/{room_id}/members)");
		}
		const row = { roomId: room.id, userId: user.userId, clientId: user.clientId, createdAt: Date.now() };
		const { membership } = await directory.addMember(row);
		// Told every time, so a retry after a failed call here repairs the room's copy.
		await roomStub(c.env, room.id).memberAdded({ clientId: room.clientId, private: room.private }, user.userId);
		return c.json(presentMember(membership), 200);
	})
	.openapi(listMembers, async (c) => {
		const principal = requirePrincipal(await principalOf(c));
		const directory = directoryOf(c);
		const room = await roomFor(directory, principal, c.req.valid("param").room_id);
		const { limit, cursor } = c.req.valid("query");
		const pageSize = pageSizeOf(c, limit);
		const rows = await directory.listMembers(principal.clientId, room.id, { after: cursor, limit: pageSize });
		return c.json({ members: rows.map(presentMember), next_cursor: nextCursor(rows, pageSize, (r) => r.userId) }, 200);
	})
	.openapi(addMember, async (c) => {
		const backend = requireBackend(await principalOf(c));
		const directory = directoryOf(c);
		const room = await roomFor(directory, backend, c.req.valid("param").room_id);
		const { user_id } = c.req.valid("json");
		if (!(await directory.getUser(backend.clientId, user_id))) throw notFound("User");
		// A banned user comes back only once the ban is lifted or over.
		if (inForce((await directory.standing(backend.clientId, room.id, user_id))?.ban ?? null)) {
			throw banned("This user is banned from this room; lift the ban first");
		}
		const row = { roomId: room.id, userId: user_id, clientId: backend.clientId, createdAt: Date.now() };
		const { added, membership } = await directory.addMember(row);
		await roomStub(c.env, room.id).memberAdded({ clientId: room.clientId, private: room.private }, user_id);
		return c.json(presentMember(membership), added ? 201 : 200);
	})
	.openapi(removeMember, async (c) => {
		const backend = requireBackend(await principalOf(c));
		const directory = directoryOf(c);
		const { room_id, user_id } = c.req.valid("param");
		const room = await roomFor(directory, backend, room_id);
		const removed = await directory.removeMember(backend.clientId, room.id, user_id);
		// Told even when the directory had no such member, so a retry after a failed call repairs the room's copy;
		// in a private room this also closes the user's room sockets (4003) and sends `room_removed` on user sockets.
		await roomStub(c.env, room.id).memberRemoved({ clientId: room.clientId, private: room.private }, user_id);
		if (!removed) throw notFound("Member");
		return c.body(null, 204);
	});
