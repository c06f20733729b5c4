// The room protocol over real sockets inside workerd: join, send, fan-out, REST, catch-up,
// idempotent retries, ordering under concurrency, and write-before-send.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/env";
import { roomStub } from "../../src/room/stub";
import { call, room, tenant } from "./helpers";
import { type Client, connect, type Event, join, online, presence, send, viaProtocol } from "./ws-support";

// Sockets, alarms and a shared 2-core machine: allow more than the default 5 s per test.
vi.setConfig({ testTimeout: 30_000 });

const message = (roomId: string, seq: number, userId: string, text: string, extra: Record<string, unknown> = {}) => ({
	id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
	room_id: roomId,
	seq,
	user_id: userId,
	text_message: text,
	created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
	...extra,
});

async function twoInARoom() {
	const t = await tenant(3);
	const r = await room(t, { name: "general" });
	const [alice, bob, carol] = t.users as [(typeof t.users)[0], (typeof t.users)[0], (typeof t.users)[0]];
	const a = await connect(r.id, viaProtocol(alice.token));
	const b = await connect(r.id, viaProtocol(bob.token));
	expect(await a.request(join(r.id, "ja"))).toEqual([{ event: "ack", id: "ja", data: { room_id: r.id, last_seq: 0, online: [alice.id] } }]);
	expect(await b.request(join(r.id, "jb"))).toEqual([
		{ event: "ack", id: "jb", data: { room_id: r.id, last_seq: 0, online: online(alice.id, bob.id) } },
	]);
	// Alice hears that bob came online (bob's own ack told him).
	expect(await a.next()).toEqual(presence(r.id, bob.id, true));
	return { t, r, alice, bob, carol, a, b };
}

describe("join and send", () => {
	it("both sockets receive new_message; the sender also gets the ack with the stored message and its seq", async () => {
		const { r, alice, a, b } = await twoInARoom();
		const answered = await a.request(send(r.id, "hello", 1));
		const stored = answered[0].data;
		expect(answered).toEqual([
			{ event: "new_message", data: message(r.id, 1, alice.id, "hello") },
			{ event: "ack", id: 1, data: stored },
		]);
		expect(await b.next()).toEqual({ event: "new_message", data: stored });
		// The sender's broadcast and ack leave in one frame.
		expect(a.frames.at(-1)).toBe(
			`{"event":"new_message","data":${JSON.stringify(stored)}}\n{"event":"ack","id":1,"data":${JSON.stringify(stored)}}`,
		);
		// The same object REST returns.
		const history = await call("GET", `/room/${r.id}/messages`, alice.auth);
		expect(history.json).toEqual({ messages: [stored] });
		a.close();
		b.close();
	});

	it("a socket that did not join receives nothing; after leave_room nothing more", async () => {
		const { r, alice, carol, a, b } = await twoInARoom();
		const c = await connect(r.id, viaProtocol(carol.token));
		await a.request(send(r.id, "one", 1));
		await b.take(1);
		expect(await b.request({ event: "leave_room", data: { room_id: r.id }, id: "bye" })).toEqual([
			{ event: "ack", id: "bye", data: { room_id: r.id } },
		]);
		await a.request(send(r.id, "two", 2));
		await call("POST", `/room/${r.id}/message/send`, alice.auth, { text_message: "three" });
		await a.take(1);
		expect(await b.quiet()).toEqual([]);
		expect(await c.quiet()).toEqual([]);
		for (const s of [a, b, c]) s.close();
	});

	it("a REST send reaches the joined sockets", async () => {
		const { r, bob, a, b } = await twoInARoom();
		const sent = await call("POST", `/room/${r.id}/message/send`, bob.auth, { text_message: "from rest" });
		expect(sent.status).toBe(201);
		expect(sent.json).toEqual(message(r.id, 1, bob.id, "from rest"));
		expect(await a.next()).toEqual({ event: "new_message", data: sent.json });
		expect(await b.next()).toEqual({ event: "new_message", data: sent.json });
		a.close();
		b.close();
	});
});

describe("reconnect with last_seq", () => {
	it("delivers exactly the missed messages in order, then the ack, then live ones", async () => {
		const { r, alice, bob, a, b } = await twoInARoom();
		await a.request(send(r.id, "m1", 1));
		const [first] = await b.take(1);
		expect(first.data.seq).toBe(1);
		b.close();
		expect(await b.closedWith()).toEqual({ code: 1000, reason: "bye" });
		for (let i = 2; i <= 6; i++) await a.request(send(r.id, `m${i}`, i));
		const again = await connect(r.id, viaProtocol(bob.token));
		const caughtUp = await again.request(join(r.id, "rejoin", 1));
		expect(caughtUp).toEqual([
			...[2, 3, 4, 5, 6].map((seq) => ({ event: "new_message", data: message(r.id, seq, alice.id, `m${seq}`) })),
			// Back within the grace period: still online, and alice heard nothing of it.
			{ event: "ack", id: "rejoin", data: { room_id: r.id, last_seq: 6, online: online(alice.id, bob.id) } },
		]);
		await a.request(send(r.id, "m7", 7));
		expect(await again.next()).toEqual({ event: "new_message", data: message(r.id, 7, alice.id, "m7") });
		expect(await again.quiet()).toEqual([]);
		a.close();
		again.close();
	});

	it("a join racing live sends delivers each message once, in seq order", async () => {
		const { t, r, carol, a } = await twoInARoom();
		const c = await connect(r.id, viaProtocol(carol.token));
		for (let i = 1; i <= 20; i++) a.send(send(r.id, `m${i}`, i));
		// Joined from 0 somewhere in the middle of those sends: catch-up then live, no overlap.
		c.send(join(r.id, "late", 0));
		await a.until(() => a.events.filter((e: Event) => e.event === "ack").length === 20, "20 acks");
		await c.until(() => c.events.filter((e: Event) => e.event === "new_message").length >= 20, "20 messages");
		const seen = c.events.filter((e: Event) => e.event === "new_message").map((e: Event) => e.data.seq);
		expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
		expect(c.events.filter((e: Event) => e.event === "ack")).toEqual([
			{ event: "ack", id: "late", data: { room_id: r.id, last_seq: expect.any(Number), online: online(...t.users.map((u) => u.id)) } },
		]);
		c.events.splice(0);
		expect(await c.quiet()).toEqual([]);
		a.close();
		c.close();
	});
});

describe("idempotent retries", () => {
	it("the same client_msg_id over WS, then over REST, returns the first message and is broadcast once", async () => {
		const { r, alice, a, b } = await twoInARoom();
		const first = await a.request(send(r.id, "once", "r1", "c-1"));
		const stored = first[1].data;
		expect(stored).toEqual(message(r.id, 1, alice.id, "once", { client_msg_id: "c-1" }));
		expect(await b.take(1)).toEqual([{ event: "new_message", data: stored }]);
		expect(await a.request(send(r.id, "once (retried)", "r2", "c-1"))).toEqual([{ event: "ack", id: "r2", data: stored }]);
		const rest = await call("POST", `/room/${r.id}/message/send`, alice.auth, { text_message: "once", client_msg_id: "c-1" });
		expect(rest.status).toBe(200);
		expect(rest.json).toEqual(stored);
		// A later message proves the retries were not broadcast in between.
		await a.request(send(r.id, "next", "r3"));
		expect(await b.take(1)).toEqual([{ event: "new_message", data: message(r.id, 2, alice.id, "next") }]);
		expect(await b.quiet()).toEqual([]);
		const count = await runInDurableObject(roomStub(env as unknown as Env, r.id), (_instance, state) =>
			state.storage.sql.exec("SELECT COUNT(*) AS n FROM messages WHERE client_msg_id = 'c-1'").one(),
		);
		expect(count).toEqual({ n: 1 });
		a.close();
		b.close();
	});

	it("a REST send first, then the WS retry: the same message, one broadcast", async () => {
		const { r, bob, a, b } = await twoInARoom();
		const rest = await call("POST", `/room/${r.id}/message/send`, bob.auth, { text_message: "via rest", client_msg_id: "k" });
		expect(rest.status).toBe(201);
		expect(await a.take(1)).toEqual([{ event: "new_message", data: rest.json }]);
		expect(await b.take(1)).toEqual([{ event: "new_message", data: rest.json }]);
		expect(await b.request(send(r.id, "via ws", 5, "k"))).toEqual([{ event: "ack", id: 5, data: rest.json }]);
		expect(await a.quiet()).toEqual([]);
		a.close();
		b.close();
	});
});

describe("ordering", () => {
	it("concurrent senders on several sockets: every socket sees seq 1..N strictly increasing, no gaps, no duplicates", async () => {
		const t = await tenant(4);
		const r = await room(t, {});
		const sockets: Client[] = [];
		for (const user of t.users) {
			const s = await connect(r.id, viaProtocol(user.token));
			await s.request(join(r.id, "j"));
			sockets.push(s);
		}
		const perSocket = 10;
		// All sends go out before any answer is awaited.
		sockets.forEach((s, i) => {
			for (let k = 0; k < perSocket; k++) s.send(send(r.id, `s${i}-m${k}`, `s${i}-${k}`));
		});
		const total = sockets.length * perSocket;
		for (const s of sockets) {
			await s.until(() => s.events.filter((e: Event) => e.event === "new_message").length >= total, "all messages");
			const seqs = s.events.filter((e: Event) => e.event === "new_message").map((e: Event) => e.data.seq);
			expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
			const acks = s.events.filter((e: Event) => e.event === "ack");
			expect(acks).toHaveLength(perSocket);
			// A socket's own messages are acknowledged in the order it sent them.
			const mine = acks.map((e: Event) => e.data.seq as number);
			expect([...mine].sort((x, y) => x - y)).toEqual(mine);
		}
		const texts = sockets[0]?.events.filter((e: Event) => e.event === "new_message").map((e: Event) => e.data.text_message);
		expect(new Set(texts).size).toBe(total);
		for (const s of sockets) s.close();
	});
});

describe("write before send", () => {
	it("when the ack arrives the message is already in the room's storage", async () => {
		const { r, alice, a, b } = await twoInARoom();
		const stub = roomStub(env as unknown as Env, r.id);
		for (let i = 1; i <= 3; i++) {
			const answered = await a.request(send(r.id, `durable ${i}`, i));
			const acked = answered.at(-1).data;
			const row = await runInDurableObject(stub, (_instance, state) =>
				state.storage.sql.exec("SELECT seq, id, user_id, text_message FROM messages WHERE seq = ?", acked.seq).toArray(),
			);
			expect(row).toEqual([{ seq: i, id: acked.id, user_id: alice.id, text_message: `durable ${i}` }]);
		}
		a.close();
		b.close();
	});
});
