// Every route and the WebSocket handshake against every kind of bad credential:
// the expected status for each pair, and 0 accepted. Printed as the table in RELIABILITY.md.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { base64url, SignJWT, UnsecuredJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { sha256Hex } from "../../src/auth/crypto";
import { JWT_AUDIENCE, JWT_ISSUER } from "../../src/auth/jwt";
import type { Env } from "../../src/env";
import { IDENTITY_HEADER, MEMBERS_ONLY_HEADER } from "../../src/room/stub";
import { admin, BASE, bearer, call, JWT_SECRET, room, type Tenant, tenant } from "./helpers";
import { Client } from "./ws-support";

// `exports` and `env` are typed per project by `wrangler types`; these need only the Worker and D1.
const worker = (exports as unknown as { default: Fetcher }).default;
const db = (env as unknown as Env).DB as D1Database;
const rooms = (env as unknown as Env).ROOMS;
const encoder = new TextEncoder();
const kidOf = async (secret: string) => (await sha256Hex(`kid:${secret}`)).slice(0, 16);

interface Forge {
	secret?: string;
	iss?: string;
	aud?: string;
	exp?: number;
	sub: string;
	cid: string;
}

/** A JWT shaped like the server's, with one thing wrong. */
async function forge({ secret = JWT_SECRET, iss = JWT_ISSUER, aud = JWT_AUDIENCE, exp, sub, cid }: Forge): Promise<string> {
	const now = Math.floor(Date.now() / 1000);
	return new SignJWT({ cid })
		.setProtectedHeader({ alg: "HS256", typ: "JWT", kid: await kidOf(secret) })
		.setSubject(sub)
		.setIssuer(iss)
		.setAudience(aud)
		.setIssuedAt(now - 10)
		.setExpirationTime(exp ?? now + 600)
		.sign(encoder.encode(secret));
}

/** Swaps the payload of a valid token (another user's id) and keeps the signature. */
function tamper(token: string, sub: string): string {
	const [header, payload, signature] = token.split(".") as [string, string, string];
	const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as Record<string, unknown>;
	claims.sub = sub;
	return `${header}.${base64url.encode(JSON.stringify(claims))}.${signature}`;
}

type Creds = Record<string, string>;
interface Credential {
	name: string;
	headers: Creds;
	/** How a JWT is offered at the WebSocket handshake (the subprotocol), when it is one. */
	jwt?: string;
}

let a: Tenant;
let b: Tenant;
let privateRoom: { id: string };
let oldKey: string;
let bad: Credential[];
let alice: Tenant["users"][number];
let mallory: Tenant["users"][number];

beforeAll(async () => {
	a = await tenant(2, "tenant-a");
	b = await tenant(1, "tenant-b");
	[alice, mallory] = a.users as [Tenant["users"][number], Tenant["users"][number]];
	privateRoom = await room(a, { name: "secret", private: true, members: [alice.id, mallory.id] });
	await call("POST", `/room/${privateRoom.id}/message/send`, alice.auth, { text_message: "for members only" });
	expect((await call("DELETE", `/room/${privateRoom.id}/members/${mallory.id}`, a.backend)).status).toBe(204);
	// Rotate A's API token: the old one must stop working at once.
	oldKey = a.key;
	const rotated = await call("POST", `/admin/clients/${a.clientId}/rotate-token`, admin);
	expect(rotated.status).toBe(200);
	a.key = rotated.json.api_token;
	a.backend = { clientKey: a.key };
	const past = Math.floor(Date.now() / 1000) - 60;
	const claims = { sub: alice.id, cid: a.clientId };
	const jwts: Array<[string, string]> = [
		["expired JWT", await forge({ ...claims, exp: past })],
		["tampered JWT", tamper(alice.token, mallory.id)],
		[
			"alg none",
			new UnsecuredJWT({ cid: a.clientId })
				.setSubject(alice.id)
				.setIssuer(JWT_ISSUER)
				.setAudience(JWT_AUDIENCE)
				.setIssuedAt()
				.setExpirationTime("10m")
				.encode(),
		],
		["wrong aud", await forge({ ...claims, aud: "someone-else" })],
		["wrong iss", await forge({ ...claims, iss: "someone-else" })],
		["wrong secret", await forge({ ...claims, secret: "not-the-secret" })],
		["other client's JWT", b.users[0]!.token],
		["removed member JWT", mallory.token],
	];
	bad = [
		{ name: "none", headers: {} },
		{ name: "garbage clientKey", headers: { clientKey: "'; DROP TABLE clients; --" } },
		{ name: "wrong API token", headers: { clientKey: `rk_${"A".repeat(43)}` } },
		{ name: "rotated API token", headers: { clientKey: oldKey } },
		{ name: "rotated token.user", headers: { clientKey: `${oldKey}.${alice.id}` } },
		{ name: "other client's token", headers: b.backend },
		{ name: "other token.our user", headers: { clientKey: `${b.key}.${alice.id}` } },
		{ name: "Basic auth", headers: { Authorization: `Basic ${btoa(`${a.key}:`)}` } },
		...jwts.map(([name, jwt]) => ({ name, headers: bearer(jwt), jwt })),
	];
});

interface Route {
	name: string;
	method: string;
	path: () => string;
	body?: () => unknown;
}

const routes: Route[] = [
	{ name: "POST /admin/clients", method: "POST", path: () => "/admin/clients", body: () => ({ name: "x" }) },
	{ name: "POST /admin/clients/{id}/rotate-token", method: "POST", path: () => `/admin/clients/${a.clientId}/rotate-token` },
	{ name: "POST /auth/{user_id}", method: "POST", path: () => `/auth/${alice.id}` },
	{ name: "POST /user", method: "POST", path: () => "/user", body: () => ({ name: "intruder" }) },
	{ name: "GET /user", method: "GET", path: () => "/user" },
	{ name: "GET /user/{user_id}", method: "GET", path: () => `/user/${alice.id}` },
	{ name: "GET /user/{user_id}/rooms", method: "GET", path: () => `/user/${alice.id}/rooms` },
	{ name: "POST /room", method: "POST", path: () => "/room", body: () => ({ name: "intruder", members: [alice.id] }) },
	{ name: "GET /room/{room_id}", method: "GET", path: () => `/room/${privateRoom.id}` },
	{ name: "POST /room/{room_id}/join", method: "POST", path: () => `/room/${privateRoom.id}/join` },
	{ name: "GET /room/{room_id}/members", method: "GET", path: () => `/room/${privateRoom.id}/members` },
	{
		name: "POST /room/{room_id}/members",
		method: "POST",
		path: () => `/room/${privateRoom.id}/members`,
		body: () => ({ user_id: alice.id }),
	},
	{ name: "DELETE /room/{room_id}/members/{user_id}", method: "DELETE", path: () => `/room/${privateRoom.id}/members/${alice.id}` },
	{
		name: "POST /room/{room_id}/message/send",
		method: "POST",
		path: () => `/room/${privateRoom.id}/message/send`,
		body: () => ({ text_message: "intrusion" }),
	},
	{ name: "GET /room/{room_id}/messages", method: "GET", path: () => `/room/${privateRoom.id}/messages` },
];

const WS = "GET /room/{room_id}/ws";

/** The handshake: a JWT goes in as a subprotocol (the browser way), anything else as headers. */
type Offer = "subprotocol" | "query" | "headers";

/** The handshake's request to `path`, with a JWT offered as a subprotocol (the browser way), as `?token=`, or as headers. */
function offered(cred: Credential, offer: Offer, extra: Creds, path: string): Promise<Response> {
	const headers: Creds = { Upgrade: "websocket", ...extra };
	let query = "";
	if (cred.jwt && offer === "subprotocol") headers["Sec-WebSocket-Protocol"] = `roomkit.v1, ${cred.jwt}`;
	else if (cred.jwt && offer === "query") query = `?token=${encodeURIComponent(cred.jwt)}`;
	else Object.assign(headers, cred.headers);
	return worker.fetch(`${BASE}${path}${query}`, { headers });
}

/** The room socket's handshake to the private room. */
async function handshake(
	cred: Credential,
	offer: Offer = "subprotocol",
	extra: Creds = {},
): Promise<{ status: number; code?: string; ws?: WebSocket }> {
	const res = await offered(cred, offer, extra, `/room/${privateRoom.id}/ws`);
	if (res.webSocket) {
		res.webSocket.accept();
		return { status: res.status, ws: res.webSocket };
	}
	const json = (await res.json()) as { error: { code: string } };
	return { status: res.status, code: json.error.code };
}

/**
 * What each bad credential gets: 401 for anything unverifiable, 404 where another
 * tenant's resource is addressed (ids reveal nothing), 403 for the wrong kind of
 * principal or a removed member of a private room. Columns follow `bad`.
 */
const U = 401;
const expected: Record<string, number[]> = {
	//                                      none garb wrong rot rot.u othB oth.u basic exp tamp none aud iss sec othJ rmvd
	"POST /admin/clients": /*            */ [U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U],
	"POST /admin/clients/{id}/rotate-token": [U, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U],
	"POST /auth/{user_id}": /*           */ [U, U, U, U, U, 404, U, U, U, U, U, U, U, U, 403, 403],
	"GET /user/{user_id}": /*            */ [U, U, U, U, U, 404, U, U, U, U, U, U, U, U, 404, 200],
	"GET /user/{user_id}/rooms": /*      */ [U, U, U, U, U, 404, U, U, U, U, U, U, U, U, 404, 403],
	"GET /room/{room_id}": /*            */ [U, U, U, U, U, 404, U, U, U, U, U, U, U, U, 404, 403],
	"POST /room/{room_id}/join": /*      */ [U, U, U, U, U, 403, U, U, U, U, U, U, U, U, 404, 403],
	"GET /room/{room_id}/members": /*    */ [U, U, U, U, U, 404, U, U, U, U, U, U, U, U, 404, 403],
	"POST /room/{room_id}/members": /*   */ [U, U, U, U, U, 404, U, U, U, U, U, U, U, U, 403, 403],
	"DELETE /room/{room_id}/members/{user_id}": [U, U, U, U, U, 404, U, U, U, U, U, U, U, U, 403, 403],
	"POST /room/{room_id}/message/send": [U, U, U, U, U, 403, U, U, U, U, U, U, U, U, 404, 403],
	"GET /room/{room_id}/messages": /*   */ [U, U, U, U, U, 404, U, U, U, U, U, U, U, U, 404, 403],
	[WS]: /*                             */ [U, U, U, U, U, 403, U, U, U, U, U, U, U, U, 404, 403],
	// Tenant-scoped routes: another client's credentials act on their own tenant (checked below), so 2xx there is not access to A.
	"POST /user": /*                     */ [U, U, U, U, U, 201, U, U, U, U, U, U, U, U, 403, 403],
	"GET /user": /*                      */ [U, U, U, U, U, 200, U, U, U, U, U, U, U, U, 403, 403],
	"POST /room": /*                     */ [U, U, U, U, U, 400, U, U, U, U, U, U, U, U, 400, 201],
};

/** Cells where a 2xx is legitimate and not access to tenant A's private data (see the comments above). */
const legitimate = new Set([
	"GET /user/{user_id}|removed member JWT",
	"POST /user|other client's token",
	"GET /user|other client's token",
	"POST /room|removed member JWT",
]);

describe("auth and tenant isolation matrix", () => {
	it("answers every bad credential on every route with the expected status, and accepts none", async () => {
		const actual: Record<string, number[]> = {};
		const codes = new Map<string, string>();
		let accepted = 0;
		let cells = 0;
		for (const route of routes) {
			const row: number[] = [];
			for (const cred of bad) {
				const res = await call(route.method, route.path(), cred.headers, route.body?.());
				row.push(res.status);
				if (res.status >= 400) {
					// Every refusal is the one error shape, never a stack trace.
					expect(Object.keys(res.json)).toEqual(["error"]);
					expect(typeof res.json.error.code).toBe("string");
					expect(typeof res.json.error.message).toBe("string");
					codes.set(`${route.name}|${cred.name}`, res.json.error.code);
				}
				cells++;
				if (res.status < 400 && !legitimate.has(`${route.name}|${cred.name}`)) accepted++;
			}
			actual[route.name] = row;
		}
		const wsRow: number[] = [];
		for (const cred of bad) {
			// A JWT gets the same answer however it is offered.
			const offers: Offer[] = cred.jwt ? ["subprotocol", "query", "headers"] : ["headers"];
			const answers = [];
			for (const offer of offers) {
				const res = await handshake(cred, offer);
				res.ws?.close(1000, "done");
				answers.push(res.status);
				cells++;
				if (res.status < 400) accepted++;
			}
			expect(new Set(answers).size).toBe(1);
			wsRow.push(answers[0] as number);
		}
		actual[WS] = wsRow;

		const names = bad.map((c) => c.name);
		const table = [`| route | ${names.join(" | ")} |`, `|---|${names.map(() => "---").join("|")}|`];
		for (const [route, row] of Object.entries(actual)) table.push(`| ${route} | ${row.join(" | ")} |`);
		console.log(`auth matrix (${cells} cells, accepted ${accepted}):\n${table.join("\n")}`);

		expect(actual).toEqual(expected);
		expect(accepted).toBe(0);
		// Expired tokens say so, so clients know to refresh rather than give up.
		expect(codes.get("GET /room/{room_id}|expired JWT")).toBe("token_expired");
		expect(codes.get("GET /room/{room_id}|alg none")).toBe("unauthorized");
	});

	it("accepts the real credentials on the same routes (the matrix is not refusing everything)", async () => {
		const ok = async (method: string, path: string, headers: Creds, body?: unknown) => (await call(method, path, headers, body)).status;
		expect(await ok("POST", `/auth/${alice.id}`, a.backend)).toBe(200);
		expect(await ok("GET", `/room/${privateRoom.id}`, alice.auth)).toBe(200);
		expect(await ok("GET", `/room/${privateRoom.id}/members`, a.backend)).toBe(200);
		expect(await ok("GET", `/room/${privateRoom.id}/messages`, alice.auth)).toBe(200);
		expect(await ok("GET", `/room/${privateRoom.id}/messages`, { clientKey: `${a.key}.${alice.id}` })).toBe(200);
		expect(await ok("POST", `/room/${privateRoom.id}/message/send`, alice.auth, { text_message: "still here" })).toBe(201);
		for (const offer of ["subprotocol", "query", "headers"] as const) {
			const res = await handshake({ name: "alice", headers: alice.auth, jwt: alice.token }, offer);
			expect(res.status).toBe(101);
			res.ws?.close(1000, "done");
		}
		const byKey = await handshake({ name: "alice key", headers: { clientKey: `${a.key}.${alice.id}` } });
		expect(byKey.status).toBe(101);
		byKey.ws?.close(1000, "done");
	});

	it("answers the user socket's handshake (GET /ws) as the room socket's, but for what needs a room: every credential offered every way", async () => {
		// No room is addressed: a valid JWT of another client or of a removed member opens that user's own socket.
		const own = new Map([
			["other client's JWT", b.users[0]!.id],
			["removed member JWT", mallory.id],
		]);
		const row: number[] = [];
		for (const cred of bad) {
			const offers: Offer[] = cred.jwt ? ["subprotocol", "query", "headers"] : ["headers"];
			const answers = new Set<number>();
			for (const offer of offers) {
				const res = await offered(cred, offer, {}, "/ws");
				answers.add(res.status);
				if (!res.webSocket) {
					// The room socket's refusal, word for word.
					const roomAnswer = await handshake(cred, offer);
					const code = ((await res.json()) as { error: { code: string } }).error.code;
					expect({ status: res.status, code }).toEqual({ status: roomAnswer.status, code: roomAnswer.code });
					continue;
				}
				const socket = new Client(res.webSocket, res);
				const ready = await socket.next();
				expect(ready).toMatchObject({ event: "ready", data: { user_id: own.get(cred.name) } });
				// (The removed member has the room the matrix above let her create, not the private one.)
				expect(ready.data.rooms.map((r: { room_id: string }) => r.room_id)).not.toContain(privateRoom.id);
				// A socket is no access: the private room still refuses its join.
				expect((await socket.request({ event: "join_room", data: { room_id: privateRoom.id }, id: 1 })).at(-1)).toEqual({
					event: "error",
					id: 1,
					data: {
						code: cred.name === "removed member JWT" ? "forbidden" : "not_found",
						message: cred.name === "removed member JWT" ? "This room is private and you are not a member" : "No such room",
					},
				});
				socket.close();
			}
			expect(answers.size).toBe(1);
			row.push([...answers][0] as number);
		}
		//         none garb wrong rot rot.u othB oth.u basic exp tamp none aud iss sec othJ rmvd
		expect(row).toEqual([U, U, U, U, U, 403, U, U, U, U, U, U, U, U, 101, 101]);
		for (const offer of ["subprotocol", "query", "headers"] as const) {
			const res = await offered({ name: "alice", headers: alice.auth, jwt: alice.token }, offer, {}, "/ws");
			expect(res.status).toBe(101);
			const socket = new Client(res.webSocket as WebSocket, res);
			expect(await socket.next()).toMatchObject({ event: "ready", data: { user_id: alice.id } });
			socket.close();
		}
		const byKey = await offered({ name: "alice key", headers: { clientKey: `${a.key}.${alice.id}` } }, "headers", {}, "/ws");
		expect(byKey.status).toBe(101);
		new Client(byKey.webSocket as WebSocket, byKey).close();
	});

	it("scopes tenant-wide routes to the caller's own tenant", async () => {
		const users = await call("GET", "/user?limit=200", b.backend);
		const ids = (users.json.users as Array<{ id: string }>).map((u) => u.id);
		expect(ids).toContain(b.users[0]!.id);
		for (const u of a.users) expect(ids).not.toContain(u.id);
		const created = await call("POST", "/room", b.backend, { members: [alice.id] });
		expect(created.json).toEqual({
			error: {
				code: "validation_failed",
				message: "Unknown members",
				fields: [{ path: "members.0", message: `No user ${alice.id} in this client` }],
			},
		});
		const history = await call("GET", `/room/${privateRoom.id}/messages`, a.backend);
		expect(history.json.messages.map((m: { text_message: string }) => m.text_message)).toEqual(["for members only", "still here"]);
	});

	it("ignores a forged X-Roomkit-Identity: the socket is who the credentials say, and none is no one", async () => {
		const forged = {
			"X-Roomkit-Identity": JSON.stringify({ userId: mallory.id, clientId: b.clientId, roomId: privateRoom.id, exp: 0, joined: true }),
		};
		expect((await handshake({ name: "none", headers: {} }, "headers", forged)).status).toBe(401);
		expect((await handshake({ name: "removed", headers: {}, jwt: mallory.token }, "subprotocol", forged)).status).toBe(403);
		const res = await handshake({ name: "alice", headers: {}, jwt: alice.token }, "subprotocol", forged);
		expect(res.status).toBe(101);
		const ws = res.ws as WebSocket;
		const answer = new Promise<string>((resolve) => ws.addEventListener("message", (e) => resolve(e.data as string)));
		ws.send(JSON.stringify({ event: "send_message", id: 1, data: { room_id: privateRoom.id, text_message: "who am I" } }));
		expect(JSON.parse(await answer)).toMatchObject({ event: "ack", id: 1, data: { user_id: alice.id, room_id: privateRoom.id } });
		ws.close(1000, "done");
	});

	it("closes a removed member's open socket with 4003 and refuses their next handshake", async () => {
		const t = await tenant(2, "tenant-c");
		const [owner, guest] = t.users as [Tenant["users"][number], Tenant["users"][number]];
		const r = await room(t, { private: true, members: [owner.id, guest.id] });
		const res = await worker.fetch(`${BASE}/room/${r.id}/ws`, {
			headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": `roomkit.v1, ${guest.token}` },
		});
		expect(res.status).toBe(101);
		const ws = res.webSocket as WebSocket;
		const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
		ws.accept();
		expect((await call("DELETE", `/room/${r.id}/members/${guest.id}`, t.backend)).status).toBe(204);
		expect(await closed).toBe(4003);
		const again = await worker.fetch(`${BASE}/room/${r.id}/ws`, {
			headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": `roomkit.v1, ${guest.token}` },
		});
		expect(again.status).toBe(403);
	});

	it("refuses a socket whose member was removed after the Worker's check but before the room accepted it", async () => {
		const t = await tenant(2, "tenant-d");
		const [owner, guest] = t.users as [Tenant["users"][number], Tenant["users"][number]];
		const r = await room(t, { private: true, members: [owner.id, guest.id] });
		// What the room object receives from the Worker, which checked membership a moment earlier.
		const forwarded = (userId: string) =>
			rooms.get(rooms.idFromName(r.id)).fetch("https://room.internal/ws", {
				headers: {
					Upgrade: "websocket",
					[IDENTITY_HEADER]: JSON.stringify({ userId, clientId: t.clientId, roomId: r.id, exp: 0, joined: false }),
					[MEMBERS_ONLY_HEADER]: "1",
				},
			});
		const control = await forwarded(owner.id);
		expect(control.status).toBe(101);
		control.webSocket?.accept();
		control.webSocket?.close(1000, "done");
		// The removal lands in that moment: its disconnect finds no socket yet.
		expect((await call("DELETE", `/room/${r.id}/members/${guest.id}`, t.backend)).status).toBe(204);
		const late = await forwarded(guest.id);
		expect(late.webSocket).toBeNull();
		expect({ status: late.status, body: await late.json() }).toEqual({
			status: 403,
			body: { error: { code: "forbidden", message: "This room is private and you are not a member" } },
		});
	});
});

describe("JWT key rotation without downtime", () => {
	// The same Worker code, three deployments: before, during and after the rotation.
	const app = createApp();
	const deployment = (vars: Partial<Env>) => ({ ...(env as unknown as Env), ...vars }) as Env;
	const ask = async (target: Env, method: string, path: string, headers: Creds) => {
		const ctx = createExecutionContext();
		const res = await app.fetch(new Request(`${BASE}${path}`, { method, headers }), target, ctx);
		await waitOnExecutionContext(ctx);
		return { status: res.status, json: (await res.json()) as { token?: string; error?: { code: string } } };
	};

	it("accepts tokens signed by the old and the new secret during the overlap, and only the new one after", async () => {
		const t = await tenant(1, "rotation");
		const user = t.users[0]!;
		const before = deployment({ JWT_SECRET: "secret-one", JWT_SECRET_PREVIOUS: undefined });
		const during = deployment({ JWT_SECRET: "secret-two", JWT_SECRET_PREVIOUS: "secret-one" });
		const after = deployment({ JWT_SECRET: "secret-two", JWT_SECRET_PREVIOUS: undefined });

		const oldToken = (await ask(before, "POST", `/auth/${user.id}`, t.backend)).json.token as string;
		const newToken = (await ask(during, "POST", `/auth/${user.id}`, t.backend)).json.token as string;
		const kid = (token: string) => JSON.parse(new TextDecoder().decode(base64url.decode(token.split(".")[0] as string))).kid;
		expect(kid(oldToken)).toBe(await kidOf("secret-one"));
		expect(kid(newToken)).toBe(await kidOf("secret-two"));

		const me = `/user/${user.id}`;
		const statuses = async (target: Env) => [
			(await ask(target, "GET", me, bearer(oldToken))).status,
			(await ask(target, "GET", me, bearer(newToken))).status,
		];
		expect(await statuses(before)).toEqual([200, 401]);
		expect(await statuses(during)).toEqual([200, 200]);
		expect(await statuses(after)).toEqual([401, 200]);
		expect((await ask(after, "GET", me, bearer(oldToken))).json).toEqual({ error: { code: "unauthorized", message: "Invalid token" } });
	});
});

describe("API tokens at rest", () => {
	it("stores only hashes: a dump of every D1 table contains no token, nor any 16-character piece of one", async () => {
		const t = await tenant(1, "dump");
		const rotated = await call("POST", `/admin/clients/${t.clientId}/rotate-token`, admin);
		const tokens = [t.key, rotated.json.api_token as string];
		const tables = await env
			.DB!.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'")
			.all<{ name: string }>();
		let dump = "";
		for (const { name } of tables.results) {
			const rows = await db.prepare(`SELECT * FROM "${name}"`).all();
			dump += JSON.stringify(rows.results);
		}
		expect(dump).toContain(t.clientId);
		for (const token of tokens) {
			const body = token.slice(3);
			for (let i = 0; i + 16 <= body.length; i++) expect(dump.includes(body.slice(i, i + 16))).toBe(false);
		}
		const row = await env
			.DB!.prepare("SELECT api_token_hash FROM clients WHERE id = ?")
			.bind(t.clientId)
			.first<{ api_token_hash: string }>();
		expect(row).toEqual({ api_token_hash: await sha256Hex(tokens[1] as string) });
	});
});
