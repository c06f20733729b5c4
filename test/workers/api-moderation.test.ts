// Moderation routes inside workerd with D1: credentials first, validation, paging, 404s and the
// refusals that reach the room object (the same rules over TCP on three runtimes: test/e2e/moderation.test.ts).
import { beforeAll, describe, expect, it } from "vitest";
import { call, room, type Tenant, tenant } from "./helpers";

let a: Tenant;
const user = (i: number) => a.users[i] as Tenant["users"][number];
const UNKNOWN = "0190a000-0000-7000-8000-000000000000";

beforeAll(async () => {
	a = await tenant(4, "moderation");
});

describe("moderation routes", () => {
	it("check credentials before the body, then validate it", async () => {
		const r = await room(a);
		expect((await call("POST", `/room/${r.id}/bans`, {}, { user_id: "nope" })).status).toBe(401);
		expect((await call("PATCH", `/room/${r.id}`, user(0).auth, { cooldown_seconds: "x" })).status).toBe(403);
		expect((await call("POST", `/user/${user(0).id}/ban`, user(0).auth, {})).status).toBe(403);
		const bad = await call("POST", `/room/${r.id}/mutes`, a.backend, { user_id: "nope", reason: "" });
		expect(bad.status).toBe(400);
		expect(bad.json.error.fields.map((f: { path: string }) => f.path).sort()).toEqual(["reason", "user_id"]);
		expect((await call("PATCH", `/room/${r.id}`, a.backend, { cooldown_seconds: -1 })).status).toBe(400);
		expect((await call("PATCH", `/room/${r.id}/members/${user(0).id}`, a.backend, {})).status).toBe(400);
	});

	it("page bans by user id, list only those in force, and answer 404 for unknown rooms, users, bans and mutes", async () => {
		const r = await room(a, { members: a.users.map((u) => u.id) });
		const ids = a.users.slice(0, 3).map((u) => u.id);
		for (const id of ids) expect((await call("POST", `/room/${r.id}/bans`, a.backend, { user_id: id })).status).toBe(201);
		const sorted = [...ids].sort();
		const first = await call("GET", `/room/${r.id}/bans?limit=2`, a.backend);
		expect(first.json.bans.map((b: { user_id: string }) => b.user_id)).toEqual(sorted.slice(0, 2));
		expect(first.json.next_cursor).toBe(sorted[1]);
		const second = await call("GET", `/room/${r.id}/bans?limit=2&cursor=${first.json.next_cursor}`, a.backend);
		expect(second.json).toEqual({ bans: [expect.objectContaining({ user_id: sorted[2] })], next_cursor: null });
		// The banned are no longer members; the one left is.
		const members = await call("GET", `/room/${r.id}/members`, a.backend);
		expect(members.json.members.map((m: { user_id: string }) => m.user_id)).toEqual([user(3).id]);

		expect((await call("POST", `/room/${UNKNOWN}/bans`, a.backend, { user_id: user(0).id })).status).toBe(404);
		expect((await call("POST", `/room/${r.id}/bans`, a.backend, { user_id: UNKNOWN })).status).toBe(404);
		expect((await call("DELETE", `/room/${r.id}/mutes/${user(3).id}`, a.backend)).status).toBe(404);
		expect((await call("PATCH", `/room/${UNKNOWN}`, a.backend, { cooldown_seconds: 1 })).status).toBe(404);
		expect((await call("POST", `/user/${UNKNOWN}/ban`, a.backend, {})).status).toBe(404);
		expect((await call("DELETE", `/user/${user(3).id}/ban`, a.backend)).status).toBe(404);
		// A banned member cannot have a role either: they are not a member.
		expect((await call("PATCH", `/room/${r.id}/members/${user(0).id}`, a.backend, { role: "moderator" })).status).toBe(404);
	});

	it("a REST send in slow mode is 429 with retry_after_ms and Retry-After; the backend's role change makes a member exempt", async () => {
		const r = await room(a, { members: [user(0).id, user(1).id] });
		expect((await call("PATCH", `/room/${r.id}`, a.backend, { cooldown_seconds: 3600 })).json.cooldown_seconds).toBe(3600);
		expect((await call("POST", `/room/${r.id}/message/send`, user(0).auth, { text_message: "1" })).status).toBe(201);
		const slow = await call("POST", `/room/${r.id}/message/send`, user(0).auth, { text_message: "2" });
		expect(slow.status).toBe(429);
		expect(slow.json.error.retry_after_ms).toBeGreaterThan(3_590_000);
		expect(slow.headers.get("Retry-After")).toBe("3600");
		await call("PATCH", `/room/${r.id}/members/${user(0).id}`, a.backend, { role: "moderator" });
		expect((await call("POST", `/room/${r.id}/message/send`, user(0).auth, { text_message: "3" })).status).toBe(201);
		// Back to member: the wait counts from the last message, the moderator's included.
		await call("PATCH", `/room/${r.id}/members/${user(0).id}`, a.backend, { role: "member" });
		expect((await call("POST", `/room/${r.id}/message/send`, user(0).auth, { text_message: "4" })).status).toBe(429);
	});

	it("the backend sending for a member (clientKey: <api_token>.<user_id>) is exempt from slow mode, not from a mute", async () => {
		const r = await room(a, { members: [user(2).id] });
		await call("PATCH", `/room/${r.id}`, a.backend, { cooldown_seconds: 3600 });
		expect((await call("POST", `/room/${r.id}/message/send`, user(2).auth, { text_message: "own" })).status).toBe(201);
		expect((await call("POST", `/room/${r.id}/message/send`, user(2).auth, { text_message: "own again" })).status).toBe(429);
		for (const text of ["for them", "and again"]) {
			expect((await call("POST", `/room/${r.id}/message/send`, user(2).asKey, { text_message: text })).status).toBe(201);
		}
		await call("POST", `/room/${r.id}/mutes`, a.backend, { user_id: user(2).id });
		expect(await call("POST", `/room/${r.id}/message/send`, user(2).asKey, { text_message: "muted" })).toMatchObject({
			status: 403,
			json: { error: { code: "muted" } },
		});
	});
});
