// Rooms and members: create (backend or user), get, join, list/add/remove members, and who may do what.
import { describe, expect, it } from "vitest";
import { uuidv7 } from "../../src/ids";
import { call, room, type Tenant, tenant, testDb } from "./helpers";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UNKNOWN = "01900000-0000-7000-8000-000000000000";
const me = (t: Tenant, i = 0) => t.users[i] as Tenant["users"][number];
const member = (userId: string, role = "member") => ({ user_id: userId, role, joined_at: expect.stringMatching(ISO) });
const byId = (ids: string[]) => [...ids].sort();
const invalid = (fields: Array<{ path: string; message: string }>) => ({
	error: { code: "validation_failed", message: "Invalid request", fields },
});
const backendOnly = { error: { code: "forbidden", message: "This route is for the client's backend: use `clientKey: <api_token>`" } };
const userOnly = { error: { code: "forbidden", message: "This route acts as a user: use a JWT or `clientKey: <api_token>.<user_id>`" } };
const privateRoom = { error: { code: "forbidden", message: "This room is private and you are not a member" } };
const roomNotFound = { error: { code: "not_found", message: "Room not found" } };

const membersOf = async (t: Tenant, roomId: string) => (await call("GET", `/room/${roomId}/members`, t.backend)).json;

describe("POST /room", () => {
	it("creates a public room as the backend, with no members", async () => {
		const t = await tenant(1);
		const res = await call("POST", "/room", t.backend, { name: "general" });
		expect(res.status).toBe(201);
		expect(res.json).toEqual({
			id: expect.stringMatching(UUID),
			name: "general",
			private: false,
			cooldown_seconds: 0,
			created_at: expect.stringMatching(ISO),
		});
		expect(await membersOf(t, res.json.id)).toEqual({ members: [], next_cursor: null });
	});

	it("creates a room from an empty body", async () => {
		const t = await tenant(0);
		const res = await call("POST", "/room", t.backend, {});
		expect(res.status).toBe(201);
		expect(res.json).toEqual({
			id: expect.stringMatching(UUID),
			name: null,
			private: false,
			cooldown_seconds: 0,
			created_at: expect.stringMatching(ISO),
		});
	});

	it("creates a private room with the listed members (duplicates once)", async () => {
		const t = await tenant(3);
		const res = await call("POST", "/room", t.backend, { name: "staff", private: true, members: [me(t).id, me(t, 1).id, me(t).id] });
		expect(res.status).toBe(201);
		expect(res.json).toEqual({
			id: expect.stringMatching(UUID),
			name: "staff",
			private: true,
			cooldown_seconds: 0,
			created_at: expect.stringMatching(ISO),
		});
		const members = await membersOf(t, res.json.id);
		expect(members).toEqual({ members: byId([me(t).id, me(t, 1).id]).map((id) => member(id)), next_cursor: null });
	});

	it("makes a user who creates a room a member of it, with JWT or the user clientKey", async () => {
		const t = await tenant(3);
		const byJwt = await call("POST", "/room", me(t).auth, { name: "mine", private: true, members: [me(t, 1).id] });
		expect(byJwt.status).toBe(201);
		// The creator owns the room.
		const roles = { [me(t).id]: "owner", [me(t, 1).id]: "member" };
		expect(await membersOf(t, byJwt.json.id)).toEqual({
			members: byId([me(t).id, me(t, 1).id]).map((id) => member(id, roles[id])),
			next_cursor: null,
		});
		// The creator reads the private room; a user left out does not.
		expect((await call("GET", `/room/${byJwt.json.id}`, me(t).auth)).json).toEqual(byJwt.json);
		expect((await call("GET", `/room/${byJwt.json.id}`, me(t, 2).auth)).json).toEqual(privateRoom);

		const byKey = await call("POST", "/room", me(t, 2).asKey, {});
		expect(byKey.status).toBe(201);
		expect(await membersOf(t, byKey.json.id)).toEqual({ members: [member(me(t, 2).id, "owner")], next_cursor: null });
	});

	it("answers 400 naming each unknown member, including another client's user, and creates nothing", async () => {
		const t = await tenant(1);
		const other = await tenant(1, "other");
		const res = await call("POST", "/room", t.backend, { name: "ghosts", members: [me(t).id, UNKNOWN, me(other).id] });
		expect(res.status).toBe(400);
		expect(res.json).toEqual({
			error: {
				code: "validation_failed",
				message: "Unknown members",
				fields: [
					{ path: "members.1", message: `No user ${UNKNOWN} in this client` },
					{ path: "members.2", message: `No user ${me(other).id} in this client` },
				],
			},
		});
		expect((await call("GET", `/user/${me(t).id}/rooms`, t.backend)).json.rooms).toEqual([]);
	});

	it("creates a room with 250 members (beyond D1's bound-parameter limit per statement) and refuses 1001", async () => {
		const t = await tenant(0);
		const db = testDb();
		const base = Date.now() - 10_000;
		const ids = Array.from({ length: 250 }, (_, i) => uuidv7(base + i));
		await db.batch(
			ids.map((id, i) =>
				db
					.prepare("INSERT INTO users (id, client_id, name, metadata, created_at) VALUES (?, ?, NULL, NULL, ?)")
					.bind(id, t.clientId, base + i),
			),
		);
		const res = await call("POST", "/room", t.backend, { name: "crowd", members: ids });
		expect(res.status).toBe(201);
		const first = await call("GET", `/room/${res.json.id}/members?limit=200`, t.backend);
		const rest = await call("GET", `/room/${res.json.id}/members?limit=200&cursor=${first.json.next_cursor}`, t.backend);
		expect([...first.json.members, ...rest.json.members].map((m: { user_id: string }) => m.user_id)).toEqual(ids);
		expect(rest.json.next_cursor).toBeNull();

		const tooMany = await call("POST", "/room", t.backend, { members: Array.from({ length: 1001 }, () => ids[0]) });
		expect(tooMany.status).toBe(400);
		expect(tooMany.json).toEqual(invalid([{ path: "members", message: "Too big: expected array to have <=1000 items" }]));
	});

	it.each([
		["members are not UUIDs", { members: ["bob"] }, [{ path: "members.0", message: "Invalid UUID" }]],
		["members is not an array", { members: "x" }, [{ path: "members", message: "Invalid input: expected array, received string" }]],
		["private is a string", { private: "yes" }, [{ path: "private", message: "Invalid input: expected boolean, received string" }]],
		["name is blank", { name: " " }, [{ path: "name", message: "Too small: expected string to have >=1 characters" }]],
		[
			"name is over 200 characters",
			{ name: "r".repeat(201) },
			[{ path: "name", message: "Too big: expected string to have <=200 characters" }],
		],
	])("answers 400 when %s", async (_label, body, fields) => {
		const t = await tenant(0);
		const res = await call("POST", "/room", t.backend, body);
		expect(res.status).toBe(400);
		expect(res.json).toEqual(invalid(fields));
	});

	it("answers 401 without credentials", async () => {
		const res = await call("POST", "/room", {}, { name: "anon" });
		expect(res.status).toBe(401);
		expect(res.json.error.code).toBe("unauthorized");
	});
});

describe("GET /room/{room_id}", () => {
	it("returns a public room to the backend and to any user of the client", async () => {
		const t = await tenant(2);
		const r = await room(t, { name: "lobby" });
		for (const headers of [t.backend, me(t).auth, me(t, 1).asKey]) {
			const res = await call("GET", `/room/${r.id}`, headers);
			expect(res.status).toBe(200);
			expect(res.json).toEqual(r);
		}
	});

	it("returns a private room to the backend and members; 403 to other users", async () => {
		const t = await tenant(2);
		const r = await room(t, { private: true, members: [me(t).id] });
		expect((await call("GET", `/room/${r.id}`, t.backend)).json).toEqual(r);
		expect((await call("GET", `/room/${r.id}`, me(t).auth)).json).toEqual(r);
		for (const headers of [me(t, 1).auth, me(t, 1).asKey]) {
			const res = await call("GET", `/room/${r.id}`, headers);
			expect(res.status).toBe(403);
			expect(res.json).toEqual(privateRoom);
		}
	});

	it("answers 404 for an unknown room and 400 for a non-UUID id", async () => {
		const t = await tenant(0);
		const unknown = await call("GET", `/room/${UNKNOWN}`, t.backend);
		expect(unknown.status).toBe(404);
		expect(unknown.json).toEqual(roomNotFound);
		const bad = await call("GET", "/room/general", t.backend);
		expect(bad.status).toBe(400);
		expect(bad.json).toEqual(invalid([{ path: "room_id", message: "Invalid UUID" }]));
	});
});

describe("POST /room/{room_id}/join", () => {
	it("lets a user join a public room (200, again 200) and then see it among their rooms", async () => {
		const t = await tenant(1);
		const r = await room(t, { name: "open" });
		const res = await call("POST", `/room/${r.id}/join`, me(t).auth);
		expect(res.status).toBe(200);
		expect(res.json).toEqual(member(me(t).id));
		await new Promise((r) => setTimeout(r, 5));
		const again = await call("POST", `/room/${r.id}/join`, me(t).asKey);
		expect(again.status).toBe(200);
		// The membership keeps the time of the first join.
		expect(again.json).toEqual(res.json);
		expect(await membersOf(t, r.id)).toEqual({ members: [member(me(t).id)], next_cursor: null });
		expect((await call("GET", `/user/${me(t).id}/rooms`, me(t).auth)).json).toEqual({
			rooms: [{ ...r, last_seq: 0, last_read_seq: 0, unread: 0 }],
			next_cursor: null,
		});
	});

	it("answers 403 for a private room and adds nobody", async () => {
		const t = await tenant(1);
		const r = await room(t, { private: true });
		const res = await call("POST", `/room/${r.id}/join`, me(t).auth);
		expect(res.status).toBe(403);
		expect(res.json).toEqual({
			error: { code: "forbidden", message: "Private rooms are joined only by invitation (POST /room/{room_id}/members)" },
		});
		expect(await membersOf(t, r.id)).toEqual({ members: [], next_cursor: null });
	});

	it("answers 200 to a member of a private room (join is idempotent), still 403 to others", async () => {
		const t = await tenant(2);
		const r = await room(t, { private: true, members: [me(t).id] });
		const res = await call("POST", `/room/${r.id}/join`, me(t).auth);
		expect(res.status).toBe(200);
		expect(res.json).toEqual(member(me(t).id));
		expect(await membersOf(t, r.id)).toEqual({ members: [member(me(t).id)], next_cursor: null });
		expect((await call("POST", `/room/${r.id}/join`, me(t, 1).auth)).status).toBe(403);
	});

	it("answers 403 to the backend (it adds members instead) and 404 for an unknown room", async () => {
		const t = await tenant(1);
		const r = await room(t);
		const backend = await call("POST", `/room/${r.id}/join`, t.backend);
		expect(backend.status).toBe(403);
		expect(backend.json).toEqual(userOnly);
		const unknown = await call("POST", `/room/${UNKNOWN}/join`, me(t).auth);
		expect(unknown.status).toBe(404);
		expect(unknown.json).toEqual(roomNotFound);
	});
});

describe("room members", () => {
	it("adds a member (201), then again (200), and lists them", async () => {
		const t = await tenant(2);
		const r = await room(t, { private: true });
		const added = await call("POST", `/room/${r.id}/members`, t.backend, { user_id: me(t).id });
		expect(added.status).toBe(201);
		expect(added.json).toEqual(member(me(t).id));
		await new Promise((r) => setTimeout(r, 5));
		const repeat = await call("POST", `/room/${r.id}/members`, t.backend, { user_id: me(t).id });
		expect(repeat.status).toBe(200);
		expect(repeat.json).toEqual(added.json);
		expect(await membersOf(t, r.id)).toEqual({ members: [member(me(t).id)], next_cursor: null });
		// Membership opens the private room to the user.
		expect((await call("GET", `/room/${r.id}`, me(t).auth)).status).toBe(200);
	});

	it("lists members to members and pages them; a non-member of a private room gets 403", async () => {
		const t = await tenant(3);
		const r = await room(t, { private: true, members: t.users.map((u) => u.id) });
		const ids = byId(t.users.map((u) => u.id));
		const first = await call("GET", `/room/${r.id}/members?limit=2`, me(t).auth);
		expect(first.status).toBe(200);
		expect(first.json).toEqual({ members: ids.slice(0, 2).map((id) => member(id)), next_cursor: ids[1] });
		const second = await call("GET", `/room/${r.id}/members?limit=2&cursor=${first.json.next_cursor}`, me(t).auth);
		expect(second.json).toEqual({ members: ids.slice(2).map((id) => member(id)), next_cursor: null });

		const outsider = (await call("POST", "/user", t.backend, {})).json.id as string;
		const res = await call("GET", `/room/${r.id}/members`, { clientKey: `${t.key}.${outsider}` });
		expect(res.status).toBe(403);
		expect(res.json).toEqual(privateRoom);
	});

	it("answers 404 when adding an unknown user or another client's user, 400 for a bad body", async () => {
		const t = await tenant(0);
		const other = await tenant(1, "other");
		const r = await room(t);
		for (const userId of [UNKNOWN, me(other).id]) {
			const res = await call("POST", `/room/${r.id}/members`, t.backend, { user_id: userId });
			expect(res.status).toBe(404);
			expect(res.json).toEqual({ error: { code: "not_found", message: "User not found" } });
		}
		const bad = await call("POST", `/room/${r.id}/members`, t.backend, { user_id: "bob" });
		expect(bad.status).toBe(400);
		expect(bad.json).toEqual(invalid([{ path: "user_id", message: "Invalid UUID" }]));
		const unknownRoom = await call("POST", `/room/${UNKNOWN}/members`, t.backend, { user_id: UNKNOWN });
		expect(unknownRoom.status).toBe(404);
		expect(unknownRoom.json).toEqual(roomNotFound);
	});

	it("removes a member (204, empty body), then answers 404 for the same removal", async () => {
		const t = await tenant(2);
		const r = await room(t, { members: [me(t).id, me(t, 1).id] });
		const res = await call("DELETE", `/room/${r.id}/members/${me(t).id}`, t.backend);
		expect(res.status).toBe(204);
		expect(res.json).toBeNull();
		expect(await membersOf(t, r.id)).toEqual({ members: [member(me(t, 1).id)], next_cursor: null });
		const again = await call("DELETE", `/room/${r.id}/members/${me(t).id}`, t.backend);
		expect(again.status).toBe(404);
		expect(again.json).toEqual({ error: { code: "not_found", message: "Member not found" } });
		const unknownRoom = await call("DELETE", `/room/${UNKNOWN}/members/${me(t).id}`, t.backend);
		expect(unknownRoom.status).toBe(404);
		expect(unknownRoom.json).toEqual(roomNotFound);
		const bad = await call("DELETE", `/room/${r.id}/members/bob`, t.backend);
		expect(bad.status).toBe(400);
		expect(bad.json).toEqual(invalid([{ path: "user_id", message: "Invalid UUID" }]));
	});

	it("closes a private room to a removed member", async () => {
		const t = await tenant(1);
		const r = await room(t, { private: true, members: [me(t).id] });
		expect((await call("GET", `/room/${r.id}/messages`, me(t).auth)).status).toBe(200);
		await call("DELETE", `/room/${r.id}/members/${me(t).id}`, t.backend);
		expect((await call("GET", `/room/${r.id}/messages`, me(t).auth)).json).toEqual(privateRoom);
		expect((await call("POST", `/room/${r.id}/message/send`, me(t).auth, { text_message: "still here?" })).json).toEqual(privateRoom);
	});

	it("refuses user credentials on the backend-only member routes, even a member's", async () => {
		const t = await tenant(2);
		const r = await room(t, { members: [me(t).id] });
		for (const headers of [me(t).auth, me(t).asKey]) {
			const add = await call("POST", `/room/${r.id}/members`, headers, { user_id: me(t, 1).id });
			expect(add.status).toBe(403);
			expect(add.json).toEqual(backendOnly);
			const remove = await call("DELETE", `/room/${r.id}/members/${me(t).id}`, headers);
			expect(remove.status).toBe(403);
			expect(remove.json).toEqual(backendOnly);
		}
		expect(await membersOf(t, r.id)).toEqual({ members: [member(me(t).id)], next_cursor: null });
	});

	it("answers 401 without credentials on every member route", async () => {
		const t = await tenant(1);
		const r = await room(t);
		for (const [method, path, body] of [
			["GET", `/room/${r.id}/members`],
			["POST", `/room/${r.id}/members`, { user_id: me(t).id }],
			["DELETE", `/room/${r.id}/members/${me(t).id}`],
			["POST", `/room/${r.id}/join`],
			["GET", `/room/${r.id}`],
		] as const) {
			const res = await call(method, path, {}, body);
			expect(res.status).toBe(401);
			expect(res.json.error.code).toBe("unauthorized");
		}
	});
});
