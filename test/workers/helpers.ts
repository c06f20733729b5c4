// Helpers for tests inside workerd: requests go through the Worker's real fetch handler.
import { createExecutionContext } from "cloudflare:test";
import { exports, env as workerEnv } from "cloudflare:workers";
import { createApp } from "../../src/app";
import type { Env } from "../../src/env";

// `exports` is typed per project by `wrangler types`; these tests only need the default fetch.
/** The Worker's default export, called like a service binding. */
export const worker = (exports as unknown as { default: Fetcher }).default;
/** The test D1 database, for assertions on what is stored. */
export const testDb = (): D1Database => (workerEnv as unknown as Env).DB as D1Database;

export const ADMIN_TOKEN = "test-admin-token";
export const JWT_SECRET = "test-jwt-secret";
export const BASE = "http://chat.test";

export interface Reply {
	status: number;
	// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON and assert on it exactly
	json: any;
	headers: Headers;
}

export async function call(method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Reply> {
	const res = await worker.fetch(`${BASE}${path}`, {
		method,
		headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
		body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
	});
	return readReply(res);
}

export const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

export interface Tenant {
	clientId: string;
	key: string;
	/** `clientKey` header value acting as the backend. */
	backend: Record<string, string>;
	users: Array<{ id: string; token: string; auth: Record<string, string>; asKey: Record<string, string> }>;
}

/** A client with `userCount` users, each with a JWT. */
export async function tenant(userCount = 2, name = "acme"): Promise<Tenant> {
	const client = await call("POST", "/admin/clients", admin, { name });
	if (client.status !== 201) throw new Error(`create client: ${client.status} ${JSON.stringify(client.json)}`);
	const key = client.json.api_token as string;
	const users = [];
	for (let i = 0; i < userCount; i++) {
		const user = await call("POST", "/user", { clientKey: key }, { name: `user${i}` });
		const token = await call("POST", `/auth/${user.json.id}`, { clientKey: key });
		users.push({
			id: user.json.id as string,
			token: token.json.token as string,
			auth: bearer(token.json.token),
			asKey: { clientKey: `${key}.${user.json.id}` },
		});
	}
	return { clientId: client.json.id, key, backend: { clientKey: key }, users };
}

export async function room(t: Tenant, body: Record<string, unknown> = {}, as: Record<string, string> = t.backend) {
	const res = await call("POST", "/room", as, body);
	if (res.status !== 201) throw new Error(`create room: ${res.status} ${JSON.stringify(res.json)}`);
	return res.json as { id: string; name: string | null; private: boolean; created_at: string };
}

/** Reads a response the way call() does: status, headers and the body parsed as JSON when it is JSON. */
export async function readReply(res: Response): Promise<Reply> {
	const text = await res.text();
	let json: unknown = null;
	try {
		json = text ? JSON.parse(text) : null;
	} catch {
		json = text;
	}
	return { status: res.status, json, headers: res.headers };
}

/**
 * Like call(), but through a fresh app from createApp() with the test bindings plus `overrides`,
 * for configurations the test Worker does not have (ADMIN_TOKEN unset, rotated JWT secrets, CORS origins).
 */
export async function callWithEnv(
	overrides: Partial<Env>,
	method: string,
	path: string,
	headers: Record<string, string> = {},
	body?: unknown,
): Promise<Reply> {
	const request = new Request(`${BASE}${path}`, {
		method,
		headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
		body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
	});
	const res = await createApp().fetch(request, { ...(workerEnv as unknown as Env), ...overrides }, createExecutionContext());
	return readReply(res);
}
