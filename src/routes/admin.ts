import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { hashApiToken, isAdminToken, newApiToken } from "../auth/api-token";
import { bearerOf } from "../auth/credentials";
import { notConfigured, notFound, unauthorized } from "../errors";
import { uuidv7 } from "../ids";
import { ClientWithToken, CreateClientBody } from "../schemas/client";
import { type AppContext, type AppEnv, directoryOf } from "./context";
import { body, errors, json, security } from "./openapi";
import { presentClient } from "./present";

/** Admin routes exist only when ADMIN_TOKEN is set; they are never open. */
async function requireAdmin(c: AppContext) {
	const configured = c.env.ADMIN_TOKEN;
	if (!configured) throw notConfigured("ADMIN_TOKEN is not set, so admin routes are disabled");
	const offered = bearerOf(c.req.header("Authorization"));
	if (!offered || !(await isAdminToken(offered, configured))) throw unauthorized("Admin routes need `Authorization: Bearer <ADMIN_TOKEN>`");
}

// Runs before the route's validators: without ADMIN_TOKEN every admin request is 503, without the token 401.
const adminOnly = createMiddleware<AppEnv>(async (c, next) => {
	await requireAdmin(c);
	await next();
});

const createClient = createRoute({
	method: "post",
	path: "/admin/clients",
	tags: ["Admin"],
	summary: "Create a client (an integrating product) and its API token",
	security: security.admin,
	middleware: [adminOnly] as const,
	request: body(CreateClientBody),
	responses: {
		201: json(ClientWithToken, "The client; `api_token` is shown only now"),
		400: errors[400],
		401: errors[401],
		503: errors[503],
	},
});

const rotateToken = createRoute({
	method: "post",
	path: "/admin/clients/{client_id}/rotate-token",
	tags: ["Admin"],
	summary: "Replace a client's API token; the old one stops working at once",
	security: security.admin,
	middleware: [adminOnly] as const,
	request: { params: z.object({ client_id: z.uuid() }) },
	responses: { 200: json(ClientWithToken, "The client with its new token"), 401: errors[401], 404: errors[404], 503: errors[503] },
});

export const adminRoutes = new OpenAPIHono<AppEnv>()
	.openapi(createClient, async (c) => {
		const { name } = c.req.valid("json");
		const apiToken = newApiToken();
		const row = { id: uuidv7(), name, apiTokenHash: await hashApiToken(apiToken), createdAt: Date.now() };
		await directoryOf(c).createClient(row);
		c.set("clientId", row.id);
		return c.json({ ...presentClient(row), api_token: apiToken }, 201);
	})
	.openapi(rotateToken, async (c) => {
		const { client_id } = c.req.valid("param");
		const apiToken = newApiToken();
		const row = await directoryOf(c).setClientTokenHash(client_id, await hashApiToken(apiToken));
		if (!row) throw notFound("Client");
		c.set("clientId", row.id);
		return c.json({ ...presentClient(row), api_token: apiToken }, 200);
	});
