// The SDK's REST half against a real `wrangler dev`: every route as a typed method, errors as
// ChatApiError with the API's code, and the browser bundle the service serves.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { ChatApiError, ChatClient, type ChatMessage, type ChatRoom, type ChatUser, createClient } from "../../src/client";
import * as clientFrames from "../../src/client/realtime/frames";
import * as serverFrames from "../../src/protocol/frames";
import { freePort, ROOT, type RunningServer, startWranglerDev } from "./harness";

const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

/** Awaits a promise that must reject, and returns what it rejected with. */
async function failure(promise: Promise<unknown>): Promise<ChatApiError> {
	const error = await promise.then(
		() => new Error("expected a rejection"),
		(e: unknown) => e,
	);
	expect(error).toBeInstanceOf(ChatApiError);
	return error as ChatApiError;
}

let server: RunningServer;
beforeAll(async () => {
	spawnSync(process.execPath, [join(ROOT, "scripts", "build-client.mjs")], { cwd: ROOT, stdio: "inherit" });
	// DEMO_DEV_MODE is pinned: a developer's .dev.vars would otherwise turn it on.
	server = await startWranglerDev({ vars: { DEMO_DEV_MODE: "0" } });
});
afterAll(() => server?.stop());

describe("REST methods", () => {
	it("cover admin, users, auth, rooms, members and messages with typed results", async () => {
		const admin = createClient({ baseUrl: server.base, adminToken: server.adminToken });
		const created = await admin.admin.createClient({ name: "sdk e2e" });
		expect(created).toEqual({ id: UUID, name: "sdk e2e", created_at: ISO, api_token: expect.stringMatching(/^rk_[A-Za-z0-9_-]{43}$/) });

		const rotated = await admin.admin.rotateToken(created.id);
		expect(rotated).toEqual({ ...created, api_token: expect.stringMatching(/^rk_/) });
		expect(rotated.api_token).not.toBe(created.api_token);
		const stale = await failure(createClient({ baseUrl: server.base, apiToken: created.api_token }).users.list());
		expect([stale.status, stale.code]).toEqual([401, "unauthorized"]);

		const backend = new ChatClient({ baseUrl: `${server.base}/`, apiToken: rotated.api_token });
		const alice = await backend.users.create({ name: "alice", metadata: { plan: "pro" } });
		expectTypeOf(alice).toEqualTypeOf<ChatUser>();
		expect(alice).toEqual({ id: UUID, name: "alice", metadata: { plan: "pro" }, created_at: ISO });
		const bob = await backend.users.create({ name: "bob" });
		const carol = await backend.users.create();
		expect(carol).toEqual({ id: UUID, name: null, metadata: null, created_at: ISO });
		expect(await backend.users.get(bob.id)).toEqual(bob);

		const page1 = await backend.users.list({ limit: 2 });
		expect(page1).toEqual({ users: [alice, bob], next_cursor: bob.id });
		expect(await backend.users.list({ limit: 2, cursor: page1.next_cursor ?? undefined })).toEqual({ users: [carol], next_cursor: null });

		const issued = await backend.users.token(alice.id);
		expect(issued).toEqual({ token: expect.stringMatching(/^ey[\w-]+\.[\w-]+\.[\w-]+$/), expires_at: ISO });
		const asAlice = createClient({ baseUrl: server.base, token: issued.token });

		const room = await asAlice.rooms.create({ name: "general" });
		expectTypeOf(room).toEqualTypeOf<ChatRoom>();
		expect(room).toEqual({ id: UUID, name: "general", private: false, cooldown_seconds: 0, created_at: ISO });
		expect(await backend.rooms.get(room.id)).toEqual(room);
		expect(await asAlice.users.rooms(alice.id)).toEqual({
			rooms: [{ ...room, last_seq: 0, last_read_seq: 0, unread: 0 }],
			next_cursor: null,
		});

		// Bob acts through the backend's key in its user form: `clientKey: <api_token>.<user_id>`.
		const asBob = createClient({ baseUrl: server.base, apiToken: rotated.api_token, userId: bob.id });
		expect(await asBob.rooms.join(room.id)).toEqual({ user_id: bob.id, role: "member", joined_at: ISO });
		expect(await backend.rooms.addMember(room.id, carol.id)).toEqual({ user_id: carol.id, role: "member", joined_at: ISO });
		const members = await asAlice.rooms.members(room.id);
		expect(members.members.map((m) => m.user_id).sort()).toEqual([alice.id, bob.id, carol.id].sort());
		expect(members.next_cursor).toBeNull();
		expect(await backend.rooms.removeMember(room.id, carol.id)).toBeUndefined();
		expect((await backend.rooms.members(room.id)).members.map((m) => m.user_id).sort()).toEqual([alice.id, bob.id].sort());

		const first = await asAlice.messages.send(room.id, "hello");
		expectTypeOf(first).toEqualTypeOf<ChatMessage>();
		expect(first).toEqual({ id: UUID, room_id: room.id, seq: 1, user_id: alice.id, text_message: "hello", created_at: ISO });
		const keyed = await asBob.messages.send(room.id, { text_message: "hi", client_msg_id: "bob-1" });
		expect(await asBob.messages.send(room.id, { text_message: "hi again?", client_msg_id: "bob-1" })).toEqual(keyed);
		expect(keyed).toEqual({
			id: UUID,
			room_id: room.id,
			seq: 2,
			user_id: bob.id,
			text_message: "hi",
			created_at: ISO,
			client_msg_id: "bob-1",
		});
		expect(await backend.messages.history(room.id)).toEqual({ messages: [first, keyed] });
		expect(await asAlice.messages.history(room.id, { after_seq: 1 })).toEqual({ messages: [keyed] });
		expect(await asAlice.messages.history(room.id, { before_seq: 2, limit: 1 })).toEqual({ messages: [first] });
	});
});

describe("errors", () => {
	it("carry the API's status, code, message and fields", async () => {
		const admin = createClient({ baseUrl: server.base, adminToken: server.adminToken });
		const { api_token } = await admin.admin.createClient({ name: "errors" });
		const backend = createClient({ baseUrl: server.base, apiToken: api_token });

		const invalid = await failure(backend.users.create({ name: "" }));
		expect({ status: invalid.status, code: invalid.code, fields: invalid.fields, name: invalid.name }).toEqual({
			status: 400,
			code: "validation_failed",
			fields: [{ path: "name", message: expect.any(String) }],
			name: "ChatApiError",
		});

		const missing = await failure(backend.rooms.get("0190aaaa-0000-7000-8000-000000000000"));
		expect([missing.status, missing.code, missing.message]).toEqual([404, "not_found", "Room not found"]);

		const user = await backend.users.create({ name: "dave" });
		const asUser = createClient({ baseUrl: server.base, token: (await backend.users.token(user.id)).token });
		const forbidden = await failure(asUser.users.create({ name: "eve" }));
		expect([forbidden.status, forbidden.code]).toEqual([403, "forbidden"]);
		const privateRoom = await backend.rooms.create({ name: "secret", private: true });
		const notMember = await failure(asUser.messages.send(privateRoom.id, "let me in"));
		expect([notMember.status, notMember.code]).toEqual([403, "forbidden"]);

		const forged = await failure(createClient({ baseUrl: server.base, token: "eyJhbGciOiJub25lIn0.e30." }).rooms.create({}));
		expect([forged.status, forged.code]).toEqual([401, "unauthorized"]);
		const wrongAdmin = await failure(createClient({ baseUrl: server.base, adminToken: "nope" }).admin.createClient({ name: "x" }));
		expect([wrongAdmin.status, wrongAdmin.code]).toEqual([401, "unauthorized"]);

		const down = await failure(createClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, apiToken: api_token }).users.list());
		expect([down.status, down.code]).toEqual([0, "network_error"]);

		await expect(backend.admin.createClient({ name: "x" })).rejects.toThrow(/adminToken/);
		expect(() => createClient({ baseUrl: "chat.example.com" })).toThrow(/baseUrl must be an http\(s\) URL/);
	});
});

describe("browser bundle", () => {
	it("is served by the service, carries no zod, and works as an ES module in Node", async () => {
		const res = await fetch(`${server.base}/demo/client.js`);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
		const etag = res.headers.get("etag");
		const source = await res.text();
		// The user socket's connection and the conversation methods made it grow from 18 to 26 KiB
		// minified; moderation (client.moderation) and presence events to 28.3 KiB.
		expect(source.length).toBeLessThan(29 * 1024);
		expect(source).not.toMatch(/\bzod\b|ZodError/);
		expect((await fetch(`${server.base}/demo/client.js`, { headers: { "If-None-Match": etag ?? "" } })).status).toBe(304);

		const sdk = await import(/* @vite-ignore */ `data:text/javascript;base64,${Buffer.from(source).toString("base64")}`);
		expect(Object.keys(sdk)).toEqual(
			expect.arrayContaining(["createClient", "ChatClient", "ChatApiError", "ChatRoomError", "RoomConnection"]),
		);
		const admin = sdk.createClient({ baseUrl: server.base, adminToken: server.adminToken });
		const created = await admin.admin.createClient({ name: "bundle" });
		const error = await admin.admin.rotateToken("0190aaaa-0000-7000-8000-000000000000").catch((e: unknown) => e);
		expect(error).toBeInstanceOf(sdk.ChatApiError);
		expect(error.code).toBe("not_found");
		expect(created.name).toBe("bundle");
	});

	it("repeats the protocol constants of the server", () => {
		expect(clientFrames.PING).toBe(serverFrames.PING);
		expect(clientFrames.PROTOCOL_LABEL).toBe(serverFrames.PROTOCOL_LABEL);
		expect(clientFrames.CLOSE_TOKEN_EXPIRED).toBe(serverFrames.CLOSE_TOKEN_EXPIRED);
		expect(clientFrames.CLOSE_REMOVED).toBe(serverFrames.CLOSE_REMOVED);
	});
});

describe("demo page", () => {
	it("is served with a strict CSP and loads the SDK from the service", async () => {
		const res = await fetch(`${server.base}/demo`);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("text/html; charset=UTF-8");
		expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
		const html = await res.text();
		expect(html).toContain('<script type="module" src="/demo/app.js?v=');
		// No DEMO_DEV_MODE on this server: no admin-token form.
		expect(html).toContain('data-dev-mode="0"');
		expect(html).not.toContain('id="admin-token"');
		const app = await (await fetch(`${server.base}/demo/app.js`)).text();
		expect(app).toMatch(/from"\.\/client\.js"/);
	});
});
