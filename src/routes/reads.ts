import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { roomFor } from "../auth/access";
import { requirePrincipal, requireUser } from "../auth/credentials";
import type { Env } from "../env";
import { ApiError, banned, forbidden, notFound } from "../errors";
import type { Caller, ReadResult } from "../gateway/push";
import type { RoomSummary } from "../room/room-inbox";
import { roomRpc, roomStub } from "../room/stub";
import { ReadBody, ReadResult as ReadResultSchema, UnreadSummary } from "../schemas/room";
import { type AppEnv, directoryOf, principalOf } from "./context";
import { body, callers, errors, json, RoomIdParam, security, UserIdParam } from "./openapi";

/** Rooms asked at once while summing a user's unread counts. */
const CONCURRENCY = 16;
/** Rooms of a user summed by `GET /user/{user_id}/unread` at most. */
export const MAX_UNREAD_ROOMS = 2000;

const markRead = createRoute({
	method: "post",
	path: "/room/{room_id}/read",
	tags: ["Read state"],
	summary: "Move the user's read position in a room forward (what `mark_read` does on the user socket)",
	description:
		"A `seq` above the room's last is clamped to it; a lower one than the current position changes nothing and answers the current one. The user's user sockets get a `read` event.",
	security: security.user,
	middleware: [callers.user] as const,
	request: { params: RoomIdParam, ...body(ReadBody) },
	responses: {
		200: json(ReadResultSchema, "The read position and unread count"),
		400: errors[400],
		401: errors[401],
		403: errors[403],
		404: errors[404],
	},
});

const ReadPositions = z
	.object({ reads: z.array(z.object({ user_id: z.uuid(), last_read_seq: z.number().int().min(0) })) })
	.meta({ id: "ReadPositions" });

const reads = createRoute({
	method: "get",
	path: "/room/{room_id}/reads",
	tags: ["Read state"],
	summary: "Each member's read position (read receipts), ordered by user id",
	security: security.any,
	middleware: [callers.any] as const,
	request: { params: RoomIdParam },
	responses: { 200: json(ReadPositions, "Read positions"), 401: errors[401], 403: errors[403], 404: errors[404] },
});

const unread = createRoute({
	method: "get",
	path: "/user/{user_id}/unread",
	tags: ["Read state"],
	summary: "A user's unread counts, e.g. for a badge in an email or a push notification (the backend, or the user themself)",
	description: `Each room recounts from its log. Covers the user's first ${MAX_UNREAD_ROOMS} rooms.`,
	security: security.any,
	middleware: [callers.any] as const,
	request: { params: UserIdParam },
	responses: { 200: json(UnreadSummary, "Unread counts"), 401: errors[401], 403: errors[403], 404: errors[404] },
});

/** Each room's summary for the user, asked of the rooms themselves (exact at the time of the call). */
export async function summariesOf(env: Env, caller: Caller, roomIds: string[]): Promise<RoomSummary[]> {
	const out: RoomSummary[] = new Array(roomIds.length);
	let next = 0;
	const worker = async () => {
		while (next < roomIds.length) {
			const index = next++;
			const roomId = roomIds[index] as string;
			const result = await roomStub(env, roomId).summary(caller);
			out[index] = result.ok
				? { room_id: roomId, last_seq: result.last_seq, last_read_seq: result.last_read_seq, unread: result.unread }
				: { room_id: roomId, last_seq: 0, last_read_seq: 0, unread: 0 };
		}
	};
	await Promise.all(Array.from({ length: Math.min(CONCURRENCY, roomIds.length) }, worker));
	return out;
}

const readOrThrow = (result: ReadResult) => {
	if (result.ok) return result;
	if (result.code === "not_found") throw notFound("Room");
	if (result.code === "forbidden") throw forbidden("This room is private and you are not a member");
	if (result.code === "banned") throw banned();
	throw new ApiError(429, "rate_limited", "Slow down");
};

export const readRoutes = new OpenAPIHono<AppEnv>()
	.openapi(markRead, async (c) => {
		const user = requireUser(await principalOf(c));
		const room = await roomFor(directoryOf(c), user, c.req.valid("param").room_id);
		const result = readOrThrow(
			await roomStub(c.env, room.id).markRead({ clientId: user.clientId, userId: user.userId }, c.req.valid("json").seq),
		);
		return c.json({ room_id: room.id, last_read_seq: result.last_read_seq, unread: result.unread }, 200);
	})
	.openapi(reads, async (c) => {
		const principal = requirePrincipal(await principalOf(c));
		const room = await roomFor(directoryOf(c), principal, c.req.valid("param").room_id);
		return c.json({ reads: await roomRpc(c.env, room.id).reads(principal.clientId) }, 200);
	})
	.openapi(unread, async (c) => {
		const principal = requirePrincipal(await principalOf(c));
		const { user_id } = c.req.valid("param");
		const directory = directoryOf(c);
		if (!(await directory.getUser(principal.clientId, user_id))) throw notFound("User");
		if (principal.kind === "user" && principal.userId !== user_id) throw forbidden("Users may read only their own unread counts");
		const roomIds: string[] = [];
		let after: string | undefined;
		while (roomIds.length < MAX_UNREAD_ROOMS) {
			const page = await directory.listUserRooms(principal.clientId, user_id, { after, limit: 200 });
			roomIds.push(...page.map((r) => r.id));
			if (page.length < 200) break;
			after = page[page.length - 1]?.id;
		}
		const summaries = await summariesOf(c.env, { clientId: principal.clientId, userId: user_id }, roomIds.slice(0, MAX_UNREAD_ROOMS));
		const rooms = summaries.filter((s) => s.unread > 0);
		return c.json({ unread_total: rooms.reduce((sum, s) => sum + s.unread, 0), rooms }, 200);
	});
