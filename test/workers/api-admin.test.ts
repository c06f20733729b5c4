// Admin routes: creating clients, rotating their API tokens, and never being open without ADMIN_TOKEN.
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, admin, call, callWithEnv, testDb } from "./helpers";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const API_TOKEN = /^rk_[A-Za-z0-9_-]{43}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const unauthorizedAdmin = { error: { code: "unauthorized", message: "Admin routes need `Authorization: Bearer <ADMIN_TOKEN>`" } };
const notConfigured = { error: { code: "not_configured", message: "ADMIN_TOKEN is not set, so admin routes are disabled" } };

async function createClient(name = "acme") {
	const res = await call("POST", "/admin/clients", admin, { name });
	expect(res.status).toBe(201);
	return res.json as { id: string; name: string; created_at: string; api_token: string };
}

describe("POST /admin/clients", () => {
	it("creates a client and shows its API token once", async () => {
		const res = await call("POST", "/admin/clients", admin, { name: "Acme Chat" });
		expect(res.status).toBe(201);
		expect(res.json).toEqual({
			id: expect.stringMatching(UUID),
			name: "Acme Chat",
			created_at: expect.stringMatching(ISO),
			api_token: expect.stringMatching(API_TOKEN),
		});
		// The token works as the client's backend at once.
		const users = await call("GET", "/user", { clientKey: res.json.api_token });
		expect(users).toMatchObject({ status: 200, json: { users: [], next_cursor: null } });
	});

	it("gives each client a different token", async () => {
		const a = await createClient("a");
		const b = await createClient("b");
		expect(a.id).not.toBe(b.id);
		expect(a.api_token).not.toBe(b.api_token);
	});

	it("trims the name and rejects an empty one with the field", async () => {
		expect((await call("POST", "/admin/clients", admin, { name: "  padded  " })).json.name).toBe("padded");
		const res = await call("POST", "/admin/clients", admin, { name: "   " });
		expect(res.status).toBe(400);
		expect(res.json).toEqual({
			error: {
				code: "validation_failed",
				message: "Invalid request",
				fields: [{ path: "name", message: "Too small: expected string to have >=1 characters" }],
			},
		});
	});

	it("rejects a missing name and a name over 200 characters", async () => {
		const missing = await call("POST", "/admin/clients", admin, {});
		expect(missing.status).toBe(400);
		expect(missing.json.error.fields).toEqual([{ path: "name", message: "Invalid input: expected string, received undefined" }]);
		const long = await call("POST", "/admin/clients", admin, { name: "x".repeat(201) });
		expect(long.status).toBe(400);
		expect(long.json.error.fields).toEqual([{ path: "name", message: "Too big: expected string to have <=200 characters" }]);
	});

	it.each([
		["no Authorization header", {}],
		["a wrong admin token", { Authorization: "Bearer not-the-admin-token" }],
		["the admin token with a suffix", { Authorization: `Bearer ${ADMIN_TOKEN}x` }],
		["a prefix of the admin token", { Authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` }],
		["the admin token without Bearer", { Authorization: ADMIN_TOKEN }],
		["the admin token as Basic", { Authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}` }],
		["the admin token as clientKey", { clientKey: ADMIN_TOKEN }],
	])("answers 401 to %s", async (_label, headers) => {
		const res = await call("POST", "/admin/clients", headers, { name: "intruder" });
		expect(res.status).toBe(401);
		expect(res.json).toEqual(unauthorizedAdmin);
	});

	it("answers 401 to a client's API token", async () => {
		const client = await createClient();
		for (const headers of [{ Authorization: `Bearer ${client.api_token}` }, { clientKey: client.api_token }] as Array<
			Record<string, string>
		>) {
			const res = await call("POST", "/admin/clients", headers, { name: "escalation" });
			expect(res.status).toBe(401);
			expect(res.json).toEqual(unauthorizedAdmin);
		}
	});

	it("checks the admin token before the body: a bad body without the token is 401, not 400", async () => {
		for (const body of [{}, { name: "" }, "[]", "{broken"]) {
			const res = await call("POST", "/admin/clients", { Authorization: "Bearer wrong" }, body);
			expect(res.status).toBe(401);
			expect(res.json).toEqual(unauthorizedAdmin);
		}
		const rotate = await call("POST", "/admin/clients/not-a-uuid/rotate-token", {});
		expect(rotate.status).toBe(401);
		expect(rotate.json).toEqual(unauthorizedAdmin);
	});

	it("accepts the scheme name in any case", async () => {
		const res = await call("POST", "/admin/clients", { Authorization: `bearer ${ADMIN_TOKEN}` }, { name: "lower" });
		expect(res.status).toBe(201);
	});
});

describe("POST /admin/clients/{client_id}/rotate-token", () => {
	it("returns a new token; the old one stops working and the new one works", async () => {
		const client = await createClient("rotating");
		const res = await call("POST", `/admin/clients/${client.id}/rotate-token`, admin);
		expect(res.status).toBe(200);
		expect(res.json).toEqual({
			id: client.id,
			name: "rotating",
			created_at: client.created_at,
			api_token: expect.stringMatching(API_TOKEN),
		});
		expect(res.json.api_token).not.toBe(client.api_token);

		const old = await call("GET", "/user", { clientKey: client.api_token });
		expect(old.status).toBe(401);
		expect(old.json).toEqual({ error: { code: "unauthorized", message: "Unknown API token" } });
		const fresh = await call("GET", "/user", { clientKey: res.json.api_token });
		expect(fresh.status).toBe(200);
	});

	it("also retires the old token in its user form", async () => {
		const client = await createClient();
		const user = await call("POST", "/user", { clientKey: client.api_token }, {});
		await call("POST", `/admin/clients/${client.id}/rotate-token`, admin);
		const res = await call("GET", `/user/${user.json.id}`, { clientKey: `${client.api_token}.${user.json.id}` });
		expect(res.status).toBe(401);
		expect(res.json).toEqual({ error: { code: "unauthorized", message: "Unknown API token" } });
	});

	it("keeps user JWTs minted before the rotation valid (they are signed with JWT_SECRET, not the API token)", async () => {
		const client = await createClient();
		const user = await call("POST", "/user", { clientKey: client.api_token }, {});
		const jwt = await call("POST", `/auth/${user.json.id}`, { clientKey: client.api_token });
		await call("POST", `/admin/clients/${client.id}/rotate-token`, admin);
		expect((await call("GET", `/user/${user.json.id}`, { Authorization: `Bearer ${jwt.json.token}` })).status).toBe(200);
	});

	it("answers 404 for an unknown client", async () => {
		const res = await call("POST", "/admin/clients/01900000-0000-7000-8000-000000000000/rotate-token", admin);
		expect(res.status).toBe(404);
		expect(res.json).toEqual({ error: { code: "not_found", message: "Client not found" } });
	});

	it("answers 400 for a client id that is not a UUID", async () => {
		const res = await call("POST", "/admin/clients/not-a-uuid/rotate-token", admin);
		expect(res.status).toBe(400);
		expect(res.json).toEqual({
			error: { code: "validation_failed", message: "Invalid request", fields: [{ path: "client_id", message: "Invalid UUID" }] },
		});
	});

	it("answers 401 without the admin token and leaves the token unchanged", async () => {
		const client = await createClient();
		for (const headers of [{}, { Authorization: "Bearer wrong" }, { clientKey: client.api_token }] as Array<Record<string, string>>) {
			const res = await call("POST", `/admin/clients/${client.id}/rotate-token`, headers);
			expect(res.status).toBe(401);
			expect(res.json).toEqual(unauthorizedAdmin);
		}
		expect((await call("GET", "/user", { clientKey: client.api_token })).status).toBe(200);
	});
});

describe("without ADMIN_TOKEN", () => {
	it.each([
		["unset", undefined],
		["empty", ""],
	])("answers 503 when ADMIN_TOKEN is %s, whatever the caller sends", async (_label, value) => {
		const overrides = { ADMIN_TOKEN: value };
		const offers: Array<Record<string, string>> = [
			{},
			{ Authorization: "Bearer " },
			{ Authorization: "Bearer undefined" },
			{ Authorization: "Bearer null" },
			{ Authorization: `Bearer ${ADMIN_TOKEN}` },
		];
		for (const headers of offers) {
			const create = await callWithEnv(overrides, "POST", "/admin/clients", headers, { name: "open?" });
			expect(create.status).toBe(503);
			expect(create.json).toEqual(notConfigured);
			const rotate = await callWithEnv(overrides, "POST", "/admin/clients/01900000-0000-7000-8000-000000000000/rotate-token", headers);
			expect(rotate.status).toBe(503);
			expect(rotate.json).toEqual(notConfigured);
		}
		// Checked before the body: a bad body or id gets 503 too, not a validation error.
		for (const [path, body] of [
			["/admin/clients", {}],
			["/admin/clients", "[]"],
			["/admin/clients/not-a-uuid/rotate-token", undefined],
		] as const) {
			const res = await callWithEnv(overrides, "POST", path, {}, body);
			expect([path, res.status, res.json]).toEqual([path, 503, notConfigured]);
		}
		// Nothing was created through the closed door.
		const rows = await testDb().prepare("SELECT COUNT(*) AS n FROM clients WHERE name = ?").bind("open?").first<{ n: number }>();
		expect(rows?.n).toBe(0);
	});

	it("does not affect the rest of the API", async () => {
		const client = await createClient();
		const res = await callWithEnv({ ADMIN_TOKEN: undefined }, "GET", "/user", { clientKey: client.api_token });
		expect(res.status).toBe(200);
	});
});

describe("token storage", () => {
	it("stores API tokens only as SHA-256 hashes, in no table in clear", async () => {
		const first = await createClient("hashed");
		const rotated = await call("POST", `/admin/clients/${first.id}/rotate-token`, admin);
		const second = await createClient("hashed-too");
		const db = testDb();

		const tables = await db
			.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'")
			.all<{ name: string }>();
		expect(tables.results.map((t) => t.name)).toEqual(expect.arrayContaining(["clients", "users", "rooms", "memberships"]));
		const dump: string[] = [];
		for (const { name } of tables.results) {
			const rows = await db.prepare(`SELECT * FROM "${name}"`).all();
			dump.push(JSON.stringify(rows.results));
		}
		const everything = dump.join("\n");
		for (const token of [first.api_token, rotated.json.api_token, second.api_token]) {
			expect(everything).not.toContain(token);
			// Nor the random part without its prefix.
			expect(everything).not.toContain(token.slice(3));
		}

		const sha256 = async (s: string) =>
			Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s))), (b) =>
				b.toString(16).padStart(2, "0"),
			).join("");
		const row = await db.prepare("SELECT * FROM clients WHERE id = ?").bind(first.id).first();
		expect(row).toEqual({
			id: first.id,
			name: "hashed",
			api_token_hash: await sha256(rotated.json.api_token),
			created_at: expect.any(Number),
		});
	});
});
