import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { requireBackend, requirePrincipal, requireUser } from "../auth/credentials";
import { ErrorBody } from "../schemas/common";
import { type AppEnv, principalOf } from "./context";

/** Shared pieces of the route definitions. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
	content: { "application/json": { schema } },
	description,
});

export const body = <T extends z.ZodType>(schema: T) => ({
	body: { content: { "application/json": { schema } }, required: true },
});

const error = (description: string) => json(ErrorBody, description);

export const errors = {
	400: error("Invalid input; `fields` lists what is wrong"),
	401: error("Missing or invalid credentials"),
	403: error("Not allowed for these credentials"),
	404: error("Not found (or belongs to another client)"),
	409: error("The message was deleted (`message_deleted`)"),
	413: error("Body larger than 64 KiB"),
	429: error("Rate limited"),
	503: error("Not configured on this server"),
} as const;

type Security = Array<Record<string, string[]>>;

export const security: Record<"backend" | "user" | "any" | "admin", Security> = {
	backend: [{ clientKey: [] }],
	user: [{ bearerJwt: [] }, { clientKeyUser: [] }],
	any: [{ clientKey: [] }, { bearerJwt: [] }, { clientKeyUser: [] }],
	admin: [{ adminToken: [] }],
};

export const RoomIdParam = z.object({ room_id: z.uuid() });
export const UserIdParam = z.object({ user_id: z.uuid() });
export const MessageIdParam = RoomIdParam.extend({ message_id: z.uuid() });

/**
 * Route middleware that checks the caller before the route's validators run, so a bad request
 * from an unknown caller is 401 (or 403 for the wrong kind of caller), not a validation error,
 * and the log line of a request that fails validation still names its client.
 */
const caller = (check: typeof requirePrincipal) =>
	createMiddleware<AppEnv>(async (c, next) => {
		check(await principalOf(c));
		await next();
	});

export const callers = { backend: caller(requireBackend), user: caller(requireUser), any: caller(requirePrincipal) };
