// Webhook endpoints over REST inside workerd: shapes, validation and the SSRF policy, who may
// call, tenant isolation, the secret at rest, the room events feed and the OpenAPI document.
// Deliveries themselves are tested over real TCP on bare workerd (test/e2e/webhooks.test.ts).
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { dispatcherStub } from "../../src/webhooks/stub";
import { call, callWithEnv, room, type Tenant, tenant } from "./helpers";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Never resolves (RFC 6761), so attempts made meanwhile fail fast and reach nobody.
const URL_A = "https://hooks.invalid/a";

let a: Tenant;
let b: Tenant;
/** A client without endpoints: its changes make no delivery attempts. */
let quiet: Tenant;

beforeAll(async () => {
	a = await tenant(1, "hooks-a");
	b = await tenant(1, "hooks-b");
	quiet = await tenant(1, "hooks-quiet");
});

const create = (t: Tenant, body: unknown) => call("POST", "/webhooks", t.backend, body);

describe("POST /webhooks", () => {
	it("creates an endpoint and shows its secret once", async () => {
		const res = await create(a, { url: URL_A, events: ["message.new", "member.added"] });
		expect(res).toMatchObject({
			status: 201,
			json: {
				id: expect.stringMatching(UUID),
				url: URL_A,
				events: ["message.new", "member.added"],
				disabled: false,
				disabled_reason: null,
				created_at: expect.stringMatching(ISO),
				updated_at: expect.stringMatching(ISO),
				secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
			},
		});
		expect(Object.keys(res.json).sort()).toEqual([
			"created_at",
			"disabled",
			"disabled_reason",
			"events",
			"id",
			"secret",
			"updated_at",
			"url",
		]);
		const got = await call("GET", `/webhooks/${res.json.id}`, a.backend);
		const { secret: _shownOnce, ...endpoint } = res.json;
		expect(got).toMatchObject({ status: 200, json: endpoint });
		expect(got.json.secret).toBeUndefined();
		expect((await call("GET", "/webhooks", a.backend)).json.webhooks).toContainEqual(endpoint);
	});

	it("stores the secret encrypted (AES-GCM), never as given", async () => {
		const res = await create(a, { url: `${URL_A}/sealed` });
		const rows = await runInDurableObject(dispatcherStub(env as unknown as Env, a.clientId), (_o, state) =>
			state.storage.sql.exec("SELECT secret, previous_secret FROM endpoints WHERE id = ?", res.json.id).toArray(),
		);
		expect(rows).toHaveLength(1);
		const stored = String(rows[0]?.secret);
		expect(stored).toMatch(/^v1\.[A-Za-z0-9+/]{16}\.[A-Za-z0-9+/=]+$/);
		expect(stored).not.toContain(res.json.secret.slice("whsec_".length, 20));
		expect(rows[0]?.previous_secret).toBeNull();
	});

	it.each([
		[{ url: "http://hooks.example.com/" }, "url must use https:// (http:// needs WEBHOOK_ALLOW_INSECURE=1 on the server)"],
		[
			{ url: "https://127.0.0.1:8080/" },
			"url points at a private, loopback or link-local address (allowed only with WEBHOOK_ALLOW_INSECURE=1 on the server)",
		],
		[
			{ url: "https://169.254.169.254/latest/meta-data" },
			"url points at a private, loopback or link-local address (allowed only with WEBHOOK_ALLOW_INSECURE=1 on the server)",
		],
		[{ url: "hooks.example.com" }, "url is not a valid absolute URL"],
	])("refuses %j with a 400 that says why", async (body, message) => {
		expect(await create(a, body)).toEqual({
			status: 400,
			json: { error: { code: "validation_failed", message: "Refused webhook URL", fields: [{ path: "url", message }] } },
			headers: expect.anything(),
		});
	});

	it("refuses unknown event types and a missing url", async () => {
		const bad = await create(a, { url: URL_A, events: ["message.exploded"] });
		expect(bad.status).toBe(400);
		expect(bad.json.error.fields.map((f: { path: string }) => f.path)).toEqual(["events.0"]);
		const missing = await create(a, { events: ["message.new"] });
		expect(missing.status).toBe(400);
		expect(missing.json.error.fields.map((f: { path: string }) => f.path)).toEqual(["url"]);
	});

	it("allows http:// and loopback targets when the operator sets WEBHOOK_ALLOW_INSECURE=1", async () => {
		const res = await callWithEnv({ WEBHOOK_ALLOW_INSECURE: "1" }, "POST", "/webhooks", b.backend, { url: "http://127.0.0.1:9/hook" });
		expect(res.status).toBe(201);
		expect(res.json.url).toBe("http://127.0.0.1:9/hook");
	});

	it("answers 503 when the server has no secret to encrypt endpoint secrets under", async () => {
		const res = await callWithEnv({ JWT_SECRET: undefined, WEBHOOK_ENCRYPTION_KEY: undefined }, "POST", "/webhooks", a.backend, {
			url: URL_A,
		});
		expect(res.status).toBe(503);
		expect(res.json).toEqual({
			error: { code: "not_configured", message: "Webhooks need WEBHOOK_ENCRYPTION_KEY (or JWT_SECRET) on the server" },
		});
	});

	it("is for the backend only", async () => {
		const user = a.users[0] as Tenant["users"][number];
		expect((await call("POST", "/webhooks", {}, { url: URL_A })).status).toBe(401);
		expect((await call("POST", "/webhooks", user.auth, { url: URL_A })).status).toBe(403);
		expect((await call("POST", "/webhooks", user.asKey, { url: URL_A })).status).toBe(403);
		expect((await call("GET", "/webhooks", user.auth)).status).toBe(403);
	});
});

describe("PATCH, DELETE and rotate-secret", () => {
	it("changes the url and events, pauses and resumes, then deletes", async () => {
		const { json: hook } = await create(a, { url: URL_A });
		const patched = await call("PATCH", `/webhooks/${hook.id}`, a.backend, {
			url: `${URL_A}/v2`,
			events: ["room.created"],
			enabled: false,
		});
		expect(patched).toMatchObject({
			status: 200,
			json: { id: hook.id, url: `${URL_A}/v2`, events: ["room.created"], disabled: true, disabled_reason: "disabled by the client" },
		});
		const resumed = await call("PATCH", `/webhooks/${hook.id}`, a.backend, { enabled: true, events: null });
		expect(resumed.json).toMatchObject({ events: null, disabled: false, disabled_reason: null });
		expect((await call("PATCH", `/webhooks/${hook.id}`, a.backend, { url: "http://hooks.example.com/" })).status).toBe(400);
		expect((await call("DELETE", `/webhooks/${hook.id}`, a.backend)).status).toBe(204);
		expect((await call("GET", `/webhooks/${hook.id}`, a.backend)).status).toBe(404);
		expect((await call("DELETE", `/webhooks/${hook.id}`, a.backend)).status).toBe(404);
	});

	it("rotates the secret; the old one keeps signing for 24 hours, and a second rotation meanwhile is refused", async () => {
		const { json: hook } = await create(a, { url: URL_A });
		const rotated = await call("POST", `/webhooks/${hook.id}/rotate-secret`, a.backend);
		expect(rotated.status).toBe(200);
		expect(rotated.json.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
		expect(rotated.json.secret).not.toBe(hook.secret);
		const overlap = Date.parse(rotated.json.previous_secret_expires_at) - Date.now();
		expect(overlap).toBeGreaterThan(24 * 3600_000 - 60_000);
		expect(overlap).toBeLessThanOrEqual(24 * 3600_000);
		const again = await call("POST", `/webhooks/${hook.id}/rotate-secret`, a.backend);
		expect(again).toEqual({
			status: 409,
			json: {
				error: {
					code: "rotation_in_progress",
					message: "The previous secret still signs until previous_secret_expires_at; rotate again after that",
					previous_secret_expires_at: rotated.json.previous_secret_expires_at,
				},
			},
			headers: expect.anything(),
		});
		// The refused rotation changed nothing: the endpoint is as the first rotation left it.
		expect((await call("GET", `/webhooks/${hook.id}`, a.backend)).json.updated_at).toBe(rotated.json.updated_at);
	});

	it("keeps each client's endpoints to itself: another client gets 404 for every operation", async () => {
		const { json: hook } = await create(a, { url: URL_A });
		const deliveryId = "0190a000-0000-7000-8000-000000000001";
		for (const [method, path, body] of [
			["GET", `/webhooks/${hook.id}`],
			["PATCH", `/webhooks/${hook.id}`, { enabled: false }],
			["DELETE", `/webhooks/${hook.id}`],
			["POST", `/webhooks/${hook.id}/rotate-secret`],
			["GET", `/webhooks/${hook.id}/deliveries`],
			["POST", `/webhooks/${hook.id}/deliveries/${deliveryId}/retry`],
		] as const) {
			const res = await call(method, path, b.backend, body);
			expect([method, path, res.status]).toEqual([method, path, 404]);
		}
		const ids = (await call("GET", "/webhooks", b.backend)).json.webhooks.map((w: { id: string }) => w.id);
		expect(ids).not.toContain(hook.id);
		// Still there and unchanged for its owner.
		expect((await call("GET", `/webhooks/${hook.id}`, a.backend)).json).toMatchObject({ id: hook.id, disabled: false });
	});
});

describe("GET /room/{room_id}/events", () => {
	it("returns the room's stored events in seq order, after after_seq, as webhooks carry them", async () => {
		const user = quiet.users[0] as Tenant["users"][number];
		const r = await room(quiet, { members: [user.id] });
		const sent = [];
		for (let i = 1; i <= 4; i++) sent.push((await call("POST", `/room/${r.id}/message/send`, user.auth, { text_message: `m${i}` })).json);
		const page = await call("GET", `/room/${r.id}/events?after_seq=1&limit=2`, quiet.backend);
		expect(page).toMatchObject({
			status: 200,
			json: {
				events: sent.slice(1, 3).map((m) => ({ id: `evt_${m.id}`, type: "message.new", timestamp: m.created_at, data: m })),
				last_seq: 3,
			},
		});
		const rest = await call("GET", `/room/${r.id}/events?after_seq=3`, quiet.backend);
		expect(rest.json.events.map((e: { data: { seq: number } }) => e.data.seq)).toEqual([4]);
		expect((await call("GET", `/room/${r.id}/events?after_seq=4`, quiet.backend)).json).toEqual({ events: [], last_seq: 4 });
		expect((await call("GET", `/room/${r.id}/events`, user.auth)).status).toBe(403);
		expect((await call("GET", `/room/${r.id}/events`, b.backend)).status).toBe(404);
		expect((await call("GET", `/room/${r.id}/events?after_seq=-1`, quiet.backend)).status).toBe(400);
	});
});

describe("the OpenAPI document", () => {
	it("describes each event's payload in the OpenAPI 3.1 `webhooks` section", async () => {
		const doc = (await call("GET", "/openapi.json")).json;
		expect(Object.keys(doc.webhooks).sort()).toEqual([
			"member.added",
			"member.removed",
			"message.deleted",
			"message.flagged",
			"message.new",
			"message.updated",
			"reaction.added",
			"reaction.removed",
			"room.created",
			"user.created",
		]);
		const message = doc.webhooks["message.new"].post;
		expect(message.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Webhook_message_new" });
		expect(message.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual([
			"header:webhook-id",
			"header:webhook-timestamp",
			"header:webhook-signature",
		]);
		expect(doc.components.schemas.Webhook_message_new).toEqual({
			type: "object",
			properties: {
				type: { type: "string", enum: ["message.new"] },
				timestamp: { type: "string", format: "date-time", description: "When the event happened" },
				data: { $ref: "#/components/schemas/Message" },
			},
			required: ["type", "timestamp", "data"],
		});
		expect(doc.components.schemas.Webhook_member_added.properties.data).toEqual({ $ref: "#/components/schemas/MemberAddedData" });
	});
});
