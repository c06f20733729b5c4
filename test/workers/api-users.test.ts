// Users: create, validation, get, keyset pagination, and the rooms a user is in.
import { describe, expect, it } from "vitest";
import { uuidv7 } from "../../src/ids";
import { call, room, type Tenant, tenant, testDb } from "./helpers";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const me = (t: Tenant, i = 0) => t.users[i] as Tenant["users"][number];
const invalid = (fields: Array<{ path: string; message: string }>) => ({
	error: { code: "validation_failed", message: "Invalid request", fields },
});
const backendOnly = { error: { code: "forbidden", message: "This route is for the client's backend: use `clientKey: <api_token>`" } };

describe("POST /user", () => {
	it("creates a user with a name and metadata", async () => {
		const t = await tenant(0);
		const metadata = { plan: "pro", tags: ["a", "b"], nested: { n: 1, ok: true, none: null } };
		const res = await call("POST", "/user", t.backend, { name: "Alice", metadata });
		expect(res.status).toBe(201);
		expect(res.json).toEqual({ id: expect.stringMatching(UUID), name: "Alice", metadata, created_at: expect.stringMatching(ISO) });
		expect((await call("GET", `/user/${res.json.id}`, t.backend)).json).toEqual(res.json);
	});

	it("creates a user from an empty body (name and metadata are optional) and trims the name", async () => {
		const t = await tenant(0);
		const empty = await call("POST", "/user", t.backend, {});
		expect(empty.status).toBe(201);
		expect(empty.json).toEqual({ id: expect.stringMatching(UUID), name: null, metadata: null, created_at: expect.stringMatching(ISO) });
		const trimmed = await call("POST", "/user", t.backend, { name: "  Bob  ", metadata: {} });
		expect(trimmed.json).toEqual({ id: expect.stringMatching(UUID), name: "Bob", metadata: {}, created_at: expect.stringMatching(ISO) });
	});

	it.each([
		["metadata is an array", { metadata: [1, 2] }, [{ path: "metadata", message: "Invalid input: expected record, received array" }]],
		["metadata is a string", { metadata: "x" }, [{ path: "metadata", message: "Invalid input: expected record, received string" }]],
		[
			"metadata is over 16 KiB",
			{ metadata: { blob: "x".repeat(17_000) } },
			[{ path: "metadata", message: "metadata must be at most 16 KiB of JSON" }],
		],
		[
			"name is over 200 characters",
			{ name: "x".repeat(201) },
			[{ path: "name", message: "Too big: expected string to have <=200 characters" }],
		],
		["name is blank", { name: "   " }, [{ path: "name", message: "Too small: expected string to have >=1 characters" }]],
		["name is a number", { name: 7 }, [{ path: "name", message: "Invalid input: expected string, received number" }]],
		[
			"both are wrong",
			{ name: "", metadata: 3 },
			[
				{ path: "name", message: "Too small: expected string to have >=1 characters" },
				{ path: "metadata", message: "Invalid input: expected record, received number" },
			],
		],
	])("answers 400 with the fields when %s", async (_label, body, fields) => {
		const t = await tenant(0);
		const res = await call("POST", "/user", t.backend, body);
		expect(res.status).toBe(400);
		expect(res.json).toEqual(invalid(fields));
		expect((await call("GET", "/user", t.backend)).json.users).toEqual([]);
	});

	it("accepts a 200-character name", async () => {
		const t = await tenant(0);
		expect((await call("POST", "/user", t.backend, { name: "x".repeat(200) })).status).toBe(201);
	});

	it("answers 403 to user credentials and 401 without credentials", async () => {
		const t = await tenant(1);
		for (const headers of [me(t).auth, me(t).asKey]) {
			const res = await call("POST", "/user", headers, { name: "sneaky" });
			expect(res.status).toBe(403);
			expect(res.json).toEqual(backendOnly);
		}
		const none = await call("POST", "/user", {}, { name: "anon" });
		expect(none.status).toBe(401);
		expect(none.json.error.code).toBe("unauthorized");
	});
});

describe("GET /user/{user_id}", () => {
	it("returns the user to the backend, to the user and to another user of the client", async () => {
		const t = await tenant(2);
		const expected = { id: me(t).id, name: "user0", metadata: null, created_at: expect.stringMatching(ISO) };
		for (const headers of [t.backend, me(t).auth, me(t).asKey, me(t, 1).auth]) {
			const res = await call("GET", `/user/${me(t).id}`, headers);
			expect(res.status).toBe(200);
			expect(res.json).toEqual(expected);
		}
	});

	it("answers 404 for an unknown user, 400 for a non-UUID id and 401 without credentials", async () => {
		const t = await tenant(1);
		const unknown = await call("GET", "/user/01900000-0000-7000-8000-000000000000", t.backend);
		expect(unknown.status).toBe(404);
		expect(unknown.json).toEqual({ error: { code: "not_found", message: "User not found" } });
		const bad = await call("GET", "/user/42", t.backend);
		expect(bad.status).toBe(400);
		expect(bad.json).toEqual(invalid([{ path: "user_id", message: "Invalid UUID" }]));
		expect((await call("GET", `/user/${me(t).id}`)).status).toBe(401);
	});
});

describe("GET /user", () => {
	it("pages through users with limit, cursor and next_cursor, oldest first, without overlap", async () => {
		const t = await tenant(0);
		const created: Array<{ id: string; created_at: string }> = [];
		for (let i = 0; i < 5; i++) created.push((await call("POST", "/user", t.backend, { name: `u${i}` })).json);

		const first = await call("GET", "/user?limit=2", t.backend);
		expect(first.status).toBe(200);
		expect(first.json.users).toHaveLength(2);
		expect(first.json.next_cursor).toBe(first.json.users[1].id);
		const second = await call("GET", `/user?limit=2&cursor=${first.json.next_cursor}`, t.backend);
		expect(second.json.users).toHaveLength(2);
		expect(second.json.next_cursor).toBe(second.json.users[1].id);
		const third = await call("GET", `/user?limit=2&cursor=${second.json.next_cursor}`, t.backend);
		expect(third.json.users).toHaveLength(1);
		expect(third.json.next_cursor).toBeNull();

		const all = [...first.json.users, ...second.json.users, ...third.json.users];
		const ids = all.map((u: { id: string }) => u.id);
		expect(new Set(ids).size).toBe(5);
		expect(ids).toEqual(created.map((u) => u.id).sort());
		expect(all).toEqual(expect.arrayContaining(created));
		const times = all.map((u: { created_at: string }) => u.created_at);
		expect(times).toEqual([...times].sort());
		// The whole list in one page, with no cursor left over.
		expect((await call("GET", "/user", t.backend)).json).toEqual({ users: all, next_cursor: null });
	});

	it("returns next_cursor on an exactly full last page, then an empty page", async () => {
		const t = await tenant(2);
		const page = await call("GET", "/user?limit=2", t.backend);
		expect(page.json.next_cursor).toBe(me(t, 1).id);
		expect((await call("GET", `/user?limit=2&cursor=${page.json.next_cursor}`, t.backend)).json).toEqual({ users: [], next_cursor: null });
	});

	it("clamps limit to 200", async () => {
		const t = await tenant(0);
		// 205 users straight into D1: the clamp is about the query, not about creating users.
		const db = testDb();
		const base = Date.now() - 10_000;
		const rows = Array.from({ length: 205 }, (_, i) => ({ id: uuidv7(base + i), at: base + i }));
		await db.batch(
			rows.map((r, i) =>
				db
					.prepare("INSERT INTO users (id, client_id, name, metadata, created_at) VALUES (?, ?, ?, NULL, ?)")
					.bind(r.id, t.clientId, `bulk${i}`, r.at),
			),
		);
		const res = await call("GET", "/user?limit=500", t.backend);
		expect(res.status).toBe(200);
		expect(res.json.users).toHaveLength(200);
		expect(res.json.users.map((u: { id: string }) => u.id)).toEqual(rows.slice(0, 200).map((r) => r.id));
		expect(res.json.next_cursor).toBe(rows[199]?.id);
		const rest = await call("GET", `/user?limit=500&cursor=${res.json.next_cursor}`, t.backend);
		expect(rest.json.users.map((u: { name: string }) => u.name)).toEqual(["bulk200", "bulk201", "bulk202", "bulk203", "bulk204"]);
		expect(rest.json.next_cursor).toBeNull();
		// The default page is 50.
		expect((await call("GET", "/user", t.backend)).json.users).toHaveLength(50);
	});

	it.each([
		["limit=0", [{ path: "limit", message: "Too small: expected number to be >=1" }]],
		["limit=abc", [{ path: "limit", message: "Invalid input: expected number, received NaN" }]],
		["limit=1.5", [{ path: "limit", message: "Invalid input: expected int, received number" }]],
		["cursor=abc", [{ path: "cursor", message: "Invalid UUID" }]],
	])("answers 400 for %s", async (query, fields) => {
		const t = await tenant(0);
		const res = await call("GET", `/user?${query}`, t.backend);
		expect(res.status).toBe(400);
		expect(res.json).toEqual(invalid(fields));
	});

	it("lists only this client's users and refuses user credentials", async () => {
		const a = await tenant(1);
		await tenant(2, "other");
		expect((await call("GET", "/user", a.backend)).json.users.map((u: { id: string }) => u.id)).toEqual([me(a).id]);
		for (const headers of [me(a).auth, me(a).asKey]) {
			const res = await call("GET", "/user", headers);
			expect(res.status).toBe(403);
			expect(res.json).toEqual(backendOnly);
		}
	});
});

/** A room as the user's room list shows it before anything was sent. */
const listed = <T extends object>(r: T) => ({ ...r, last_seq: 0, last_read_seq: 0, unread: 0 });

describe("GET /user/{user_id}/rooms", () => {
	it("lists the user's rooms for the backend and for the user themself; another user gets 403", async () => {
		const t = await tenant(2);
		const joined = await room(t, { name: "mine", members: [me(t).id] });
		const created = await room(t, { name: "by me", private: true }, me(t).auth);
		await room(t, { name: "not mine", members: [me(t, 1).id] });
		const expected = { rooms: [joined, created].sort((x, y) => x.id.localeCompare(y.id)).map(listed), next_cursor: null };

		for (const headers of [t.backend, me(t).auth, me(t).asKey]) {
			const res = await call("GET", `/user/${me(t).id}/rooms`, headers);
			expect(res.status).toBe(200);
			expect(res.json).toEqual(expected);
		}
		for (const headers of [me(t, 1).auth, me(t, 1).asKey]) {
			const res = await call("GET", `/user/${me(t).id}/rooms`, headers);
			expect(res.status).toBe(403);
			expect(res.json).toEqual({ error: { code: "forbidden", message: "Users may list only their own rooms" } });
		}
	});

	it("pages with limit and cursor, and answers 404 for an unknown user", async () => {
		const t = await tenant(1);
		const rooms = [];
		for (let i = 0; i < 3; i++) rooms.push(await room(t, { members: [me(t).id] }));
		const ids = rooms.map((r) => r.id).sort();
		const first = await call("GET", `/user/${me(t).id}/rooms?limit=2`, t.backend);
		expect(first.json.rooms.map((r: { id: string }) => r.id)).toEqual(ids.slice(0, 2));
		expect(first.json.next_cursor).toBe(ids[1]);
		const second = await call("GET", `/user/${me(t).id}/rooms?limit=2&cursor=${first.json.next_cursor}`, t.backend);
		expect(second.json).toEqual({ rooms: [listed(rooms.find((r) => r.id === ids[2]) as object)], next_cursor: null });

		const unknown = await call("GET", "/user/01900000-0000-7000-8000-000000000000/rooms", t.backend);
		expect(unknown.status).toBe(404);
		expect(unknown.json).toEqual({ error: { code: "not_found", message: "User not found" } });
	});

	it("drops a room once the user is removed from it", async () => {
		const t = await tenant(1);
		const r = await room(t, { members: [me(t).id] });
		expect((await call("GET", `/user/${me(t).id}/rooms`, t.backend)).json.rooms).toEqual([listed(r)]);
		expect((await call("DELETE", `/room/${r.id}/members/${me(t).id}`, t.backend)).status).toBe(204);
		expect((await call("GET", `/user/${me(t).id}/rooms`, t.backend)).json).toEqual({ rooms: [], next_cursor: null });
	});
});
