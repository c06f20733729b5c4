// The WebSocket handshake: every way in, every way it is refused (before any upgrade),
// and what the response says (the protocol label, never the token). The user socket (`GET /ws`)
// takes the same credentials and checks as the room socket: its own section at the end.
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import { signUserToken } from "../../src/auth/jwt";
import type { Env } from "../../src/env";
import { BASE, call, JWT_SECRET, room, type Tenant, tenant, worker } from "./helpers";
import { Client, connect, type Handshake, handshake, join, send, viaProtocol } from "./ws-support";

// Sockets, alarms and a shared 2-core machine: allow more than the default 5 s per test.
vi.setConfig({ testTimeout: 30_000 });

let t: Tenant;
let other: Tenant;
let publicRoom: string;
let privateRoom: string;
let othersRoom: string;
beforeAll(async () => {
	t = await tenant(3, "acme");
	other = await tenant(1, "globex");
	publicRoom = (await room(t, { name: "lobby" })).id;
	// users[0] and users[1] are members; users[2] is not.
	privateRoom = (await room(t, { name: "secret", private: true, members: [t.users[0]?.id, t.users[1]?.id] })).id;
	othersRoom = (await room(other, { name: "theirs" })).id;
});

const user = (i: number) => t.users[i] as Tenant["users"][0];

async function refused(roomId: string, options: Parameters<typeof handshake>[1]) {
	const res = await handshake(roomId, options);
	expect(res.webSocket).toBeNull();
	return { status: res.status, body: await res.json() };
}

describe("refused before the upgrade", () => {
	it("no credentials: 401", async () => {
		expect(await refused(publicRoom, {})).toEqual({
			status: 401,
			body: { error: { code: "unauthorized", message: "Offer a JWT as a subprotocol or `?token=`, or send the REST credentials" } },
		});
	});

	it("a malformed JWT, as subprotocol or ?token=: 401", async () => {
		const expected = { status: 401, body: { error: { code: "unauthorized", message: "Malformed token" } } };
		expect(await refused(publicRoom, viaProtocol("not-a-jwt"))).toEqual(expected);
		expect(await refused(publicRoom, { query: "?token=not-a-jwt" })).toEqual(expected);
	});

	it("a JWT signed with another secret: 401", async () => {
		const { token } = await signUserToken({ current: "some-other-secret" }, { userId: user(0).id, clientId: t.clientId }, 600);
		expect(await refused(publicRoom, viaProtocol(token))).toEqual({
			status: 401,
			body: { error: { code: "unauthorized", message: "Invalid token" } },
		});
	});

	it("an expired JWT: 401 token_expired", async () => {
		const { token } = await signUserToken(
			{ current: JWT_SECRET },
			{ userId: user(0).id, clientId: t.clientId },
			60,
			Date.now() - 3_600_000,
		);
		expect(await refused(publicRoom, viaProtocol(token))).toEqual({
			status: 401,
			body: { error: { code: "token_expired", message: "Token expired; fetch a new one" } },
		});
	});

	it("a JWT offered as a subprotocol without the roomkit.v1 label is not read: 401", async () => {
		expect(await refused(publicRoom, { headers: { "Sec-WebSocket-Protocol": user(0).token } })).toEqual({
			status: 401,
			body: { error: { code: "unauthorized", message: "Offer a JWT as a subprotocol or `?token=`, or send the REST credentials" } },
		});
	});

	it("the backend's API key (no user): 403", async () => {
		expect(await refused(publicRoom, { headers: t.backend })).toEqual({
			status: 403,
			body: { error: { code: "forbidden", message: "This route acts as a user: use a JWT or `clientKey: <api_token>.<user_id>`" } },
		});
	});

	it("a private room and not a member: 403", async () => {
		expect(await refused(privateRoom, viaProtocol(user(2).token))).toEqual({
			status: 403,
			body: { error: { code: "forbidden", message: "This room is private and you are not a member" } },
		});
	});

	it("an unknown room: 404", async () => {
		expect(await refused("0190a000-0000-7000-8000-000000000000", viaProtocol(user(0).token))).toEqual({
			status: 404,
			body: { error: { code: "not_found", message: "Room not found" } },
		});
	});

	it("another client's room: 404, exactly like an unknown one", async () => {
		expect(await refused(othersRoom, viaProtocol(user(0).token))).toEqual({
			status: 404,
			body: { error: { code: "not_found", message: "Room not found" } },
		});
		// And the other client's user cannot reach ours.
		expect((await refused(publicRoom, viaProtocol(other.users[0]?.token as string))).status).toBe(404);
	});

	it("a request without Upgrade: websocket: 426", async () => {
		const res = await call("GET", `/room/${publicRoom}/ws`, user(0).auth);
		expect(res.status).toBe(426);
		expect(res.json).toEqual({ error: { code: "validation_failed", message: "This endpoint needs `Upgrade: websocket`" } });
	});

	it("an Origin outside WS_ALLOWED_ORIGINS: 403; an allowed one and none at all pass", async () => {
		const allow = { WS_ALLOWED_ORIGINS: "https://ok.example" } as Partial<Env>;
		expect(
			await refused(publicRoom, {
				env: allow,
				headers: { Origin: "https://evil.example", "Sec-WebSocket-Protocol": `roomkit.v1, ${user(0).token}` },
			}),
		).toEqual({
			status: 403,
			body: { error: { code: "forbidden", message: "Origin https://evil.example may not open sockets here" } },
		});
		const ok = await connect(publicRoom, {
			env: allow,
			headers: { Origin: "https://ok.example", "Sec-WebSocket-Protocol": `roomkit.v1, ${user(0).token}` },
		});
		expect(await ok.request(join(publicRoom, 1))).toEqual([
			{ event: "ack", id: 1, data: { room_id: publicRoom, last_seq: expect.any(Number), online: [user(0).id] } },
		]);
		ok.close();
		// Non-browser clients send no Origin.
		const noOrigin = await connect(publicRoom, { env: allow, ...viaProtocol(user(0).token) });
		noOrigin.close();
		// Without the setting any Origin may connect.
		const open = await connect(publicRoom, {
			headers: { Origin: "https://evil.example", "Sec-WebSocket-Protocol": `roomkit.v1, ${user(0).token}` },
		});
		open.close();
	});
});

describe("accepted credentials", () => {
	it("subprotocol `roomkit.v1, <jwt>`: the response names roomkit.v1 and never the token", async () => {
		const s = await connect(publicRoom, viaProtocol(user(0).token));
		expect(s.response.status).toBe(101);
		expect(s.response.headers.get("Sec-WebSocket-Protocol")).toBe("roomkit.v1");
		for (const [, value] of s.response.headers) expect(value).not.toContain(user(0).token);
		const sent = await s.request(send(publicRoom, "via subprotocol", 1));
		expect(sent.at(-1).data.user_id).toBe(user(0).id);
		s.close();
	});

	it("the token first and the label second also works", async () => {
		const s = await connect(publicRoom, { headers: { "Sec-WebSocket-Protocol": `${user(1).token}, roomkit.v1` } });
		expect(s.response.headers.get("Sec-WebSocket-Protocol")).toBe("roomkit.v1");
		expect((await s.request(send(publicRoom, "reversed", 1))).at(-1).data.user_id).toBe(user(1).id);
		s.close();
	});

	it("?token=<jwt> works, with no subprotocol in the answer", async () => {
		const s = await connect(publicRoom, { query: `?token=${user(1).token}` });
		expect(s.response.headers.get("Sec-WebSocket-Protocol")).toBeNull();
		expect((await s.request(send(publicRoom, "via query", 1))).at(-1).data.user_id).toBe(user(1).id);
		s.close();
	});

	it("clientKey: <api_token>.<user_id> works (and never expires)", async () => {
		const s = await connect(publicRoom, { headers: user(2).asKey });
		expect((await s.request(send(publicRoom, "via clientKey", 1))).at(-1).data.user_id).toBe(user(2).id);
		s.close();
	});

	it("Authorization: Bearer <jwt> works", async () => {
		const s = await connect(publicRoom, { headers: user(0).auth });
		expect((await s.request(send(publicRoom, "via bearer", 1))).at(-1).data.user_id).toBe(user(0).id);
		s.close();
	});

	it("a member of the private room gets in", async () => {
		const s = await connect(privateRoom, viaProtocol(user(1).token));
		expect(await s.request(join(privateRoom, 1))).toEqual([
			{ event: "ack", id: 1, data: { room_id: privateRoom, last_seq: 0, online: [user(1).id] } },
		]);
		s.close();
	});

	it("an identity header sent by the client is ignored: messages carry the verified user", async () => {
		const forged = JSON.stringify({ userId: user(1).id, clientId: t.clientId, roomId: publicRoom, exp: 0, joined: true });
		const s = await connect(publicRoom, {
			headers: { "X-Roomkit-Identity": forged, "Sec-WebSocket-Protocol": `roomkit.v1, ${user(0).token}` },
		});
		expect((await s.request(send(publicRoom, "who am i", 1))).at(-1).data.user_id).toBe(user(0).id);
		s.close();
	});
});

describe("logs", () => {
	afterEach(() => vi.restoreAllMocks());

	it("a ?token= handshake never writes the token to the log", async () => {
		const lines: string[] = [];
		const capture = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
		vi.spyOn(console, "log").mockImplementation(capture);
		vi.spyOn(console, "error").mockImplementation(capture);
		vi.spyOn(console, "warn").mockImplementation(capture);
		// The request log at its production default (the test Worker runs with LOG_LEVEL=error).
		const env = { LOG_LEVEL: "info" };
		const s = await connect(publicRoom, { query: `?token=${user(0).token}`, env });
		s.close();
		await refused(publicRoom, { query: `?token=${user(0).token}x`, env });
		expect(lines.length).toBeGreaterThan(0);
		for (const line of lines) expect(line).not.toContain(user(0).token);
	});
});

describe("socket limits", () => {
	it("MAX_SOCKETS_PER_USER (20) sockets per user and room, then 429; other users are unaffected", async () => {
		const r = (await room(t, {})).id;
		const open = [];
		for (let i = 0; i < 20; i++) open.push(await connect(r, viaProtocol(user(0).token)));
		expect(await refused(r, viaProtocol(user(0).token))).toEqual({
			status: 429,
			body: { error: { code: "too_many_connections", message: "Too many sockets for this user in this room" } },
		});
		const bob = await connect(r, viaProtocol(user(1).token));
		bob.close();
		// Closing one frees its slot.
		open[0]?.close();
		await open[0]?.closedWith();
		const again = await connect(r, viaProtocol(user(0).token));
		for (const s of [...open, again]) s.close();
		expect((env as unknown as Env).MAX_SOCKETS_PER_USER).toBeUndefined();
	});
});

/** The user socket's handshake (`GET /ws`), as `handshake` does it for a room socket. */
async function userHandshake(options: Handshake = {}): Promise<Response> {
	const url = `${BASE}/ws${options.query ?? ""}`;
	const init = { headers: { Upgrade: "websocket", ...options.headers } };
	if (!options.env) return worker.fetch(url, init);
	return createApp().fetch(new Request(url, init), { ...(env as unknown as Env), ...options.env }, createExecutionContext());
}

async function userRefused(options: Handshake) {
	const res = await userHandshake(options);
	expect(res.webSocket).toBeNull();
	return { status: res.status, body: await res.json() };
}

/** Opens a user socket and checks its first frame is `ready` for `userId`. */
async function userSocket(options: Handshake, userId: string): Promise<Client> {
	const res = await userHandshake(options);
	if (res.status !== 101 || !res.webSocket) throw new Error(`handshake ${res.status}: ${await res.text()}`);
	const s = new Client(res.webSocket, res);
	expect(await s.next()).toMatchObject({ event: "ready", data: { user_id: userId } });
	return s;
}

describe("the user socket (GET /ws): the room socket's credentials and checks", () => {
	it("refuses before the upgrade as the room socket does: 401 without or with bad credentials, 403 for the backend's key, 426 without Upgrade", async () => {
		const missing = { error: { code: "unauthorized", message: "Offer a JWT as a subprotocol or `?token=`, or send the REST credentials" } };
		expect(await userRefused({})).toEqual({ status: 401, body: missing });
		// A JWT without the roomkit.v1 label is not read.
		expect(await userRefused({ headers: { "Sec-WebSocket-Protocol": user(0).token } })).toEqual({ status: 401, body: missing });
		const malformed = { status: 401, body: { error: { code: "unauthorized", message: "Malformed token" } } };
		expect(await userRefused(viaProtocol("not-a-jwt"))).toEqual(malformed);
		expect(await userRefused({ query: "?token=not-a-jwt" })).toEqual(malformed);
		expect(await userRefused({ headers: { Authorization: "Bearer not-a-jwt" } })).toEqual(malformed);
		const { token: expired } = await signUserToken(
			{ current: JWT_SECRET },
			{ userId: user(0).id, clientId: t.clientId },
			60,
			Date.now() - 3_600_000,
		);
		expect(await userRefused({ query: `?token=${expired}` })).toEqual({
			status: 401,
			body: { error: { code: "token_expired", message: "Token expired; fetch a new one" } },
		});
		expect(await userRefused({ headers: t.backend })).toEqual({
			status: 403,
			body: { error: { code: "forbidden", message: "This route acts as a user: use a JWT or `clientKey: <api_token>.<user_id>`" } },
		});
		const plain = await call("GET", "/ws", user(0).auth);
		expect([plain.status, plain.json]).toEqual([
			426,
			{ error: { code: "validation_failed", message: "This endpoint needs `Upgrade: websocket`" } },
		]);
	});

	it("an Origin outside WS_ALLOWED_ORIGINS: 403; an allowed one and none at all pass", async () => {
		const allow = { WS_ALLOWED_ORIGINS: "https://ok.example" } as Partial<Env>;
		const offer = `roomkit.v1, ${user(0).token}`;
		expect(await userRefused({ env: allow, headers: { Origin: "https://evil.example", "Sec-WebSocket-Protocol": offer } })).toEqual({
			status: 403,
			body: { error: { code: "forbidden", message: "Origin https://evil.example may not open sockets here" } },
		});
		const ok = await userSocket({ env: allow, headers: { Origin: "https://ok.example", "Sec-WebSocket-Protocol": offer } }, user(0).id);
		ok.close();
		const noOrigin = await userSocket({ env: allow, ...viaProtocol(user(0).token) }, user(0).id);
		noOrigin.close();
		const unset = await userSocket({ headers: { Origin: "https://evil.example", "Sec-WebSocket-Protocol": offer } }, user(0).id);
		unset.close();
	});

	it("accepts the subprotocol JWT (answered roomkit.v1, never the token), ?token=, clientKey <api_token>.<user_id> and Authorization: Bearer", async () => {
		const ways: Array<[string, Handshake, number]> = [
			["subprotocol", viaProtocol(user(0).token), 0],
			["query", { query: `?token=${user(1).token}` }, 1],
			["clientKey", { headers: user(2).asKey }, 2],
			["bearer", { headers: user(0).auth }, 0],
		];
		for (const [way, options, i] of ways) {
			const s = await userSocket(options, user(i).id);
			expect(s.response.status).toBe(101);
			expect(s.response.headers.get("Sec-WebSocket-Protocol")).toBe(way === "subprotocol" ? "roomkit.v1" : null);
			for (const [, value] of s.response.headers) expect(value).not.toContain(user(i).token);
			// The socket acts as the verified user.
			const sent = await s.request(send(publicRoom, `via ${way}`, way));
			expect(sent.at(-1)).toMatchObject({
				event: "ack",
				id: way,
				data: { room_id: publicRoom, user_id: user(i).id, text_message: `via ${way}` },
			});
			s.close();
		}
	});

	it("MAX_SOCKETS_PER_USER (20) user sockets per user, then 429; other users are unaffected", async () => {
		const [solo, other] = (await tenant(2, "user-sockets")).users as [Tenant["users"][0], Tenant["users"][0]];
		const open: Client[] = [];
		for (let i = 0; i < 20; i++) open.push(await userSocket(viaProtocol(solo.token), solo.id));
		expect(await userRefused(viaProtocol(solo.token))).toEqual({
			status: 429,
			body: { error: { code: "too_many_connections", message: "Too many user sockets for this user" } },
		});
		const theirs = await userSocket(viaProtocol(other.token), other.id);
		theirs.close();
		// Closing one frees its slot.
		open[0]?.close();
		await open[0]?.closedWith();
		const again = await userSocket(viaProtocol(solo.token), solo.id);
		for (const s of [...open, again]) s.close();
	});
});
