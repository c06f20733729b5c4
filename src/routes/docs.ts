import { swaggerUI } from "@hono/swagger-ui";
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { asyncApiDocument } from "../protocol/asyncapi";
import type { AppEnv } from "./context";
import { json } from "./openapi";

export const OPENAPI_INFO = {
	title: "Roomkit chat API",
	version: "1.0.0",
	description:
		"Multi-tenant chat: your backend creates users and rooms with its API token, your users chat over REST and WebSockets. The WebSocket protocol is described in [/asyncapi.json](/asyncapi.json).",
};

/** Registers /openapi.json, /docs, /asyncapi.json and /health on the app. */
export function mountDocs(app: OpenAPIHono<AppEnv>) {
	const registry = app.openAPIRegistry;
	registry.registerComponent("securitySchemes", "clientKey", {
		type: "apiKey",
		in: "header",
		name: "clientKey",
		description: "`<api_token>`: act as the client's backend",
	});
	registry.registerComponent("securitySchemes", "clientKeyUser", {
		type: "apiKey",
		in: "header",
		name: "clientKey",
		description: "`<api_token>.<user_id>`: act as that user from your backend",
	});
	registry.registerComponent("securitySchemes", "bearerJwt", {
		type: "http",
		scheme: "bearer",
		bearerFormat: "JWT",
		description: "A user JWT from POST /auth/{user_id}",
	});
	registry.registerComponent("securitySchemes", "adminToken", {
		type: "http",
		scheme: "bearer",
		description: "ADMIN_TOKEN, for /admin routes",
	});
	app.doc31("/openapi.json", (c) => ({
		openapi: "3.1.0",
		info: OPENAPI_INFO,
		servers: [{ url: new URL(c.req.url).origin }],
		externalDocs: { description: "WebSocket protocol (AsyncAPI 3.0)", url: "/asyncapi.json" },
	}));
	app.get("/docs", swaggerUI({ url: "/openapi.json", title: "Roomkit chat API" }));
	app.get("/asyncapi.json", (c) => c.json(asyncApiDocument(new URL(c.req.url).origin)));
	// In the document too, so /docs lists every route a caller can use (the docs themselves aside).
	const health = createRoute({
		method: "get",
		path: "/health",
		tags: ["Operations"],
		summary: "Liveness check; needs no credentials",
		security: [],
		responses: { 200: json(z.object({ status: z.literal("ok") }).meta({ id: "Health" }), "The service is up") },
	});
	app.openapi(health, (c) => c.json({ status: "ok" as const }, 200));
}
