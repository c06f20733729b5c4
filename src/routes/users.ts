import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { requireBackend, requirePrincipal } from "../auth/credentials";
import { forbidden, notFound } from "../errors";
import { uuidv7 } from "../ids";
import { PageQuery } from "../schemas/common";
import { UserRoomPage } from "../schemas/room";
import { CreateUserBody, User, UserPage } from "../schemas/user";
import { type AppEnv, directoryOf, pageSizeOf, principalOf } from "./context";
import { body, callers, errors, json, security, UserIdParam } from "./openapi";
import { nextCursor, presentRoom, presentUser } from "./present";
import { summariesOf } from "./reads";

const createUser = createRoute({
	method: "post",
	path: "/user",
	tags: ["Users"],
	summary: "Create a user; store the returned `id` in your system",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: body(CreateUserBody),
	responses: { 201: json(User, "The user"), 400: errors[400], 401: errors[401], 403: errors[403] },
});

const getUser = createRoute({
	method: "get",
	path: "/user/{user_id}",
	tags: ["Users"],
	summary: "Get a user of your client",
	security: security.any,
	middleware: [callers.any] as const,
	request: { params: UserIdParam },
	responses: { 200: json(User, "The user"), 401: errors[401], 404: errors[404] },
});

const listUsers = createRoute({
	method: "get",
	path: "/user",
	tags: ["Users"],
	summary: "List your client's users, oldest first",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { query: PageQuery },
	responses: { 200: json(UserPage, "A page of users"), 400: errors[400], 401: errors[401], 403: errors[403] },
});

const userRooms = createRoute({
	method: "get",
	path: "/user/{user_id}/rooms",
	tags: ["Users"],
	summary: "Rooms the user is a member of, with their read state and unread count (the backend, or the user themself)",
	security: security.any,
	middleware: [callers.any] as const,
	request: { params: UserIdParam, query: PageQuery },
	responses: { 200: json(UserRoomPage, "A page of rooms"), 401: errors[401], 403: errors[403], 404: errors[404] },
});

export const userRoutes = new OpenAPIHono<AppEnv>()
	.openapi(createUser, async (c) => {
		const backend = requireBackend(await principalOf(c));
		const input = c.req.valid("json");
		const row = {
			id: uuidv7(),
			clientId: backend.clientId,
			name: input.name ?? null,
			metadata: input.metadata === undefined ? null : JSON.stringify(input.metadata),
			createdAt: Date.now(),
		};
		await directoryOf(c).createUser(row);
		return c.json(presentUser(row), 201);
	})
	.openapi(listUsers, async (c) => {
		const backend = requireBackend(await principalOf(c));
		const { limit, cursor } = c.req.valid("query");
		const pageSize = pageSizeOf(c, limit);
		const rows = await directoryOf(c).listUsers(backend.clientId, { after: cursor, limit: pageSize });
		return c.json({ users: rows.map(presentUser), next_cursor: nextCursor(rows, pageSize, (r) => r.id) }, 200);
	})
	.openapi(getUser, async (c) => {
		const principal = requirePrincipal(await principalOf(c));
		const user = await directoryOf(c).getUser(principal.clientId, c.req.valid("param").user_id);
		if (!user) throw notFound("User");
		return c.json(presentUser(user), 200);
	})
	.openapi(userRooms, async (c) => {
		const principal = requirePrincipal(await principalOf(c));
		const { user_id } = c.req.valid("param");
		const directory = directoryOf(c);
		if (!(await directory.getUser(principal.clientId, user_id))) throw notFound("User");
		if (principal.kind === "user" && principal.userId !== user_id) throw forbidden("Users may list only their own rooms");
		const { limit, cursor } = c.req.valid("query");
		const pageSize = pageSizeOf(c, limit);
		const rows = await directory.listUserRooms(principal.clientId, user_id, { after: cursor, limit: pageSize });
		const states = await summariesOf(
			c.env,
			{ clientId: principal.clientId, userId: user_id },
			rows.map((r) => r.id),
		);
		const rooms = rows.map((row, i) => {
			const { last_seq, last_read_seq, unread } = states[i] ?? { last_seq: 0, last_read_seq: 0, unread: 0 };
			return { ...presentRoom(row), last_seq, last_read_seq, unread };
		});
		return c.json({ rooms, next_cursor: nextCursor(rows, pageSize, (r) => r.id) }, 200);
	});
