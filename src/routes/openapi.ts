import { z } from "zod";
import { ErrorBody } from "../schemas/common";

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
	409: error("Conflict"),
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
