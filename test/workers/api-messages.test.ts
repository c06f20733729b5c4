// Messages: send (seq, idempotency, limits), history windows, access, rate limit and ordering under concurrency.
import { describe, expect, it } from "vitest";
import { BASE, call, callWithEnv, readReply, room, type Tenant, tenant, worker } from "./helpers";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const me = (t: Tenant, i = 0) => t.users[i] as Tenant["users"][number];
const invalid = (fields: Array<{ path: string; message: string }>) => ({
	error: { code: "validation_failed", message: "Invalid request", fields },
});
const privateRoom = { error: { code: "forbidden", message: "This room is private and you are not a member" } };
const send = (t: Tenant, roomId: string, body: unknown, as = me(t).auth) => call("POST", `/room/${roomId}/message/send`, as, body);
const history = async (t: Tenant, roomId: string, query = "") => {
	const res = await call("GET", `/room/${roomId}/messages${query}`, t.backend);
	expect(res.status).toBe(200);
	return res.json.messages as Array<{ seq: number; text_message: string; user_id: string; id: string }>;
};
const seqs = (messages: Array<{ seq: number }>) => messages.map((m) => m.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Sends `count` messages "m1".."m<count>" in order, spread over the users so no one hits the per-user rate limit. */
async function fill(t: Tenant, roomId: string, count: number) {
	for (let i = 1; i <= count; i++) {
		const res = await send(t, roomId, { text_message: `m${i}` }, t.users[i % t.users.length]?.auth);
		expect(res.status).toBe(201);
	}
}

describe("POST /room/{room_id}/message/send", () => {
	it("stores messages with seq 1, 2, 3 and returns the whole message", async () => {
		const t = await tenant(2);
		const r = await room(t);
		const first = await send(t, r.id, { text_message: "hello" });
		expect(first.status).toBe(201);
		expect(first.json).toEqual({
			id: expect.stringMatching(UUID),
			room_id: r.id,
			seq: 1,
			user_id: me(t).id,
			text_message: "hello",
			created_at: expect.stringMatching(ISO),
		});
		const second = await send(t, r.id, { text_message: "hi there", client_msg_id: "c-2" }, me(t, 1).asKey);
		expect(second.status).toBe(201);
		expect(second.json).toEqual({
			id: expect.stringMatching(UUID),
			room_id: r.id,
			seq: 2,
			user_id: me(t, 1).id,
			text_message: "hi there",
			created_at: expect.stringMatching(ISO),
			client_msg_id: "c-2",
		});
		const third = await send(t, r.id, { text_message: "  spaces and ünïcödé 👋 <b>kept</b>  " });
		expect(third.json).toMatchObject({ seq: 3, text_message: "  spaces and ünïcödé 👋 <b>kept</b>  " });
		expect(await history(t, r.id)).toEqual([first.json, second.json, third.json]);
	});

	it("numbers each room on its own", async () => {
		const t = await tenant(1);
		const a = await room(t);
		const b = await room(t);
		await send(t, a.id, { text_message: "a1" });
		await send(t, a.id, { text_message: "a2" });
		expect((await send(t, b.id, { text_message: "b1" })).json.seq).toBe(1);
		expect((await send(t, a.id, { text_message: "a3" })).json.seq).toBe(3);
	});

	it("ignores fields a sender may not choose (user_id, seq, id, room_id)", async () => {
		const t = await tenant(2);
		const r = await room(t);
		const res = await send(t, r.id, {
			text_message: "me",
			user_id: me(t, 1).id,
			seq: 99,
			id: r.id,
			room_id: r.id,
			created_at: "1970-01-01T00:00:00.000Z",
		});
		expect(res.status).toBe(201);
		expect(res.json).toEqual({
			id: expect.stringMatching(UUID),
			room_id: r.id,
			seq: 1,
			user_id: me(t).id,
			text_message: "me",
			created_at: expect.stringMatching(ISO),
		});
		expect(res.json.id).not.toBe(r.id);
		expect(res.json.created_at).not.toBe("1970-01-01T00:00:00.000Z");
	});

	it("returns the first message (200) for a retry with the same client_msg_id and stores one copy", async () => {
		const t = await tenant(1);
		const r = await room(t);
		const first = await send(t, r.id, { text_message: "once", client_msg_id: "retry-1" });
		expect(first.status).toBe(201);
		const retry = await send(t, r.id, { text_message: "once", client_msg_id: "retry-1" });
		expect(retry.status).toBe(200);
		expect(retry.json).toEqual(first.json);
		// Even with another text, and through the other credential form: same user, same key, same message.
		const changed = await send(t, r.id, { text_message: "twice?", client_msg_id: "retry-1" }, me(t).asKey);
		expect(changed.status).toBe(200);
		expect(changed.json).toEqual(first.json);
		expect(await history(t, r.id)).toEqual([first.json]);
		// The next new message continues without a gap.
		expect((await send(t, r.id, { text_message: "next", client_msg_id: "retry-2" })).json.seq).toBe(2);
	});

	it("stores a new message when another user uses the same client_msg_id", async () => {
		const t = await tenant(2);
		const r = await room(t);
		const mine = await send(t, r.id, { text_message: "mine", client_msg_id: "same" });
		const theirs = await send(t, r.id, { text_message: "theirs", client_msg_id: "same" }, me(t, 1).auth);
		expect(theirs.status).toBe(201);
		expect(theirs.json).toEqual({
			...mine.json,
			id: expect.stringMatching(UUID),
			seq: 2,
			user_id: me(t, 1).id,
			text_message: "theirs",
			created_at: expect.stringMatching(ISO),
		});
		expect(theirs.json.id).not.toBe(mine.json.id);
		expect(seqs(await history(t, r.id))).toEqual([1, 2]);
	});

	it("scopes client_msg_id to its room: the same key in another room stores a message there", async () => {
		const t = await tenant(1);
		const a = await room(t);
		const b = await room(t);
		const inA = await send(t, a.id, { text_message: "to a", client_msg_id: "k1" });
		const inB = await send(t, b.id, { text_message: "to b", client_msg_id: "k1" });
		expect(inB.status).toBe(201);
		expect(inB.json).toMatchObject({ room_id: b.id, seq: 1, text_message: "to b", client_msg_id: "k1" });
		expect(await history(t, a.id)).toEqual([inA.json]);
		expect(await history(t, b.id)).toEqual([inB.json]);
	});

	it("answers concurrent retries with one stored message", async () => {
		const t = await tenant(1);
		const r = await room(t);
		const replies = await Promise.all(range(1, 8).map(() => send(t, r.id, { text_message: "dup", client_msg_id: "burst" })));
		expect(replies.map((x) => x.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
		const stored = await history(t, r.id);
		expect(stored).toHaveLength(1);
		for (const reply of replies) expect(reply.json).toEqual(stored[0]);
	});

	it("follows MAX_MESSAGE_LENGTH over REST as over WebSockets, above the default too", async () => {
		const t = await tenant(1);
		const r = await room(t);
		const path = `/room/${r.id}/message/send`;
		const accepted = await callWithEnv({ MAX_MESSAGE_LENGTH: "5000" }, "POST", path, t.users[0]!.auth, { text_message: "y".repeat(5000) });
		expect(accepted.status).toBe(201);
		expect(accepted.json.text_message).toHaveLength(5000);
		const refused = await callWithEnv({ MAX_MESSAGE_LENGTH: "5000" }, "POST", path, t.users[0]!.auth, { text_message: "y".repeat(5001) });
		expect(refused.status).toBe(400);
		expect(refused.json).toEqual(invalid([{ path: "text_message", message: "Too big: expected string to have <=5000 characters" }]));
	});

	it.each([
		["text is empty", { text_message: "" }, [{ path: "text_message", message: "Too small: expected string to have >=1 characters" }]],
		[
			"text is 4001 characters",
			{ text_message: "x".repeat(4001) },
			[{ path: "text_message", message: "Too big: expected string to have <=4000 characters" }],
		],
		["text is missing", {}, [{ path: "text_message", message: "Invalid input: expected string, received undefined" }]],
		["text is a number", { text_message: 5 }, [{ path: "text_message", message: "Invalid input: expected string, received number" }]],
		[
			"client_msg_id is empty",
			{ text_message: "a", client_msg_id: "" },
			[{ path: "client_msg_id", message: "Too small: expected string to have >=1 characters" }],
		],
		[
			"client_msg_id is 129 characters",
			{ text_message: "a", client_msg_id: "k".repeat(129) },
			[{ path: "client_msg_id", message: "Too big: expected string to have <=128 characters" }],
		],
		["the body is an array", [{ text_message: "a" }], [{ path: "", message: "Invalid input: expected object, received array" }]],
	])("answers 400 with the fields when %s, and stores nothing", async (_label, body, fields) => {
		const t = await tenant(1);
		const r = await room(t);
		const res = await send(t, r.id, body);
		expect(res.status).toBe(400);
		expect(res.json).toEqual(invalid(fields));
		expect(await history(t, r.id)).toEqual([]);
	});

	it("accepts exactly 4000 characters", async () => {
		const t = await tenant(1);
		const r = await room(t);
		const res = await send(t, r.id, { text_message: "x".repeat(4000) });
		expect(res.status).toBe(201);
		expect(res.json.text_message).toHaveLength(4000);
	});

	it("answers 400 invalid_json for a body that is not JSON", async () => {
		const t = await tenant(1);
		const r = await room(t);
		for (const raw of ["{nope", '{"text_message": "a"', ""]) {
			const res = await send(t, r.id, raw);
			expect(res.status).toBe(400);
			expect(res.json).toEqual({ error: { code: "invalid_json", message: "Malformed JSON in request body" } });
		}
	});

	it("answers 413 payload_too_large above 64 KiB, with or without Content-Length", async () => {
		const t = await tenant(1);
		const r = await room(t);
		const body = (bytes: number) => {
			const shell = '{"text_message":""}';
			return `{"text_message":"${"x".repeat(bytes - shell.length)}"}`;
		};
		const tooLarge = { error: { code: "payload_too_large", message: "Request bodies are limited to 64 KiB" } };
		const over = await send(t, r.id, body(64 * 1024 + 1));
		expect(over.status).toBe(413);
		expect(over.json).toEqual(tooLarge);
		// At the limit the body is read, and then the text is too long: 400, not 413.
		expect((await send(t, r.id, body(64 * 1024))).status).toBe(400);

		const bytes = new TextEncoder().encode(body(70_000));
		const stream = new ReadableStream<Uint8Array>({
			start(controller) {
				for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.slice(i, i + 8192));
				controller.close();
			},
		});
		const chunked = await readReply(
			await worker.fetch(`${BASE}/room/${r.id}/message/send`, {
				method: "POST",
				headers: { ...me(t).auth, "content-type": "application/json" },
				body: stream,
			}),
		);
		expect(chunked.status).toBe(413);
		expect(chunked.json).toEqual(tooLarge);
		expect(await history(t, r.id)).toEqual([]);
	});

	it("answers 403 to the backend (it is not a user) and to a non-member of a private room", async () => {
		const t = await tenant(2);
		const open = await room(t);
		const backend = await call("POST", `/room/${open.id}/message/send`, t.backend, { text_message: "as backend" });
		expect(backend.status).toBe(403);
		expect(backend.json).toEqual({
			error: { code: "forbidden", message: "This route acts as a user: use a JWT or `clientKey: <api_token>.<user_id>`" },
		});
		const closed = await room(t, { private: true, members: [me(t).id] });
		for (const headers of [me(t, 1).auth, me(t, 1).asKey]) {
			const res = await send(t, closed.id, { text_message: "let me in" }, headers);
			expect(res.status).toBe(403);
			expect(res.json).toEqual(privateRoom);
		}
		expect((await send(t, closed.id, { text_message: "member" })).status).toBe(201);
		expect(seqs(await history(t, closed.id))).toEqual([1]);
	});

	it("lets any user of the client post in a public room without joining", async () => {
		const t = await tenant(1);
		const r = await room(t);
		expect((await send(t, r.id, { text_message: "drive-by" })).status).toBe(201);
	});

	it("answers 404 for an unknown room, 400 for a non-UUID room id, 401 without credentials", async () => {
		const t = await tenant(1);
		const unknown = await send(t, "01900000-0000-7000-8000-000000000000", { text_message: "x" });
		expect(unknown.status).toBe(404);
		expect(unknown.json).toEqual({ error: { code: "not_found", message: "Room not found" } });
		const bad = await send(t, "lobby", { text_message: "x" });
		expect(bad.status).toBe(400);
		expect(bad.json).toEqual(invalid([{ path: "room_id", message: "Invalid UUID" }]));
		const r = await room(t);
		const none = await call("POST", `/room/${r.id}/message/send`, {}, { text_message: "x" });
		expect(none.status).toBe(401);
		expect(none.json.error.code).toBe("unauthorized");
	});

	it("rate-limits one user's burst with 429 and keeps seq gap-free", async () => {
		const t = await tenant(2);
		const r = await room(t);
		const replies = await Promise.all(range(1, 100).map((i) => send(t, r.id, { text_message: `b${i}` })));
		const limited = replies.filter((x) => x.status === 429);
		const created = replies.filter((x) => x.status === 201);
		expect(limited.length + created.length).toBe(100);
		expect(created.length).toBeGreaterThanOrEqual(40);
		expect(limited.length).toBeGreaterThan(0);
		expect(limited[0]?.json).toEqual({
			error: { code: "rate_limited", message: "Too many messages from this user in this room, slow down" },
		});
		expect(seqs(created.map((x) => x.json)).sort((a, b) => a - b)).toEqual(range(1, created.length));
		// Another user in the same room has their own budget.
		expect((await send(t, r.id, { text_message: "other user" }, me(t, 1).auth)).status).toBe(201);
	});
});

describe("GET /room/{room_id}/messages", () => {
	it("returns the newest 50 by default, in ascending seq", async () => {
		const t = await tenant(2);
		const r = await room(t);
		await fill(t, r.id, 60);
		const page = await history(t, r.id);
		expect(seqs(page)).toEqual(range(11, 60));
		expect(page.map((m) => m.text_message)).toEqual(range(11, 60).map((i) => `m${i}`));
		expect(page[0]).toEqual({
			id: expect.stringMatching(UUID),
			room_id: r.id,
			seq: 11,
			user_id: me(t, 1).id,
			text_message: "m11",
			created_at: expect.stringMatching(ISO),
		});
	});

	it("windows with after_seq, before_seq and limit", async () => {
		const t = await tenant(2);
		const r = await room(t);
		await fill(t, r.id, 30);
		expect(seqs(await history(t, r.id, "?after_seq=25"))).toEqual([26, 27, 28, 29, 30]);
		expect(seqs(await history(t, r.id, "?after_seq=0&limit=3"))).toEqual([1, 2, 3]);
		expect(seqs(await history(t, r.id, "?after_seq=10&limit=5"))).toEqual([11, 12, 13, 14, 15]);
		expect(seqs(await history(t, r.id, "?before_seq=5"))).toEqual([1, 2, 3, 4]);
		expect(seqs(await history(t, r.id, "?before_seq=20&limit=3"))).toEqual([17, 18, 19]);
		expect(seqs(await history(t, r.id, "?after_seq=10&before_seq=14"))).toEqual([11, 12, 13]);
		expect(seqs(await history(t, r.id, "?limit=2"))).toEqual([29, 30]);
		expect(await history(t, r.id, "?after_seq=30")).toEqual([]);
		expect(await history(t, r.id, "?before_seq=1")).toEqual([]);
	});

	it("clamps limit to 200", async () => {
		const t = await tenant(7);
		const r = await room(t);
		// 7 users x 30 messages, each user in order, the users side by side.
		await Promise.all(
			t.users.map(async (u) => {
				for (let i = 0; i < 30; i++) expect((await send(t, r.id, { text_message: "fill" }, u.auth)).status).toBe(201);
			}),
		);
		expect(seqs(await history(t, r.id, "?limit=500"))).toEqual(range(11, 210));
		expect(seqs(await history(t, r.id, "?after_seq=0&limit=1000"))).toEqual(range(1, 200));
	});

	it.each([
		["after_seq=-1", [{ path: "after_seq", message: "Too small: expected number to be >=0" }]],
		["before_seq=0", [{ path: "before_seq", message: "Too small: expected number to be >=1" }]],
		["limit=0", [{ path: "limit", message: "Too small: expected number to be >=1" }]],
		["limit=ten", [{ path: "limit", message: "Invalid input: expected number, received NaN" }]],
		["after_seq=1.5", [{ path: "after_seq", message: "Invalid input: expected int, received number" }]],
	])("answers 400 for %s", async (query, fields) => {
		const t = await tenant(1);
		const r = await room(t);
		const res = await call("GET", `/room/${r.id}/messages?${query}`, me(t).auth);
		expect(res.status).toBe(400);
		expect(res.json).toEqual(invalid(fields));
	});

	it("lets the backend and members read a private room; a non-member gets 403", async () => {
		const t = await tenant(2);
		const r = await room(t, { private: true, members: [me(t).id] });
		const sent = await send(t, r.id, { text_message: "secret" });
		expect((await call("GET", `/room/${r.id}/messages`, t.backend)).json).toEqual({ messages: [sent.json] });
		expect((await call("GET", `/room/${r.id}/messages`, me(t).auth)).json).toEqual({ messages: [sent.json] });
		for (const headers of [me(t, 1).auth, me(t, 1).asKey]) {
			const res = await call("GET", `/room/${r.id}/messages`, headers);
			expect(res.status).toBe(403);
			expect(res.json).toEqual(privateRoom);
		}
	});

	it("lets any user of the client read a public room, and answers 401 without credentials", async () => {
		const t = await tenant(2);
		const r = await room(t);
		const sent = await send(t, r.id, { text_message: "public" });
		expect((await call("GET", `/room/${r.id}/messages`, me(t, 1).asKey)).json).toEqual({ messages: [sent.json] });
		const none = await call("GET", `/room/${r.id}/messages`);
		expect(none.status).toBe(401);
	});
});

describe("concurrent sends", () => {
	it("numbers 50 parallel sends 1..50 with no gaps or duplicates", async () => {
		const t = await tenant(5);
		const r = await room(t);
		// Five users so the per-user rate limit (burst 40) stays out of the way.
		const replies = await Promise.all(range(1, 50).map((i) => send(t, r.id, { text_message: `p${i}` }, t.users[i % 5]?.auth)));
		expect(replies.map((x) => x.status)).toEqual(Array(50).fill(201));
		const assigned = replies.map((x) => x.json.seq as number);
		expect([...assigned].sort((a, b) => a - b)).toEqual(range(1, 50));
		expect(new Set(replies.map((x) => x.json.id)).size).toBe(50);

		const stored = await history(t, r.id);
		expect(seqs(stored)).toEqual(range(1, 50));
		// Each reply is exactly what history holds at its seq.
		for (const reply of replies) expect(stored[reply.json.seq - 1]).toEqual(reply.json);
	});
});
