// Sockets across the room object's life: eviction with hibernated sockets, JWT expiry (4001),
// removal from a private room (4003), the Close echo, and error paths that must not throw.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { signUserToken } from "../../src/auth/jwt";
import type { Env } from "../../src/env";
import { roomStub } from "../../src/room/stub";
import type { RoomObject } from "../../src/runtimes/cloudflare/room-object";
import { call, JWT_SECRET, room, tenant } from "./helpers";
import { connect, type Event, handshake, join, presence, send, viaProtocol } from "./ws-support";

// Sockets, alarms and a shared 2-core machine: allow more than the default 5 s per test.
vi.setConfig({ testTimeout: 30_000 });

const stubOf = (roomId: string) => roomStub(env as unknown as Env, roomId);

/** A JWT that lives 2 to 3 seconds: long enough for a loaded machine to connect, short enough to wait out. */
const shortLived = (userId: string, clientId: string) =>
	signUserToken({ current: JWT_SECRET }, { userId, clientId }, 3, Math.floor(Date.now() / 1000) * 1000);
const outlive = (exp: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now() + 50)));

describe("eviction with hibernated sockets", () => {
	it("presence survives eviction: the online set is rebuilt from the sockets' attachments", async () => {
		const t = await tenant(3);
		const r = await room(t, {});
		const [alice, bob, carol] = t.users as [(typeof t.users)[0], (typeof t.users)[0], (typeof t.users)[0]];
		const a = await connect(r.id, viaProtocol(alice.token));
		const b = await connect(r.id, viaProtocol(bob.token));
		await a.request(join(r.id, "ja"));
		await b.request(join(r.id, "jb"));
		expect(await a.next()).toEqual(presence(r.id, bob.id, true));
		await evictDurableObject(stubOf(r.id));
		// A new instance: carol's join is news, alice and bob are still online (not announced again).
		const c = await connect(r.id, viaProtocol(carol.token));
		expect(await c.request(join(r.id, "jc"))).toEqual([
			{ event: "ack", id: "jc", data: { room_id: r.id, last_seq: 0, online: [alice.id, bob.id, carol.id].sort() } },
		]);
		expect(await a.next()).toEqual(presence(r.id, carol.id, true));
		expect(await b.next()).toEqual(presence(r.id, carol.id, true));
		// Bob's socket closes: the rebuilt set knows him, so he goes offline after the grace (5 s).
		b.close();
		expect(await a.next(15_000)).toEqual(presence(r.id, bob.id, false));
		expect(await c.next(15_000)).toEqual(presence(r.id, bob.id, false));
		expect(await a.quiet()).toEqual([]);
		a.close();
		c.close();
	});

	it("sockets keep working after eviction, with their identity and their joined state", async () => {
		const t = await tenant(3);
		const r = await room(t, {});
		const [alice, bob, carol] = t.users as [(typeof t.users)[0], (typeof t.users)[0], (typeof t.users)[0]];
		const a = await connect(r.id, viaProtocol(alice.token));
		const b = await connect(r.id, { headers: bob.asKey });
		const lurker = await connect(r.id, viaProtocol(carol.token));
		await a.request(join(r.id, "ja"));
		await b.request(join(r.id, "jb"));
		await a.request(send(r.id, "before", 1));
		await b.take(1);

		await evictDurableObject(stubOf(r.id));
		// The instance is gone: the next event builds a new one from storage and attachments.
		const afterA = await a.request(send(r.id, "after eviction", 2));
		expect(afterA.map((e: Event) => e.event)).toEqual(["new_message", "ack"]);
		expect(afterA[1].data).toMatchObject({ seq: 2, user_id: alice.id, text_message: "after eviction" });
		// b never rejoined, yet receives it: its joined state survived in the attachment.
		expect(await b.next()).toEqual({ event: "new_message", data: afterA[1].data });
		expect((await b.request(send(r.id, "bob after eviction", 3))).at(-1).data).toMatchObject({ seq: 3, user_id: bob.id });
		expect((await a.next()).data).toMatchObject({ seq: 3, user_id: bob.id });

		// A REST send into an evicted room also reaches its hibernated sockets.
		await evictDurableObject(stubOf(r.id));
		const rest = await call("POST", `/room/${r.id}/message/send`, carol.auth, { text_message: "rest after eviction" });
		expect(rest.status).toBe(201);
		expect(rest.json.seq).toBe(4);
		expect(await a.next()).toEqual({ event: "new_message", data: rest.json });
		expect(await b.next()).toEqual({ event: "new_message", data: rest.json });

		// The socket that never joined still receives nothing; it can join now and catch up.
		expect(await lurker.quiet()).toEqual([]);
		const caught = await lurker.request(join(r.id, "late", 2));
		expect(caught.map((e: Event) => e.data.seq ?? e.data.last_seq)).toEqual([3, 4, 4]);
		for (const s of [a, b, lurker]) s.close();
	});

	it("the heartbeat is answered while the room is evicted", async () => {
		const t = await tenant(1);
		const r = await room(t, {});
		const s = await connect(r.id, viaProtocol(t.users[0]?.token as string));
		await s.request(join(r.id, 1));
		await evictDurableObject(stubOf(r.id));
		s.send('{"event":"ping"}');
		await s.until(() => s.frames.length === 2, "pong");
		expect(s.frames[1]).toBe('{"event":"pong"}');
		s.close();
	});

	it("seq keeps counting from storage after eviction", async () => {
		const t = await tenant(1);
		const r = await room(t, {});
		const s = await connect(r.id, viaProtocol(t.users[0]?.token as string));
		for (let i = 1; i <= 3; i++) await s.request(send(r.id, `m${i}`, i));
		await evictDurableObject(stubOf(r.id));
		expect((await s.request(send(r.id, "m4", 4))).at(-1).data.seq).toBe(4);
		expect(await s.request(join(r.id, "j"))).toEqual([
			{ event: "ack", id: "j", data: { room_id: r.id, last_seq: 4, online: [t.users[0]?.id] } },
		]);
		s.close();
	});
});

describe("attachments", () => {
	it("a socket whose attachment is not an identity is closed with 1011 when the room wakes; the others carry on", async () => {
		const t = await tenant(2);
		const r = await room(t, {});
		const [alice, bob] = t.users as [(typeof t.users)[0], (typeof t.users)[0]];
		const a = await connect(r.id, viaProtocol(alice.token));
		const b = await connect(r.id, viaProtocol(bob.token));
		await a.request(join(r.id, "j"));
		await b.request(join(r.id, "j"));
		expect(await a.next()).toEqual(presence(r.id, bob.id, true));
		// What an older deploy, or a bug, might have left behind.
		await runInDurableObject(stubOf(r.id), (_i, state) => state.getWebSockets(alice.id)[0]?.serializeAttachment({ user: alice.id }));
		await evictDurableObject(stubOf(r.id));
		const sent = await b.request(send(r.id, "after wake", 1));
		expect(sent.map((e: Event) => e.event)).toEqual(["new_message", "ack"]);
		expect(await a.closedWith()).toEqual({ code: 1011, reason: "connection state lost; reconnect" });
		expect(a.events).toEqual([]);
		b.close();
	});
});

describe("JWT expiry", () => {
	it("the alarm closes a socket whose JWT expired with 4001, keeps the others, and waits for the next expiry", async () => {
		const t = await tenant(2);
		const r = await room(t, {});
		const [alice, bob] = t.users as [(typeof t.users)[0], (typeof t.users)[0]];
		const short = await shortLived(alice.id, t.clientId);
		const long = await signUserToken({ current: JWT_SECRET }, { userId: bob.id, clientId: t.clientId }, 3600);
		const a = await connect(r.id, viaProtocol(short.token));
		const b = await connect(r.id, viaProtocol(long.token));
		const keyOnly = await connect(r.id, { headers: bob.asKey });
		await a.request(join(r.id, "j"));
		const stub = stubOf(r.id);
		expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).toBe(short.exp * 1000);
		// Keep the alarm from firing on its own, so this test shows the handler is what closes the socket.
		await runInDurableObject(stub, (_i, state) => state.storage.setAlarm(Date.now() + 3_600_000));

		await outlive(short.exp);
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect(await a.closedWith()).toEqual({ code: 4001, reason: "token expired" });
		// The next alarm is the long-lived token's expiry; the API-key socket never expires.
		expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).toBe(long.exp * 1000);
		expect(b.closed).toBeNull();
		expect(keyOnly.closed).toBeNull();
		expect((await b.request(join(r.id, "still"))).at(-1).event).toBe("ack");
		b.close();
		keyOnly.close();
	});

	it("a frame arriving after expiry (before the alarm) closes with 4001 and is not handled", async () => {
		const t = await tenant(2);
		const r = await room(t, {});
		const [alice, bob] = t.users as [(typeof t.users)[0], (typeof t.users)[0]];
		const short = await shortLived(alice.id, t.clientId);
		const a = await connect(r.id, viaProtocol(short.token));
		// No alarm: the frame itself must find the token expired.
		await runInDurableObject(stubOf(r.id), (_i, state) => state.storage.deleteAlarm());
		const watcher = await connect(r.id, viaProtocol(bob.token));
		await watcher.request(join(r.id, "w"));
		await outlive(short.exp);
		a.send(send(r.id, "too late", 1));
		expect(await a.closedWith()).toEqual({ code: 4001, reason: "token expired" });
		expect(a.events).toEqual([]);
		expect(await watcher.quiet()).toEqual([]);
		const history = await call("GET", `/room/${r.id}/messages`, bob.auth);
		expect(history.json).toEqual({ messages: [] });
		watcher.close();
	});
});

describe("removal from a private room", () => {
	it("closes the removed member's sockets with 4003; other members stay; reconnecting is refused", async () => {
		const t = await tenant(2);
		const [alice, bob] = t.users as [(typeof t.users)[0], (typeof t.users)[0]];
		const r = await room(t, { private: true, members: [alice.id, bob.id] });
		const a = await connect(r.id, viaProtocol(alice.token));
		const b1 = await connect(r.id, viaProtocol(bob.token));
		const b2 = await connect(r.id, { headers: bob.asKey });
		await a.request(join(r.id, "j"));
		await b1.request(join(r.id, "j"));
		// The room is asleep when the removal comes: its sockets are found by their user tag.
		await evictDurableObject(stubOf(r.id));
		const removed = await call("DELETE", `/room/${r.id}/members/${bob.id}`, t.backend);
		expect(removed.status).toBe(204);
		expect(await b1.closedWith()).toEqual({ code: 4003, reason: "removed from room" });
		expect(await b2.closedWith()).toEqual({ code: 4003, reason: "removed from room" });
		expect(a.closed).toBeNull();
		expect((await a.request(send(r.id, "still here", 1))).at(-1).data.seq).toBe(1);
		expect((await handshake(r.id, viaProtocol(bob.token))).status).toBe(403);
		a.close();
	});
});

describe("closing", () => {
	it("the server echoes the client's Close (code and reason), so the client does not hang in CLOSING", async () => {
		const t = await tenant(2);
		const r = await room(t, {});
		const a = await connect(r.id, viaProtocol(t.users[0]?.token as string));
		const b = await connect(r.id, viaProtocol(t.users[1]?.token as string));
		await a.request(join(r.id, 1));
		await b.request(join(r.id, 1));
		a.close(4000, "going");
		expect(await a.closedWith()).toEqual({ code: 4000, reason: "going" });
		b.close(1000, "");
		expect(await b.closedWith()).toEqual({ code: 1000, reason: "" });
		// 1001 is what browsers send when a page goes away.
		const leaving = await connect(r.id, viaProtocol(t.users[1]?.token as string));
		leaving.close(1001, "page unload");
		expect(await leaving.closedWith()).toEqual({ code: 1001, reason: "page unload" });
		// A Close without a code reaches the room as 1005, which may not be sent back: the echo is 1000.
		const silent = await connect(r.id, viaProtocol(t.users[1]?.token as string));
		silent.ws.close();
		expect(await silent.closedWith()).toEqual({ code: 1000, reason: "" });
		// The room forgot them: nothing is written to closed sockets and a new socket works.
		const c = await connect(r.id, viaProtocol(t.users[0]?.token as string));
		await c.request(join(r.id, "j"));
		expect((await c.request(send(r.id, "after closes", 2))).map((e: Event) => e.event)).toEqual(["new_message", "ack"]);
		const open = await runInDurableObject(stubOf(r.id), (_i, state) => state.getWebSockets().length);
		expect(open).toBe(1);
		c.close();
	});

	it("close and error handlers do not throw, whatever order they come in", async () => {
		const t = await tenant(1);
		const r = await room(t, {});
		const s = await connect(r.id, viaProtocol(t.users[0]?.token as string));
		await s.request(join(r.id, 1));
		const outcome = await runInDurableObject(stubOf(r.id), async (instance: RoomObject, state) => {
			const [ws] = state.getWebSockets();
			if (!ws) return "no socket";
			const results: string[] = [];
			const attempt = async (name: string, fn: () => unknown) => {
				try {
					await fn();
					results.push(`${name}: ok`);
				} catch (error) {
					results.push(`${name}: threw ${String(error)}`);
				}
			};
			await attempt("error", () => instance.webSocketError(ws));
			await attempt("close 1006", () => instance.webSocketClose(ws, 1006, ""));
			await attempt("close again", () => instance.webSocketClose(ws, 1000, ""));
			await attempt("message after close", () => instance.webSocketMessage(ws, '{"event":"join_room"}'));
			await attempt("alarm", () => instance.alarm());
			return results;
		});
		expect(outcome).toEqual(["error: ok", "close 1006: ok", "close again: ok", "message after close: ok", "alarm: ok"]);
		expect(await s.closedWith()).toEqual({ code: 1000, reason: "" });
	});

	it("a storage failure answers internal_error without details, and the socket and room carry on", async () => {
		const t = await tenant(1);
		const r = await room(t, {});
		const s = await connect(r.id, viaProtocol(t.users[0]?.token as string));
		await s.request(send(r.id, "first", 1));
		await runInDurableObject(stubOf(r.id), (_i, state) => {
			state.storage.sql.exec("ALTER TABLE messages RENAME TO messages_gone");
		});
		s.send(send(r.id, "doomed", 2));
		expect(await s.next()).toEqual({
			event: "error",
			id: 2,
			data: { code: "internal_error", message: "The server could not handle this frame" },
		});
		expect(s.closed).toBeNull();
		await runInDurableObject(stubOf(r.id), (_i, state) => {
			state.storage.sql.exec("ALTER TABLE messages_gone RENAME TO messages");
		});
		expect((await s.request(send(r.id, "second", 3))).at(-1).data.seq).toBe(2);
		s.close();
	});
});
