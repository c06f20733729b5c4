// Read positions and unread counts over REST: POST /room/{room_id}/read, GET /user/{user_id}/unread
// and the read state on GET /user/{user_id}/rooms, all recounted by the room from its log.
import { describe, expect, it } from "vitest";
import { call, room, tenant } from "./helpers";

const sendAs = async (auth: Record<string, string>, roomId: string, text: string) => {
	const res = await call("POST", `/room/${roomId}/message/send`, auth, { text_message: text });
	expect(res.status).toBe(201);
	return res.json as { seq: number };
};

describe("read state over REST", () => {
	it("counts others' messages after the read position, moves it forward only and clamps it", async () => {
		const t = await tenant(2);
		const [alice, bob] = t.users as [(typeof t.users)[0], (typeof t.users)[0]];
		const r = await room(t, { members: [alice.id, bob.id] });
		await sendAs(bob.auth, r.id, "one");
		await sendAs(alice.auth, r.id, "mine");
		await sendAs(bob.auth, r.id, "two");
		expect((await call("GET", `/user/${alice.id}/unread`, t.backend)).json).toEqual({
			unread_total: 2,
			rooms: [{ room_id: r.id, last_seq: 3, last_read_seq: 0, unread: 2 }],
		});
		expect((await call("GET", `/user/${bob.id}/unread`, bob.auth)).json).toEqual({
			unread_total: 1,
			rooms: [{ room_id: r.id, last_seq: 3, last_read_seq: 0, unread: 1 }],
		});
		expect(await call("POST", `/room/${r.id}/read`, alice.auth, { seq: 1 })).toMatchObject({
			status: 200,
			json: { room_id: r.id, last_read_seq: 1, unread: 1 },
		});
		// Never back: a lower seq answers the current position.
		expect((await call("POST", `/room/${r.id}/read`, alice.asKey, { seq: 0 })).json).toEqual({
			room_id: r.id,
			last_read_seq: 1,
			unread: 1,
		});
		// Clamped to the room's last seq.
		expect((await call("POST", `/room/${r.id}/read`, alice.auth, { seq: 1000 })).json).toEqual({
			room_id: r.id,
			last_read_seq: 3,
			unread: 0,
		});
		expect((await call("GET", `/user/${alice.id}/unread`, t.backend)).json).toEqual({ unread_total: 0, rooms: [] });
		const listed = await call("GET", `/user/${alice.id}/rooms`, alice.auth);
		expect(listed.json.rooms).toEqual([{ ...r, last_seq: 3, last_read_seq: 3, unread: 0 }]);
	});

	it("starts a member added later after the messages already there", async () => {
		const t = await tenant(2);
		const [alice, bob] = t.users as [(typeof t.users)[0], (typeof t.users)[0]];
		const r = await room(t, { members: [alice.id] });
		await sendAs(alice.auth, r.id, "before bob");
		expect((await call("POST", `/room/${r.id}/members`, t.backend, { user_id: bob.id })).status).toBe(201);
		expect((await call("GET", `/user/${bob.id}/unread`, t.backend)).json).toEqual({ unread_total: 0, rooms: [] });
		await sendAs(alice.auth, r.id, "after bob");
		expect((await call("GET", `/user/${bob.id}/unread`, t.backend)).json).toEqual({
			unread_total: 1,
			rooms: [{ room_id: r.id, last_seq: 2, last_read_seq: 1, unread: 1 }],
		});
	});

	it("refuses a non-member's read of a private room, another user's unread, and another client's room", async () => {
		const t = await tenant(2);
		const other = await tenant(1, "other");
		const [alice, bob] = t.users as [(typeof t.users)[0], (typeof t.users)[0]];
		const r = await room(t, { private: true, members: [alice.id] });
		expect(await call("POST", `/room/${r.id}/read`, bob.auth, { seq: 1 })).toMatchObject({
			status: 403,
			json: { error: { code: "forbidden", message: "This room is private and you are not a member" } },
		});
		expect(await call("GET", `/user/${alice.id}/unread`, bob.auth)).toMatchObject({
			status: 403,
			json: { error: { code: "forbidden", message: "Users may read only their own unread counts" } },
		});
		expect((await call("POST", `/room/${r.id}/read`, other.users[0]?.auth, { seq: 1 })).status).toBe(404);
		expect((await call("GET", `/user/${alice.id}/unread`, other.backend)).status).toBe(404);
		expect((await call("POST", `/room/${r.id}/read`, alice.auth, { seq: -1 })).status).toBe(400);
	});
});
