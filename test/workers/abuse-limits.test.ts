// Each abuse limit at its default, enforced on the abuser while another user in the same room
// carries on unaffected. (Limits set through the environment: test/e2e/abuse-configured.test.ts.)
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { call, room, type Tenant, tenant } from "./helpers";
import { type Client, connect, type Event, join, send, viaProtocol } from "./ws-support";

let t: Tenant;
const open: Client[] = [];

beforeAll(async () => {
	t = await tenant(7, "abuse");
});
afterEach(() => {
	for (const c of open.splice(0)) c.close();
});

const as = (i: number) => t.users[i]!;
async function socket(roomId: string, user: number): Promise<Client> {
	const c = await connect(roomId, viaProtocol(as(user).token));
	open.push(c);
	return c;
}

describe("REST sends: REST_SEND_RATE_PER_SECOND=20, REST_SEND_RATE_BURST=40 per user and room", () => {
	it("answers 429 rate_limited once the burst is spent, while another user in the room and the same user elsewhere still send", async () => {
		const r = await room(t, {});
		const other = await room(t, {});
		const started = Date.now();
		let accepted = 0;
		let refused: { status: number; json: unknown } | null = null;
		while (refused === null && accepted < 200) {
			const res = await call("POST", `/room/${r.id}/message/send`, as(0).auth, { text_message: `m${accepted}` });
			if (res.status === 201) accepted++;
			else refused = res;
		}
		const elapsed = (Date.now() - started) / 1000;
		expect(refused).toEqual({
			status: 429,
			json: { error: { code: "rate_limited", message: "Too many messages from this user in this room, slow down" } },
			headers: expect.anything(),
		});
		// The burst, plus whatever refilled at 20/s while sending.
		expect(accepted).toBeGreaterThanOrEqual(40);
		expect(accepted).toBeLessThanOrEqual(40 + Math.ceil(elapsed * 20) + 1);
		expect((await call("POST", `/room/${r.id}/message/send`, as(1).auth, { text_message: "unaffected" })).status).toBe(201);
		expect((await call("POST", `/room/${other.id}/message/send`, as(0).auth, { text_message: "elsewhere" })).status).toBe(201);
		// Refused sends store nothing.
		const history = await call("GET", `/room/${r.id}/messages?after_seq=0&limit=200`, t.backend);
		expect(history.json.messages.length).toBe(accepted + 1);
	});
});

describe("WebSocket frames: WS_RATE_PER_SECOND=20, WS_RATE_BURST=40 per connection", () => {
	it("answers rate_limited beyond the burst without closing, while another user's socket in the room is served", async () => {
		const r = await room(t, {});
		const abuser = await socket(r.id, 0);
		const bystander = await socket(r.id, 1);
		for (let i = 0; i < 100; i++) abuser.send(send(r.id, `flood ${i}`, i));
		await abuser.until(() => abuser.events.length >= 100, "100 answers");
		const answers: Event[] = abuser.events.splice(0);
		const acks = answers.filter((e) => e.event === "ack").length;
		const limited = answers.filter((e) => e.event === "error" && e.data.code === "rate_limited");
		expect(acks + limited.length).toBe(100);
		expect(acks).toBeGreaterThanOrEqual(40);
		expect(acks).toBeLessThan(60);
		// Answers come in frame order, each carrying its frame's id.
		expect(limited[0]).toEqual({
			event: "error",
			id: answers.indexOf(limited[0]),
			data: { code: "rate_limited", message: "Too many frames, slow down" },
		});
		const served = await bystander.request(send(r.id, "unaffected", "b1"));
		expect(served.at(-1)).toMatchObject({ event: "ack", id: "b1", data: { text_message: "unaffected", user_id: as(1).id } });
		// The limit is per connection: the same user's second socket starts with a full bucket.
		const second = await socket(r.id, 0);
		expect((await second.request(send(r.id, "second socket", "s1"))).at(-1)).toMatchObject({ event: "ack", id: "s1" });
		expect(abuser.closed).toBe(null);
	});
});

describe("sockets: MAX_SOCKETS_PER_USER=20 per user and room", () => {
	it("refuses the 21st socket with 429 too_many_connections while another user and the same user elsewhere connect", async () => {
		const r = await room(t, {});
		const other = await room(t, {});
		for (let i = 0; i < 20; i++) await socket(r.id, 2);
		const refused = await connect(r.id, viaProtocol(as(2).token)).catch((e: Error) => e.message);
		expect(refused).toBe(
			'handshake 429: {"error":{"code":"too_many_connections","message":"Too many sockets for this user in this room"}}',
		);
		const bystander = await socket(r.id, 3);
		expect((await bystander.request(join(r.id, "j"))).at(-1)).toEqual({
			event: "ack",
			id: "j",
			data: { room_id: r.id, last_seq: 0, online: [as(3).id] },
		});
		await socket(other.id, 2);
		// Closing one frees a slot.
		const first = open[0] as Client;
		first.close();
		await first.closedWith().catch(() => {});
		let reopened: Client | null = null;
		for (let i = 0; i < 50 && reopened === null; i++) {
			reopened = await connect(r.id, viaProtocol(as(2).token)).catch(() => null);
			if (reopened === null) await new Promise((res) => setTimeout(res, 20));
		}
		expect(reopened).not.toBe(null);
		open.push(reopened as Client);
	});
});

describe("sizes: 64 KiB bodies and frames, MAX_MESSAGE_LENGTH=4000", () => {
	it("answers 413 to a body over 64 KiB and 400 to a text over 4000 characters; the other user sends", async () => {
		const r = await room(t, {});
		const big = await call("POST", `/room/${r.id}/message/send`, as(0).auth, JSON.stringify({ text_message: "x".repeat(64 * 1024) }));
		expect(big.status).toBe(413);
		expect(big.json).toEqual({ error: { code: "payload_too_large", message: "Request bodies are limited to 64 KiB" } });
		const long = await call("POST", `/room/${r.id}/message/send`, as(0).auth, { text_message: "x".repeat(4001) });
		expect(long.status).toBe(400);
		expect(long.json.error.code).toBe("validation_failed");
		expect((await call("POST", `/room/${r.id}/message/send`, as(0).auth, { text_message: "x".repeat(4000) })).status).toBe(201);
		expect((await call("POST", `/room/${r.id}/message/send`, as(1).auth, { text_message: "unaffected" })).status).toBe(201);
	});

	it("answers frame_too_large to a frame over 64 KiB, keeps the socket, and serves the other user", async () => {
		const r = await room(t, {});
		const abuser = await socket(r.id, 0);
		const bystander = await socket(r.id, 1);
		abuser.send(JSON.stringify({ event: "send_message", id: "big", data: { room_id: r.id, text_message: "x".repeat(64 * 1024) } }));
		expect(await abuser.next()).toEqual({
			event: "error",
			data: { code: "frame_too_large", message: "Frames are limited to 65536 bytes" },
		});
		expect((await abuser.request(send(r.id, "small", "s"))).at(-1)).toMatchObject({ event: "ack", id: "s" });
		expect((await bystander.request(send(r.id, "unaffected", "b"))).at(-1)).toMatchObject({ event: "ack", id: "b" });
		expect(abuser.closed).toBe(null);
	});
});

describe("pages: limit defaults to 50 and is clamped to 200", () => {
	it("returns at most 200 messages and 200 users however large the limit asked", async () => {
		const r = await room(t, {});
		// Six users stay within their send bursts.
		for (let u = 0; u < 6; u++) {
			await Promise.all(
				Array.from({ length: 40 }, (_, i) => call("POST", `/room/${r.id}/message/send`, as(u).auth, { text_message: `u${u} m${i}` })),
			);
		}
		const all = await call("GET", `/room/${r.id}/messages?after_seq=0&limit=1000000`, t.backend);
		expect(all.json.messages.length).toBe(200);
		expect(all.json.messages.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
		const byDefault = await call("GET", `/room/${r.id}/messages`, t.backend);
		expect(byDefault.json.messages.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 191 + i));
		expect((await call("GET", `/room/${r.id}/messages?limit=0`, t.backend)).status).toBe(400);

		const many = await tenant(0, "many-users");
		await Promise.all(Array.from({ length: 230 }, (_, i) => call("POST", "/user", many.backend, { name: `u${i}` })));
		const users = await call("GET", "/user?limit=999999", many.backend);
		expect(users.json.users.length).toBe(200);
		expect(typeof users.json.next_cursor).toBe("string");
		const rest = await call("GET", `/user?limit=999999&cursor=${users.json.next_cursor}`, many.backend);
		expect(rest.json.users.length).toBe(30);
		expect(rest.json.next_cursor).toBe(null);
	}, 60_000);
});
