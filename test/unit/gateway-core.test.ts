// The user socket's logic without a runtime: real rooms and gateways on node:sqlite, a network
// that loses and reorders pushes, and a property test of unread counts against a recount.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WAKE_CONCURRENCY } from "../../src/gateway/gateway-core";
import { type Event, frame, makeWorld } from "./gateway-support";

const R1 = "0190a000-0000-7000-8000-000000000001";
const R2 = "0190a000-0000-7000-8000-000000000002";
const R3 = "0190a000-0000-7000-8000-000000000003";
const seqsOf = (events: Event[], roomId: string) =>
	events.filter((e) => e.event === "new_message" && e.data.room_id === roomId).map((e) => e.data.seq as number);
const send = (text: string, roomId: string, id?: number) => frame("send_message", { room_id: roomId, text_message: text }, id);

describe("user socket", () => {
	it("sends ready first, with the user's rooms, news first, and the total", async () => {
		const world = makeWorld();
		const a = world.room(R1, ["alice", "bob"]);
		world.room(R2, ["alice", "bob"]);
		a.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "hi");
		a.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "there");
		await world.settle();
		const { peer } = world.connect("alice");
		await world.settle();
		expect(peer.take()).toEqual([
			{
				event: "ready",
				data: {
					user_id: "alice",
					rooms: [
						{ room_id: R1, last_seq: 2, last_read_seq: 0, unread: 2, online: [] },
						{ room_id: R2, last_seq: 0, last_read_seq: 0, unread: 0, online: [] },
					],
					unread_total: 2,
				},
			},
		]);
	});

	it("joins three rooms on one socket and gets each room's messages in order; sends to two rooms on it", async () => {
		const world = makeWorld();
		for (const id of [R1, R2, R3]) world.room(id, ["alice", "bob"]);
		const alice = world.connect("alice");
		const bob = world.connect("bob");
		await world.settle();
		alice.peer.take();
		for (const [i, id] of [R1, R2, R3].entries()) await alice.core.handleFrame(alice.peer, frame("join_room", { room_id: id }, i));
		await world.settle();
		expect(alice.peer.take().filter((e) => e.event === "ack")).toEqual([
			{ event: "ack", id: 0, data: { room_id: R1, last_seq: 0, online: ["alice"] } },
			{ event: "ack", id: 1, data: { room_id: R2, last_seq: 0, online: ["alice"] } },
			{ event: "ack", id: 2, data: { room_id: R3, last_seq: 0, online: ["alice"] } },
		]);
		for (let n = 0; n < 5; n++) for (const id of [R1, R2, R3]) await bob.core.handleFrame(bob.peer, send(`${id}-${n}`, id));
		await world.settle();
		const got = alice.peer.take();
		for (const id of [R1, R2, R3]) expect(seqsOf(got, id)).toEqual([1, 2, 3, 4, 5]);
		const acks = bob.peer.take().filter((e) => e.event === "ack");
		expect(acks.map((e) => [e.data.room_id, e.data.seq])).toEqual([0, 1, 2, 3, 4].flatMap((n) => [R1, R2, R3].map((id) => [id, n + 1])));
	});

	it("stops pushing a member's room-list state while they have no socket, and wakes the rooms before their ready", async () => {
		const world = makeWorld();
		const r1 = world.room(R1, ["alice", "bob"]);
		const r2 = world.room(R2, ["alice", "bob"]);
		const bob = { clientId: "client-1", userId: "bob" };
		const first = world.connect("alice");
		const aliceGateway = first.name;
		await world.settle();
		world.disconnect(first);
		// The next push finds nobody there, and is the last until alice is back.
		r1.inbox.sendAs(bob, "one");
		r2.inbox.sendAs(bob, "two");
		await world.settle();
		const before = world.pushes.filter((p) => p.gateway === aliceGateway).length;
		for (let n = 0; n < 4; n++) {
			r1.inbox.sendAs(bob, `one ${n}`);
			r2.inbox.sendAs(bob, `two ${n}`);
			await world.settle();
		}
		expect(world.pushes.filter((p) => p.gateway === aliceGateway).length).toBe(before);
		const tab = world.connect("alice");
		// A frame sent before ready waits for it.
		const joined = tab.core.handleFrame(tab.peer, frame("join_room", { room_id: R1 }, 1));
		await world.settle();
		await joined;
		expect(world.wakes).toEqual([
			{ roomId: R1, userId: "alice" },
			{ roomId: R2, userId: "alice" },
		]);
		expect(tab.peer.take().slice(0, 2)).toEqual([
			{
				event: "ready",
				data: {
					user_id: "alice",
					rooms: [
						{ room_id: R1, last_seq: 5, last_read_seq: 0, unread: 5, online: [] },
						{ room_id: R2, last_seq: 5, last_read_seq: 0, unread: 5, online: [] },
					],
					unread_total: 10,
				},
			},
			{ event: "ack", id: 1, data: { room_id: R1, last_seq: 5, online: ["alice"] } },
		]);
		// Online again: the room list is pushed to as before.
		r2.inbox.sendAs(bob, "live");
		await world.settle();
		expect(tab.peer.take()).toEqual([
			{ event: "inbox_update", data: { room_id: R2, last_seq: 6, unread: 6, message: expect.objectContaining({ text_message: "live" }) } },
		]);
		expect(r1.feed.owed()).toEqual([]);
	});

	it("asks a room again, with backoff, when its wake is lost: the open socket's room list catches up", async () => {
		const world = makeWorld();
		const r1 = world.room(R1, ["alice", "bob"]);
		world.room(R2, ["alice", "bob"]);
		const bob = { clientId: "client-1", userId: "bob" };
		const first = world.connect("alice");
		await world.settle();
		world.disconnect(first);
		// Nobody there: R1 stops sending alice's state until she is back.
		r1.inbox.sendAs(bob, "one");
		await world.settle();
		world.wakeFault.fail = 1;
		const tab = world.connect("alice");
		await world.settle();
		expect(world.wakes).toEqual([{ roomId: R1, userId: "alice" }]);
		// The wake was lost: ready has what the gateway last knew of R1.
		expect(tab.peer.take()).toEqual([
			{
				event: "ready",
				data: {
					user_id: "alice",
					rooms: [
						{ room_id: R1, last_seq: 0, last_read_seq: 0, unread: 0, online: [] },
						{ room_id: R2, last_seq: 0, last_read_seq: 0, unread: 0, online: [] },
					],
					unread_total: 0,
				},
			},
		]);
		// Asked again within the first backoff (at most 0.6 s).
		await world.advance(600);
		expect(world.wakes).toHaveLength(2);
		expect(tab.peer.take()).toEqual([
			{
				event: "inbox_update",
				data: { room_id: R1, last_seq: 1, unread: 1, message: expect.objectContaining({ seq: 1, text_message: "one" }) },
			},
		]);
		// And R1 sends her state again as it changes.
		r1.inbox.sendAs(bob, "two");
		await world.settle();
		expect(tab.peer.take()).toEqual([
			{
				event: "inbox_update",
				data: { room_id: R1, last_seq: 2, unread: 2, message: expect.objectContaining({ seq: 2, text_message: "two" }) },
			},
		]);
		expect(r1.feed.owed()).toEqual([]);

		// Retries last as long as the user has a socket here.
		world.disconnect(tab);
		r1.inbox.sendAs(bob, "three");
		await world.settle();
		world.wakeFault.fail = 1_000;
		const again = world.connect("alice");
		await world.settle();
		await world.advance(600);
		expect(world.wakes).toHaveLength(4);
		world.disconnect(again);
		await world.advance(120_000);
		expect(world.wakes).toHaveLength(4);
	});

	it(`wakes at most ${WAKE_CONCURRENCY} rooms at once for a connection, and ready still has every room`, async () => {
		const world = makeWorld();
		const count = WAKE_CONCURRENCY + 24;
		const ids = Array.from({ length: count }, (_, i) => `0190a000-0000-7000-8000-${String(100 + i).padStart(12, "0")}`);
		const rooms = ids.map((id) => world.room(id, ["alice", "bob"]));
		const first = world.connect("alice");
		await world.settle();
		world.disconnect(first);
		for (const r of rooms) r.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "hi");
		await world.settle();
		const tab = world.connect("alice");
		await world.settle();
		expect(world.wakes).toHaveLength(count);
		expect(world.wakeFault.most).toBe(WAKE_CONCURRENCY);
		const ready = tab.peer.take();
		expect(ready.map((e) => e.event)).toEqual(["ready"]);
		expect(ready[0]?.data.unread_total).toBe(count);
		expect(
			ready[0]?.data.rooms.map((x: { room_id: string; last_seq: number; unread: number }) => [x.room_id, x.last_seq, x.unread]).sort(),
		).toEqual(ids.map((id) => [id, 1, 1]));
	});

	it("sends frames to one room that arrive in one turn together, in order, in one sendMany; a later turn makes its own call", async () => {
		const world = makeWorld();
		world.room(R1, ["alice", "bob"]);
		const bob = world.connect("bob");
		await world.settle();
		bob.peer.take();
		const handled = [1, 2, 3, 4, 5].map((n) => bob.core.handleFrame(bob.peer, send(`m${n}`, R1, n)));
		await world.settle();
		await Promise.all(handled);
		expect(world.sendManyCalls).toEqual([5]);
		// The five waited for one turn of the gateway's scheduler.
		expect(world.turns.count).toBe(1);
		// Two more in two later turns: one call each.
		await bob.core.handleFrame(bob.peer, send("m6", R1, 6));
		await bob.core.handleFrame(bob.peer, send("m7", R1, 7));
		await world.settle();
		const acks = bob.peer.take().filter((e) => e.event === "ack");
		expect(acks.map((e) => [e.id, e.data.seq, e.data.text_message])).toEqual([
			[1, 1, "m1"],
			[2, 2, "m2"],
			[3, 3, "m3"],
			[4, 4, "m4"],
			[5, 5, "m5"],
			[6, 6, "m6"],
			[7, 7, "m7"],
		]);
		expect(world.sendManyCalls).toEqual([5, 1, 1]);
		expect(world.turns.count).toBe(3);
	});

	it("answers internal_error to the sends of a call that throws at once, and the room's next sends still go", async () => {
		const world = makeWorld();
		world.room(R1, ["alice", "bob"]);
		const bob = world.connect("bob");
		await world.settle();
		bob.peer.take();
		world.sendFault.throwNow = true;
		await bob.core.handleFrame(bob.peer, send("lost", R1, 1));
		await bob.core.handleFrame(bob.peer, send("kept", R1, 2));
		await world.settle();
		const answers = bob.peer.take().filter((e) => e.event === "ack" || e.event === "error");
		expect(answers.map((e) => [e.event, e.id, e.event === "ack" ? e.data.seq : e.data.code])).toEqual([
			["error", 1, "internal_error"],
			["ack", 2, 1],
		]);
	});

	it("fills a gap left by a lost push from the room before delivering more", async () => {
		// A push holds one event: the retry carries message 2 only, so message 1 can only come from the room.
		const world = makeWorld({ maxMessages: 1 });
		const r = world.room(R1, ["alice", "bob"]);
		// Both members online: both gateways are pushed to (a gateway with nobody there is not).
		world.connect("bob");
		const alice = world.connect("alice");
		await alice.core.handleFrame(alice.peer, frame("join_room", { room_id: R1 }, 1));
		await world.settle();
		alice.peer.take();
		// The push for message 1 to every gateway is lost; the room keeps it owed.
		world.faults.push("drop", "drop");
		r.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "one");
		await world.settle();
		expect(alice.peer.take()).toEqual([]);
		expect(r.feed.pendingRows().map((p) => p.from_seq)).toContain(1);
		const before = world.pushes.length;
		r.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "two");
		await world.retryAll();
		const toAlice = world.pushes.slice(before).filter((p) => p.gateway === alice.name);
		expect(toAlice.map((p) => p.push.events.map((e) => e.seq))).toEqual([[2]]);
		expect(seqsOf(alice.peer.take(), R1)).toEqual([1, 2]);
		expect(r.feed.owed()).toEqual([]);
	});

	it("sends each event once to a socket that outlived its gateway object before the cursor writes (hibernation keeps sockets)", async () => {
		const world = makeWorld({ maxMessages: 1 });
		const r = world.room(R1, ["alice", "bob"]);
		const bob = { clientId: "client-1", userId: "bob" };
		const alice = world.connect("alice");
		await alice.core.handleFrame(alice.peer, frame("join_room", { room_id: R1 }, "j"));
		await world.settle();
		alice.peer.take();
		// From here no cursor reaches storage (the lazy timer never fires before a restart): the stored one stays 0.
		world.lazy.hold = true;
		const received: number[] = [];
		const collect = () => received.push(...seqsOf(alice.peer.take(), R1));
		for (let n = 1; n <= 3; n++) {
			r.inbox.sendAs(bob, `m${n}`);
			await world.settle();
		}
		collect();
		world.restartGateway(alice.name, { keepSockets: true });
		r.inbox.sendAs(bob, "m4");
		await world.settle();
		collect();
		expect(received).toEqual([1, 2, 3, 4]);
		// A lost push after the restart: its retry carries message 6 only, so 5 is a real gap, read from the room.
		world.faults.push("drop");
		r.inbox.sendAs(bob, "m5");
		await world.settle();
		r.inbox.sendAs(bob, "m6");
		await world.retryAll();
		collect();
		expect(world.pushes.at(-1)?.push.events.map((e) => e.seq)).toEqual([6]);
		// Restarted again, the stored cursor still 0.
		world.restartGateway(alice.name, { keepSockets: true });
		r.inbox.sendAs(bob, "m7");
		await world.settle();
		collect();
		expect(received).toEqual([1, 2, 3, 4, 5, 6, 7]);
		expect(r.feed.owed()).toEqual([]);
	});

	it("answers a push only once its frames are written: a gateway reset meanwhile leaves no gap behind settled_through", async () => {
		// Room-list rows debounced: a push then carries events only, and the gateway has nothing to store for it.
		const world = makeWorld({ inboxDebounceMs: 60_000 });
		const r = world.room(R1, ["alice", "bob"]);
		const bob = { clientId: "client-1", userId: "bob" };
		const alice = world.connect("alice");
		await alice.core.handleFrame(alice.peer, frame("join_room", { room_id: R1 }, "j"));
		r.inbox.sendAs(bob, "m1");
		await world.settle();
		const received = seqsOf(alice.peer.take(), R1);
		expect(received).toEqual([1]);
		world.lazy.hold = true;
		// One round: the room's flush pushes message 2 and the gateway handles it; its frame waits for the
		// outbox's next flush, and so does the push's answer.
		r.inbox.sendAs(bob, "m2");
		await world.step();
		expect(world.pushes.at(-1)?.push.events.map((e) => e.seq)).toEqual([2]);
		received.push(...seqsOf(alice.peer.take(), R1));
		// Reset now (the socket kept, as hibernation keeps it; its stored cursor is still 1): message 3's
		// push names 2 as settled, so a frame of 2 still queued at the answer would never come.
		world.restartGateway(alice.name, { keepSockets: true });
		r.inbox.sendAs(bob, "m3");
		// Past the room-list debounce, then past the retry of any failed push.
		await world.advance(61_000);
		await world.retryAll();
		received.push(...seqsOf(alice.peer.take(), R1));
		expect(received).toEqual([1, 2, 3]);
		expect(r.feed.owed()).toEqual([]);
	});

	it("reads from the room what a push no longer carries (more was owed than one push holds)", async () => {
		const world = makeWorld({ maxMessages: 2 });
		const r = world.room(R1, ["alice", "bob"]);
		// Both members online: both gateways are pushed to (a gateway with nobody there is not).
		world.connect("bob");
		const alice = world.connect("alice");
		await alice.core.handleFrame(alice.peer, frame("join_room", { room_id: R1 }, 1));
		await world.settle();
		alice.peer.take();
		world.faults.push("drop", "drop");
		for (let n = 0; n < 5; n++) r.inbox.sendAs({ clientId: "client-1", userId: "bob" }, `m${n}`);
		await world.settle();
		expect(r.feed.build(world.connect("alice").name, 1).events.map((e) => e.seq)).toEqual([4, 5]);
		await world.retryAll();
		expect(seqsOf(alice.peer.take(), R1)).toEqual([1, 2, 3, 4, 5]);
	});

	it("queues live pushes behind a join's catch-up: messages stored while it reads arrive once, in order", async () => {
		const world = makeWorld();
		const r = world.room(R1, ["alice", "bob"]);
		for (let n = 1; n <= 3; n++) r.inbox.sendAs({ clientId: "client-1", userId: "bob" }, `m${n}`);
		await world.settle();
		const alice = world.connect("alice");
		await world.settle();
		alice.peer.take();
		let release = () => {};
		world.hold.range = new Promise<void>((resolve) => {
			release = resolve;
		});
		const joined = alice.core.handleFrame(alice.peer, frame("join_room", { room_id: R1, last_seq: 0 }, "j"));
		await world.settle();
		// The join subscribed and is reading the backlog; two messages are stored and pushed meanwhile.
		r.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "m4");
		r.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "m5");
		await world.settle();
		release();
		world.hold.range = undefined;
		await joined;
		await world.settle();
		expect(seqsOf(alice.peer.take(), R1)).toEqual([1, 2, 3, 4, 5]);
	});

	it("a member removed from a public room loses it from the room list only; one added back keeps it", async () => {
		const world = makeWorld();
		const r = world.room(R1, ["alice", "bob"]);
		const alice = world.connect("alice");
		await alice.core.handleFrame(alice.peer, frame("join_room", { room_id: R1 }, "j"));
		await world.settle();
		alice.peer.take();
		r.inbox.memberRemoved("alice");
		await world.settle();
		r.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "still here");
		await world.settle();
		// Still joined (a public room is open to the client's users), but gone from the list.
		expect(alice.peer.take().map((e) => e.event)).toEqual(["new_message"]);
		const fresh = world.connect("alice");
		await world.settle();
		expect(fresh.peer.take()[0]?.data.rooms).toEqual([]);
		// Private: a removal whose push is lost, then an add, leaves the member in place.
		const p = world.room(R2, ["alice", "bob"], true);
		await alice.core.handleFrame(alice.peer, frame("join_room", { room_id: R2 }, "j2"));
		await world.settle();
		alice.peer.take();
		world.faults.push("drop");
		p.inbox.memberRemoved("alice");
		await world.settle();
		p.inbox.memberAdded("alice");
		await world.retryAll();
		p.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "welcome back");
		await world.settle();
		const events = alice.peer.take();
		expect(events.filter((e) => e.event === "room_removed")).toEqual([]);
		expect(seqsOf(events, R2)).toEqual([1]);
	});

	it("ignores a push that arrives after newer ones (its reply was lost and it was sent again)", async () => {
		const world = makeWorld();
		const r = world.room(R1, ["alice", "bob"]);
		// Both members online: both gateways are pushed to (a gateway with nobody there is not).
		world.connect("bob");
		const alice = world.connect("alice");
		await alice.core.handleFrame(alice.peer, frame("join_room", { room_id: R1 }, 1));
		await world.settle();
		alice.peer.take();
		world.faults.push("late", "late");
		r.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "one");
		await world.settle();
		r.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "two");
		await world.retryAll();
		await world.deliverLate();
		expect(seqsOf(alice.peer.take(), R1)).toEqual([1, 2]);
	});

	it("sends inbox_update to a member's socket that did not join, and read to the user's other socket after mark_read", async () => {
		const world = makeWorld();
		world.room(R1, ["alice", "bob"]);
		const tab1 = world.connect("alice");
		const tab2 = world.connect("alice");
		const bob = world.connect("bob");
		await world.settle();
		tab1.peer.take();
		tab2.peer.take();
		await bob.core.handleFrame(bob.peer, send("hello", R1, 1));
		await world.settle();
		const update = tab1.peer.take();
		expect(update).toEqual([
			{
				event: "inbox_update",
				data: {
					room_id: R1,
					last_seq: 1,
					unread: 1,
					message: expect.objectContaining({ seq: 1, room_id: R1, user_id: "bob", text_message: "hello" }),
				},
			},
		]);
		expect(tab2.peer.take()).toEqual(update);
		await tab1.core.handleFrame(tab1.peer, frame("mark_read", { room_id: R1, seq: 99 }, "r"));
		await world.settle();
		expect(tab1.peer.take()).toEqual([{ event: "ack", id: "r", data: { room_id: R1, last_read_seq: 1, unread: 0 } }]);
		expect(tab2.peer.take()).toEqual([{ event: "read", data: { room_id: R1, last_read_seq: 1, unread: 0 } }]);
		// A lower seq is a no-op answered with the current position.
		await tab2.core.handleFrame(tab2.peer, frame("mark_read", { room_id: R1, seq: 0 }, "low"));
		await world.settle();
		expect(tab2.peer.take()).toEqual([{ event: "ack", id: "low", data: { room_id: R1, last_read_seq: 1, unread: 0 } }]);
		expect(tab1.peer.take()).toEqual([]);
	});

	it("refuses a non-member's join of a private room per frame, and a member removed gets room_removed and nothing more", async () => {
		const world = makeWorld();
		const r = world.room(R1, ["alice", "bob"], true);
		const carol = world.connect("carol");
		await carol.core.handleFrame(carol.peer, frame("join_room", { room_id: R1 }, 7));
		await carol.core.handleFrame(carol.peer, frame("join_room", { room_id: "0190a000-0000-7000-8000-00000000ffff" }, 8));
		await world.settle();
		expect(carol.peer.take().slice(1)).toEqual([
			{ event: "error", id: 7, data: { code: "forbidden", message: "This room is private and you are not a member" } },
			{ event: "error", id: 8, data: { code: "not_found", message: "No such room" } },
		]);
		const alice = world.connect("alice");
		await alice.core.handleFrame(alice.peer, frame("join_room", { room_id: R1 }, 1));
		await world.settle();
		alice.peer.take();
		r.inbox.memberRemoved("alice");
		await world.settle();
		expect(alice.peer.take()).toEqual([{ event: "room_removed", data: { room_id: R1 } }]);
		r.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "after");
		await world.settle();
		expect(alice.peer.take()).toEqual([]);
		await alice.core.handleFrame(alice.peer, frame("join_room", { room_id: R1 }, 2));
		await world.settle();
		expect(alice.peer.take()).toEqual([
			{ event: "error", id: 2, data: { code: "forbidden", message: "This room is private and you are not a member" } },
		]);
	});

	it("catches up per room after a reconnect with last_seq, exactly once and in order", async () => {
		const world = makeWorld();
		world.room(R1, ["alice", "bob"]);
		world.room(R2, ["alice", "bob"]);
		const bob = world.connect("bob");
		const seen = { [R1]: [] as number[], [R2]: [] as number[] };
		let n = 0;
		for (let cycle = 0; cycle < 20; cycle++) {
			const alice = world.connect("alice");
			for (const id of [R1, R2]) {
				const last = seen[id].at(-1);
				await alice.core.handleFrame(
					alice.peer,
					frame("join_room", last === undefined ? { room_id: id } : { room_id: id, last_seq: last }),
				);
			}
			for (const id of [R1, R2]) await bob.core.handleFrame(bob.peer, send(`m${++n}`, id));
			await world.settle();
			const got = alice.peer.take();
			for (const id of [R1, R2]) seen[id].push(...seqsOf(got, id));
			alice.core.detach(alice.peer);
			// Traffic while alice is away.
			for (const id of [R1, R2]) await bob.core.handleFrame(bob.peer, send(`m${++n}`, id));
			await world.settle();
		}
		const expected = Array.from({ length: 39 }, (_, i) => i + 1);
		expect(seen[R1]).toEqual(expected);
		expect(seen[R2]).toEqual(expected);
	});

	it("keeps subscriptions and inbox rows across a gateway restart", async () => {
		const world = makeWorld();
		const r = world.room(R1, ["alice", "bob"]);
		r.inbox.sendAs({ clientId: "client-1", userId: "bob" }, "one");
		await world.settle();
		const name = world.connect("alice").name;
		world.restartGateway(name);
		const again = world.connect("alice");
		await world.settle();
		expect(again.peer.take()).toEqual([
			{
				event: "ready",
				data: { user_id: "alice", rooms: [{ room_id: R1, last_seq: 1, last_read_seq: 0, unread: 1, online: [] }], unread_total: 1 },
			},
		]);
	});
});

describe("unread cannot drift", () => {
	const users = ["alice", "bob", "carol"];
	const op = fc.oneof(
		fc.record({ kind: fc.constant("send" as const), user: fc.constantFrom(...users), room: fc.constantFrom(R1, R2) }),
		fc.record({
			kind: fc.constant("read" as const),
			user: fc.constantFrom(...users),
			room: fc.constantFrom(R1, R2),
			seq: fc.nat({ max: 30 }),
			viaSocket: fc.boolean(),
		}),
		fc.record({ kind: fc.constant("fault" as const), fault: fc.constantFrom("drop" as const, "late" as const) }),
		fc.record({ kind: fc.constant("restart" as const), user: fc.constantFrom(...users) }),
		fc.record({ kind: fc.constant("retry" as const) }),
		// The user's socket closes, or (away) a new one opens: its rooms stop sending their state, then are woken.
		fc.record({ kind: fc.constant("away" as const), user: fc.constantFrom(...users) }),
		fc.record({ kind: fc.constant("wakeFault" as const) }),
	);
	/** What a socket shows per room, from the frames it got: ready, then each inbox_update, read and mark_read ack. */
	const badges = (events: Event[]) => {
		const shown = new Map<string, number>();
		for (const e of events) {
			if (e.event === "ready") for (const r of e.data.rooms) shown.set(r.room_id, r.unread);
			else if (e.event === "inbox_update" || e.event === "read" || (e.event === "ack" && "last_read_seq" in e.data))
				shown.set(e.data.room_id, e.data.unread);
		}
		return shown;
	};

	it("equals a recount from the log after any mix of sends, reads, lost and late pushes and wakes, and restarts", async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
				// Small pushes, so gaps are read from the rooms too.
				const world = makeWorld({ maxMessages: 3 });
				const rooms = [world.room(R1, users), world.room(R2, users)];
				const sockets = new Map(users.map((u) => [u, world.connect(u)]));
				for (const step of ops) {
					if (step.kind === "send") {
						const s = sockets.get(step.user);
						if (s) await s.core.handleFrame(s.peer, send("x", step.room));
						else world.rooms.get(step.room)?.inbox.sendAs({ clientId: "client-1", userId: step.user }, "x");
					} else if (step.kind === "away") {
						const s = sockets.get(step.user);
						if (s) {
							world.disconnect(s);
							sockets.delete(step.user);
						} else sockets.set(step.user, world.connect(step.user));
					} else if (step.kind === "wakeFault") world.wakeFault.fail++;
					else if (step.kind === "read") {
						const r = world.rooms.get(step.room);
						const s = sockets.get(step.user);
						if (step.viaSocket && s) await s.core.handleFrame(s.peer, frame("mark_read", { room_id: step.room, seq: step.seq }));
						else r?.inbox.markRead({ clientId: "client-1", userId: step.user }, step.seq);
					} else if (step.kind === "fault") world.faults.push(step.fault);
					else if (step.kind === "restart") {
						const s = sockets.get(step.user);
						if (s) world.restartGateway(s.name);
						sockets.set(step.user, world.connect(step.user));
					} else await world.retryAll();
					await world.settle();
				}
				world.faults.length = 0;
				world.wakeFault.fail = 0;
				await world.retryAll();
				await world.deliverLate();
				// The sockets still open show the recount too: a lost wake was asked again while they were.
				for (const [user, s] of sockets) {
					const shown = badges(s.peer.take());
					for (const r of rooms)
						expect({ room: r.id, user, unread: shown.get(r.id) }).toEqual({ room: r.id, user, unread: world.recount(r, user) });
				}
				for (const user of users) {
					const fresh = world.connect(user);
					await world.settle();
					const ready = fresh.peer.take()[0];
					for (const r of rooms) {
						const expected = world.recount(r, user);
						expect(r.inbox.summary(user).unread).toBe(expected);
						const listed = ready?.data.rooms.find((x: { room_id: string }) => x.room_id === r.id);
						expect({ room: r.id, user, unread: listed?.unread, last_seq: listed?.last_seq }).toEqual({
							room: r.id,
							user,
							unread: expected,
							last_seq: r.log.lastSeq(),
						});
					}
				}
			}),
			{ numRuns: 150 },
		);
	});
});

describe("the room's event log on the user socket", () => {
	/** A client's view of a room, built only from the events it received. */
	const viewOf = (events: Event[], roomId: string) => {
		const messages = new Map<string, Record<string, unknown>>();
		let last = 0;
		for (const e of events) {
			const data = e.data;
			if (!data || (data.room_id ?? data.message?.room_id) !== roomId) continue;
			const seq = e.event === "new_message" ? data.seq : data.seq;
			if (typeof seq === "number") {
				expect(seq).toBe(last + 1);
				last = seq;
			}
			if (e.event === "new_message") messages.set(data.id, data);
			else if (e.event === "message_updated") messages.set(data.message.id, data.message);
			else if (e.event === "message_deleted") {
				const m = messages.get(data.message_id);
				// A tombstone keeps no text, metadata or reactions.
				if (m) {
					const { metadata: _m, reactions: _r, ...rest } = m;
					messages.set(data.message_id, { ...rest, text_message: "", deleted_at: "x" });
				}
			} else if (e.event === "reaction_added" || e.event === "reaction_removed") {
				const m = messages.get(data.message_id);
				if (m) {
					const { reactions: _, ...rest } = m;
					messages.set(data.message_id, Object.keys(data.reactions).length ? { ...rest, reactions: data.reactions } : rest);
				}
			}
		}
		return { last, messages };
	};
	/** What REST shows: the fields a live view can know (deletion time aside). */
	const shape = (m: Record<string, unknown>) => ({
		id: m.id,
		seq: m.seq,
		text_message: m.text_message,
		version: m.version,
		deleted: m.deleted_at !== undefined,
		reactions: m.reactions,
		reply_to: m.reply_to,
		metadata: m.metadata,
	});

	it("edits, deletes and reactions arrive live and on catch-up as numbered events; only the author edits", async () => {
		const world = makeWorld();
		world.room(R1, ["alice", "bob"]);
		const alice = world.connect("alice");
		const bob = world.connect("bob");
		await alice.core.handleFrame(alice.peer, frame("join_room", { room_id: R1 }, "j"));
		await world.settle();
		alice.peer.take();
		await bob.core.handleFrame(bob.peer, frame("send_message", { room_id: R1, text_message: "helo", metadata: { lang: "en" } }, 1));
		await world.settle();
		const sent = bob.peer.take().find((e) => e.event === "ack")?.data;
		await bob.core.handleFrame(bob.peer, frame("edit_message", { room_id: R1, message_id: sent.id, text_message: "hello" }, 2));
		await alice.core.handleFrame(alice.peer, frame("edit_message", { room_id: R1, message_id: sent.id, text_message: "mine now" }, "e"));
		await alice.core.handleFrame(alice.peer, frame("add_reaction", { room_id: R1, message_id: sent.id, type: "👍" }, "r1"));
		await alice.core.handleFrame(alice.peer, frame("add_reaction", { room_id: R1, message_id: sent.id, type: "👍" }, "r2"));
		await bob.core.handleFrame(bob.peer, frame("send_message", { room_id: R1, text_message: "a reply", reply_to: sent.id }, 3));
		await bob.core.handleFrame(bob.peer, frame("delete_message", { room_id: R1, message_id: sent.id }, 4));
		await bob.core.handleFrame(bob.peer, frame("delete_message", { room_id: R1, message_id: sent.id }, 5));
		await world.settle();
		const live = alice.peer.take();
		expect(live.filter((e) => e.event === "ack" || e.event === "error")).toEqual([
			{ event: "error", id: "e", data: { code: "forbidden", message: "Only the author may change this message" } },
			{
				event: "ack",
				id: "r1",
				data: { room_id: R1, message_id: sent.id, user_id: "alice", type: "👍", reactions: { "👍": 1 }, seq: 3 },
			},
			{ event: "ack", id: "r2", data: { room_id: R1, message_id: sent.id, user_id: "alice", type: "👍", reactions: { "👍": 1 } } },
		]);
		expect(live.filter((e) => e.event !== "ack" && e.event !== "error").map((e) => [e.event, e.data.seq])).toEqual([
			["new_message", 1],
			["message_updated", 2],
			["reaction_added", 3],
			["new_message", 4],
			["message_deleted", 5],
		]);
		expect(bob.peer.take().filter((e) => e.id === 4 || e.id === 5)).toEqual([
			{ event: "ack", id: 4, data: { room_id: R1, message_id: sent.id, seq: 5 } },
			{ event: "ack", id: 5, data: { room_id: R1, message_id: sent.id, seq: 5 } },
		]);
		// A reconnect from 0 replays the same five events, the deleted message as a tombstone.
		const again = world.connect("alice");
		await again.core.handleFrame(again.peer, frame("join_room", { room_id: R1, last_seq: 0 }, "j2"));
		await world.settle();
		const replay = again.peer.take().filter((e) => e.event !== "ready" && e.event !== "ack");
		expect(replay.map((e) => [e.event, e.data.seq])).toEqual(
			live.filter((e) => e.event !== "ack" && e.event !== "error").map((e) => [e.event, e.data.seq]),
		);
		expect(replay[0]?.data).toMatchObject({ id: sent.id, text_message: "", deleted_at: expect.any(String), reply_count: 1 });
		expect(replay[0]?.data.metadata).toBeUndefined();
		const r = world.rooms.get(R1);
		expect(r?.log.versions(sent.id)).toEqual([{ version: 2, text_message: "", at: expect.any(String) }]);
		// Deleted messages are not unread.
		expect(r?.inbox.summary("alice").unread).toBe(1);
	});

	const step = fc.oneof(
		fc.record({ kind: fc.constant("send" as const), user: fc.constantFrom("alice", "bob", "carol"), replyTo: fc.nat(20) }),
		fc.record({ kind: fc.constant("edit" as const), user: fc.constantFrom("alice", "bob", "carol"), target: fc.nat(20) }),
		fc.record({ kind: fc.constant("delete" as const), user: fc.constantFrom("alice", "bob", "carol"), target: fc.nat(20) }),
		fc.record({
			kind: fc.constant("react" as const),
			user: fc.constantFrom("alice", "bob", "carol"),
			target: fc.nat(20),
			type: fc.constantFrom("👍", "🎉"),
			add: fc.boolean(),
		}),
		fc.record({ kind: fc.constant("reconnect" as const), user: fc.constantFrom("alice", "bob", "carol") }),
		fc.record({ kind: fc.constant("fault" as const), fault: fc.constantFrom("drop" as const, "late" as const) }),
		// The user's gateway object restarts and their socket stays open (hibernation).
		fc.record({ kind: fc.constant("evict" as const), user: fc.constantFrom("alice", "bob", "carol") }),
	);

	it("every socket's view, live plus catch-up, equals the history after random sends, edits, deletes, reactions and restarts", async () => {
		await fc.assert(
			// `held`: no cursor write ever reaches storage, so every restart finds stale cursors.
			fc.asyncProperty(fc.array(step, { maxLength: 40 }), fc.boolean(), async (steps, held) => {
				const users = ["alice", "bob", "carol"];
				const world = makeWorld({ maxMessages: 3 });
				world.lazy.hold = held;
				const r = world.room(R1, users);
				const sockets = new Map<string, ReturnType<typeof world.connect>>();
				const received = new Map<string, Event[]>(users.map((u) => [u, []]));
				const lastSeen = (u: string) => {
					let last = 0;
					for (const e of received.get(u) ?? [])
						if (typeof e.data?.seq === "number" && e.event !== "ack") last = Math.max(last, e.data.seq);
					return last;
				};
				const open = async (u: string) => {
					const s = world.connect(u);
					sockets.set(u, s);
					await s.core.handleFrame(s.peer, frame("join_room", { room_id: R1, last_seq: lastSeen(u) }));
				};
				const collect = () => {
					for (const [u, s] of sockets)
						received
							.get(u)
							?.push(
								...s.peer
									.take()
									.filter(
										(e) =>
											e.event !== "ack" && e.event !== "error" && e.event !== "ready" && e.event !== "inbox_update" && e.event !== "read",
									),
							);
				};
				for (const u of users) await open(u);
				const ids = () => r.log.range({ limit: 200 }).map((m) => m.id);
				for (const s of steps) {
					if (s.kind === "fault") world.faults.push(s.fault);
					else if (s.kind === "evict") {
						// Between turns, as an object is evicted (its grouped writes done; lazy ones maybe not).
						await world.settle();
						const socket = sockets.get(s.user);
						if (socket) world.restartGateway(socket.name, { keepSockets: true });
					} else if (s.kind === "reconnect") {
						await world.settle();
						collect();
						const old = sockets.get(s.user);
						if (old) world.disconnect(old);
						await open(s.user);
					} else {
						const socket = sockets.get(s.user);
						if (!socket) continue;
						const all = ids();
						const target = all[("target" in s ? s.target : s.replyTo) % Math.max(1, all.length)];
						const payload =
							s.kind === "send"
								? frame("send_message", { room_id: R1, text_message: "x", ...(target && s.replyTo % 3 === 0 ? { reply_to: target } : {}) })
								: !target
									? null
									: s.kind === "edit"
										? frame("edit_message", { room_id: R1, message_id: target, text_message: "edited" })
										: s.kind === "delete"
											? frame("delete_message", { room_id: R1, message_id: target })
											: frame(s.add ? "add_reaction" : "remove_reaction", { room_id: R1, message_id: target, type: s.type });
						if (payload) await world.gatewayOf(socket.name).core.handleFrame(socket.peer, payload);
					}
					await world.settle();
				}
				world.faults.length = 0;
				await world.retryAll();
				await world.deliverLate();
				collect();
				const history = r.log.range({ limit: 200 }).map(shape);
				for (const u of users) {
					const view = viewOf(received.get(u) ?? [], R1);
					expect(view.last).toBe(r.log.lastSeq());
					expect([...view.messages.values()].sort((a, b) => Number(a.seq) - Number(b.seq)).map(shape)).toEqual(history);
				}
			}),
			{ numRuns: 100 },
		);
	});
});
