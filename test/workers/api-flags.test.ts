// Reports: a member of a room flags a message once; the flag records the message's seq.
import { beforeAll, describe, expect, it } from "vitest";
import { call, room, type Tenant, tenant, testDb } from "./helpers";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let a: Tenant;
let b: Tenant;
const user = (t: Tenant, i: number) => t.users[i] as Tenant["users"][number];

beforeAll(async () => {
	a = await tenant(3, "flags-a");
	b = await tenant(1, "flags-b");
});

describe("POST /room/{room_id}/messages/{message_id}/flag", () => {
	it("stores one report per user and message, with the message's seq, and answers a repeat with the first", async () => {
		const r = await room(a, { members: [user(a, 0).id, user(a, 1).id] });
		await call("POST", `/room/${r.id}/message/send`, user(a, 0).auth, { text_message: "first" });
		const second = (await call("POST", `/room/${r.id}/message/send`, user(a, 0).auth, { text_message: "second" })).json;
		const path = `/room/${r.id}/messages/${second.id}/flag`;
		const flagged = await call("POST", path, user(a, 1).auth, { reason: "  spam  " });
		expect(flagged).toMatchObject({
			status: 201,
			json: {
				id: expect.stringMatching(UUID),
				room_id: r.id,
				message_id: second.id,
				seq: 2,
				flagged_by: user(a, 1).id,
				reason: "spam",
				created_at: expect.stringMatching(ISO),
			},
		});
		const again = await call("POST", path, user(a, 1).auth, { reason: "other words" });
		expect(again).toMatchObject({ status: 200, json: flagged.json });
		const rows = await testDb().prepare("SELECT reason FROM message_flags WHERE message_id = ?").bind(second.id).all();
		expect(rows.results).toEqual([{ reason: "spam" }]);
		// Another member may report it too.
		expect((await call("POST", path, user(a, 0).asKey, { reason: "mine" })).status).toBe(201);
	});

	it("refuses unknown messages, other rooms' messages, non-members of private rooms, other clients and the backend", async () => {
		const priv = await room(a, { private: true, members: [user(a, 0).id] });
		const pub = await room(a, { members: [user(a, 0).id] });
		const m = (await call("POST", `/room/${priv.id}/message/send`, user(a, 0).auth, { text_message: "secret" })).json;
		const reason = { reason: "bad" };
		expect(await call("POST", `/room/${priv.id}/messages/${m.id}/flag`, user(a, 2).auth, reason)).toMatchObject({
			status: 403,
			json: { error: { code: "forbidden", message: "Only members of this room may report its messages" } },
		});
		const wrongRoom = await call("POST", `/room/${pub.id}/messages/${m.id}/flag`, user(a, 0).auth, reason);
		expect(wrongRoom).toMatchObject({ status: 404, json: { error: { code: "not_found", message: "Message not found" } } });
		const unknown = "0190a000-0000-7000-8000-000000000009";
		expect((await call("POST", `/room/${priv.id}/messages/${unknown}/flag`, user(a, 0).auth, reason)).status).toBe(404);
		expect((await call("POST", `/room/${priv.id}/messages/${m.id}/flag`, user(b, 0).auth, reason)).status).toBe(404);
		expect((await call("POST", `/room/${priv.id}/messages/${m.id}/flag`, a.backend, reason)).status).toBe(403);
		expect((await call("POST", `/room/${priv.id}/messages/${m.id}/flag`, user(a, 0).auth, { reason: "" })).status).toBe(400);
		expect((await call("POST", `/room/${priv.id}/messages/${m.id}/flag`, {}, reason)).status).toBe(401);
	});

	it("refuses a non-member of a public room, who can read it, until they join", async () => {
		const pub = await room(a, { members: [user(a, 0).id] });
		const m = (await call("POST", `/room/${pub.id}/message/send`, user(a, 0).auth, { text_message: "hello" })).json;
		const path = `/room/${pub.id}/messages/${m.id}/flag`;
		expect((await call("GET", `/room/${pub.id}/messages`, user(a, 2).auth)).status).toBe(200);
		expect(await call("POST", path, user(a, 2).auth, { reason: "bad" })).toMatchObject({
			status: 403,
			json: { error: { code: "forbidden", message: "Only members of this room may report its messages" } },
		});
		expect(await call("POST", path, user(a, 2).asKey, { reason: "bad" })).toMatchObject({ status: 403 });
		const rows = await testDb().prepare("SELECT COUNT(*) AS n FROM message_flags WHERE message_id = ?").bind(m.id).first();
		expect(rows).toEqual({ n: 0 });
		expect((await call("POST", `/room/${pub.id}/join`, user(a, 2).auth)).status).toBe(200);
		expect((await call("POST", path, user(a, 2).auth, { reason: "bad" })).status).toBe(201);
	});
});
