import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { loadConfig } from "./config";
import { demoRoutes } from "./demo/routes";
import { ApiError, badRequest, fieldsFromIssues } from "./errors";
import { adminRoutes } from "./routes/admin";
import { authRoutes } from "./routes/auth";
import type { AppEnv } from "./routes/context";
import { conversationRoutes } from "./routes/conversation";
import { mountDocs } from "./routes/docs";
import { flagRoutes } from "./routes/flags";
import { messageRoutes } from "./routes/messages";
import { moderationRoutes } from "./routes/moderation";
import { presenceRoutes } from "./routes/presence";
import { readRoutes } from "./routes/reads";
import { realtimeRoutes } from "./routes/realtime";
import { roomEventRoutes } from "./routes/room-events";
import { roomRoutes } from "./routes/rooms";
import { userRoutes } from "./routes/users";
import { kickWebhooks, registerWebhookPayloads, webhookRoutes } from "./routes/webhooks";

/** Renders any error as `{"error": {"code", "message"}}`; unknown errors are logged, never shown. */
function renderError(err: Error): Response {
	if (err instanceof ApiError) {
		// Slow mode says how long to wait, in the body and as Retry-After (whole seconds, rounded up).
		const wait = err.details?.retry_after_ms;
		const headers = typeof wait === "number" ? { "Retry-After": String(Math.ceil(wait / 1000)) } : undefined;
		return Response.json(err.toJSON(), { status: err.status, headers });
	}
	if (err instanceof HTTPException) {
		// Hono's own validators throw these, e.g. for a body that is not JSON.
		const malformed = err.status === 400;
		const apiError = new ApiError(err.status as 400, malformed ? "invalid_json" : "validation_failed", err.message || "Bad request");
		return Response.json(apiError.toJSON(), { status: err.status });
	}
	console.error(JSON.stringify({ msg: "unhandled error", error: String(err), stack: err.stack }));
	return Response.json({ error: { code: "internal_error", message: "Something went wrong on our side" } }, { status: 500 });
}

export function createApp() {
	const app = new OpenAPIHono<AppEnv>({
		defaultHook: (result) => {
			if (!result.success) throw badRequest("Invalid request", fieldsFromIssues(result.error.issues));
		},
	});

	// One structured line per request: never a token, a query string or a body.
	app.use(async (c, next) => {
		if (!loadConfig(c.env).logRequests) return next();
		const started = Date.now();
		await next();
		console.log(
			JSON.stringify({
				method: c.req.method,
				route: c.req.routePath,
				status: c.res.status,
				duration_ms: Date.now() - started,
				client_id: c.get("clientId") ?? null,
			}),
		);
	});
	app.use((c, next) => {
		const { corsOrigins } = loadConfig(c.env);
		return cors({
			origin: corsOrigins,
			allowHeaders: ["Authorization", "Content-Type", "clientKey"],
			allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
			maxAge: 600,
		})(c, next);
	});
	app.use(kickWebhooks);
	app.use(
		bodyLimit({
			maxSize: 64 * 1024,
			onError: () => {
				throw new ApiError(413, "payload_too_large", "Request bodies are limited to 64 KiB");
			},
		}),
	);

	app.route("/", adminRoutes);
	app.route("/", authRoutes);
	app.route("/", userRoutes);
	app.route("/", roomRoutes);
	app.route("/", messageRoutes);
	app.route("/", conversationRoutes);
	app.route("/", readRoutes);
	app.route("/", presenceRoutes);
	app.route("/", realtimeRoutes);
	app.route("/", webhookRoutes);
	app.route("/", roomEventRoutes);
	app.route("/", flagRoutes);
	app.route("/", moderationRoutes);
	registerWebhookPayloads(app.openAPIRegistry);
	mountDocs(app);
	app.route("/", demoRoutes);

	app.notFound(() => renderError(new ApiError(404, "not_found", "No such route")));
	app.onError((err) => renderError(err));
	return app;
}
