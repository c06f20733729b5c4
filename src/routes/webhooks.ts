import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { requireBackend } from "../auth/credentials";
import { ApiError, badRequest, notConfigured, notFound } from "../errors";
import { ErrorBody } from "../schemas/common";
import {
	CreateWebhookBody,
	DeliveryIdParam,
	DeliveryPage,
	DeliveryQuery,
	Delivery as DeliverySchema,
	RotatedWebhook,
	UpdateWebhookBody,
	Webhook,
	WebhookIdParam,
	WebhookList,
	WebhookWithSecret,
} from "../schemas/webhook";
import { encryptionSecretOf, loadWebhookConfig } from "../webhooks/config";
import { EVENT_TYPES, payloadSchema } from "../webhooks/events";
import { dispatcherStub } from "../webhooks/stub";
import { checkTargetUrl } from "../webhooks/url-policy";
import { type AppContext, type AppEnv, pageSizeOf, principalOf } from "./context";
import { body, callers, errors, json, security } from "./openapi";

const tags = ["Webhooks"];

const createWebhook = createRoute({
	method: "post",
	path: "/webhooks",
	tags,
	summary: "Register an endpoint; the response carries its signing secret, shown only this once",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: body(CreateWebhookBody),
	responses: {
		201: json(WebhookWithSecret, "The endpoint and its secret"),
		400: errors[400],
		401: errors[401],
		403: errors[403],
		503: errors[503],
	},
});

const listWebhooks = createRoute({
	method: "get",
	path: "/webhooks",
	tags,
	summary: "List your endpoints",
	security: security.backend,
	middleware: [callers.backend] as const,
	responses: { 200: json(WebhookList, "Your endpoints"), 401: errors[401], 403: errors[403] },
});

const getWebhook = createRoute({
	method: "get",
	path: "/webhooks/{webhook_id}",
	tags,
	summary: "Get an endpoint",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: WebhookIdParam },
	responses: { 200: json(Webhook, "The endpoint"), 401: errors[401], 403: errors[403], 404: errors[404] },
});

const updateWebhook = createRoute({
	method: "patch",
	path: "/webhooks/{webhook_id}",
	tags,
	summary: "Change an endpoint's URL or events, or pause and resume it",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: WebhookIdParam, ...body(UpdateWebhookBody) },
	responses: { 200: json(Webhook, "The endpoint"), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404] },
});

const deleteWebhook = createRoute({
	method: "delete",
	path: "/webhooks/{webhook_id}",
	tags,
	summary: "Delete an endpoint and everything still owed to it",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: WebhookIdParam },
	responses: { 204: { description: "Deleted" }, 401: errors[401], 403: errors[403], 404: errors[404] },
});

const rotateSecret = createRoute({
	method: "post",
	path: "/webhooks/{webhook_id}/rotate-secret",
	tags,
	summary: "Issue a new secret; the old one keeps signing beside it for 24 hours (WEBHOOK_SECRET_OVERLAP_SECONDS)",
	description:
		"One rotation at a time: while the previous secret is still within its overlap, another rotation is refused with `409 rotation_in_progress` (`error.previous_secret_expires_at` says when it may be retried), so every secret signs for its whole overlap.",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: WebhookIdParam },
	responses: {
		200: json(RotatedWebhook, "The endpoint and its new secret"),
		401: errors[401],
		403: errors[403],
		404: errors[404],
		409: json(ErrorBody, "The previous secret is still within its overlap (`rotation_in_progress`)"),
	},
});

const listDeliveries = createRoute({
	method: "get",
	path: "/webhooks/{webhook_id}/deliveries",
	tags,
	summary: "An endpoint's deliveries, newest first: status, attempts, last response, next attempt",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: WebhookIdParam, query: DeliveryQuery },
	responses: { 200: json(DeliveryPage, "A page of deliveries"), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404] },
});

const retryDelivery = createRoute({
	method: "post",
	path: "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
	tags,
	summary: "Attempt a delivery again now, with a fresh retry schedule (also one that failed or succeeded)",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: DeliveryIdParam },
	responses: { 202: json(DeliverySchema, "Queued"), 401: errors[401], 403: errors[403], 404: errors[404] },
});

async function backendOf(c: AppContext) {
	return requireBackend(await principalOf(c));
}

function targetUrl(c: AppContext, url: string): string {
	const verdict = checkTargetUrl(url, loadWebhookConfig(c.env).allowInsecure);
	if (!verdict.ok) throw badRequest("Refused webhook URL", [{ path: "url", message: `url ${verdict.reason}` }]);
	return verdict.url;
}

export const webhookRoutes = new OpenAPIHono<AppEnv>()
	.openapi(createWebhook, async (c) => {
		const { clientId } = await backendOf(c);
		if (!encryptionSecretOf(c.env)) throw notConfigured("Webhooks need WEBHOOK_ENCRYPTION_KEY (or JWT_SECRET) on the server");
		const input = c.req.valid("json");
		const url = targetUrl(c, input.url);
		const created = await dispatcherStub(c.env, clientId).createEndpoint(clientId, url, input.events ?? null);
		if ("error" in created) throw badRequest(`A client has at most ${loadWebhookConfig(c.env).maxEndpoints} webhook endpoints`);
		return c.json({ ...created.endpoint, secret: created.secret }, 201);
	})
	.openapi(listWebhooks, async (c) => {
		const { clientId } = await backendOf(c);
		return c.json({ webhooks: await dispatcherStub(c.env, clientId).listEndpoints(clientId) }, 200);
	})
	.openapi(getWebhook, async (c) => {
		const { clientId } = await backendOf(c);
		const endpoint = await dispatcherStub(c.env, clientId).getEndpoint(clientId, c.req.valid("param").webhook_id);
		if (!endpoint) throw notFound("Webhook");
		return c.json(endpoint, 200);
	})
	.openapi(updateWebhook, async (c) => {
		const { clientId } = await backendOf(c);
		const input = c.req.valid("json");
		const patch = { ...input, url: input.url === undefined ? undefined : targetUrl(c, input.url) };
		const endpoint = await dispatcherStub(c.env, clientId).updateEndpoint(clientId, c.req.valid("param").webhook_id, patch);
		if (!endpoint) throw notFound("Webhook");
		return c.json(endpoint, 200);
	})
	.openapi(deleteWebhook, async (c) => {
		const { clientId } = await backendOf(c);
		if (!(await dispatcherStub(c.env, clientId).deleteEndpoint(clientId, c.req.valid("param").webhook_id))) throw notFound("Webhook");
		return c.body(null, 204);
	})
	.openapi(rotateSecret, async (c) => {
		const { clientId } = await backendOf(c);
		const rotated = await dispatcherStub(c.env, clientId).rotateSecret(clientId, c.req.valid("param").webhook_id);
		if (!rotated) throw notFound("Webhook");
		if ("error" in rotated) {
			throw new ApiError(
				409,
				"rotation_in_progress",
				"The previous secret still signs until previous_secret_expires_at; rotate again after that",
				undefined,
				{ previous_secret_expires_at: rotated.previous_secret_expires_at },
			);
		}
		return c.json({ ...rotated.endpoint, secret: rotated.secret, previous_secret_expires_at: rotated.previous_secret_expires_at }, 200);
	})
	.openapi(listDeliveries, async (c) => {
		const { clientId } = await backendOf(c);
		const { limit, cursor } = c.req.valid("query");
		const page = await dispatcherStub(c.env, clientId).listDeliveries(
			clientId,
			c.req.valid("param").webhook_id,
			pageSizeOf(c, limit),
			cursor === undefined ? undefined : Number(cursor),
		);
		if (!page) throw notFound("Webhook");
		return c.json(page, 200);
	})
	.openapi(retryDelivery, async (c) => {
		const { clientId } = await backendOf(c);
		const { webhook_id, delivery_id } = c.req.valid("param");
		const delivery = await dispatcherStub(c.env, clientId).retryDelivery(clientId, webhook_id, delivery_id);
		if (!delivery) throw notFound("Delivery");
		return c.json(delivery, 202);
	});

/**
 * Routes whose success may have written directory events (the outbox triggers in migrations/0001
 * and 0002 fire on users and rooms created and on memberships added or deleted): user and room
 * creation, join, member add and remove, a room ban (it deletes the membership), a report. Role
 * changes, mutes, lifting a ban and client-wide bans update rows the triggers do not watch.
 */
const DIRECTORY_CHANGES = [
	/^\/user$/,
	/^\/room$/,
	/^\/room\/[^/]+\/join$/,
	/^\/room\/[^/]+\/members(\/[^/]+)?$/,
	// A ban ends the membership (member.removed).
	/^\/room\/[^/]+\/bans$/,
	/^\/room\/[^/]+\/messages\/[^/]+\/flag$/,
];

/**
 * After a successful change to users, rooms or memberships, tells the client's dispatcher to take
 * its outbox now. The events are already stored with the change; a kick lost in a crash only
 * delays them until the dispatcher's next sweep (WEBHOOK_SWEEP_SECONDS).
 */
export const kickWebhooks = createMiddleware<AppEnv>(async (c, next) => {
	await next();
	// A host without a dispatcher keeps no webhooks (every host here binds one).
	if (!c.env.WEBHOOKS || c.req.method === "GET" || c.res.status >= 300) return;
	const clientId = c.get("clientId");
	const path = new URL(c.req.url).pathname;
	if (!clientId || !DIRECTORY_CHANGES.some((route) => route.test(path))) return;
	const kick = dispatcherStub(c.env, clientId)
		.kick(clientId)
		.catch((error: unknown) => console.error(JSON.stringify({ msg: "webhook kick failed", error: String(error) })));
	c.executionCtx.waitUntil(kick);
});

/** The payloads in the OpenAPI 3.1 `webhooks` section: what each endpoint receives, per type. */
export function registerWebhookPayloads(registry: OpenAPIHono<AppEnv>["openAPIRegistry"]) {
	const headers = z.object({
		"webhook-id": z.string().meta({ description: "The event's id: the same on every attempt; de-duplicate on it" }),
		"webhook-timestamp": z.string().meta({ description: "Unix seconds of this attempt; reject ones more than 5 minutes away" }),
		"webhook-signature": z.string().meta({
			description:
				'Space-separated `v1,<base64 HMAC-SHA256>` over `"{webhook-id}.{webhook-timestamp}.{raw body}"`, keyed by the base64-decoded part of the `whsec_` secret; two during a rotation',
		}),
	});
	for (const type of EVENT_TYPES) {
		registry.registerWebhook({
			method: "post",
			path: type,
			tags,
			summary: `${type} (Standard Webhooks 1.0)`,
			request: { headers, body: { content: { "application/json": { schema: payloadSchema(type) } }, required: true } },
			responses: {
				200: { description: "Any 2xx acknowledges the event" },
				410: { description: "Disables the endpoint" },
				429: { description: "Retried later, honouring Retry-After" },
			},
		});
	}
}
