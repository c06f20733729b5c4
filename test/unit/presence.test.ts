// Presence without a runtime, on a hand-moved clock: who is online in a room (a socket of either
// kind joined), the grace before offline, the cap, and a rebuild after the object restarted.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { frame, makeWorld } from "./gateway-support";
import { makeRoom, ROOM, T0 } from "./room-support";

const GRACE = 5_000;
const join = (id: string) => ({ event: "join_room", data: { room_id: ROOM }, id });
const leave = (id: string) => ({ event: "leave_room", data: { room_id: ROOM }, id });
const at = (ms: number) => new Date(ms).toISOString();
const presence = (userId: string, online: boolean, when: number) => ({
	event: "presence",
	data: { room_id: ROOM, user_id: userId, online, last_active_at: at(when) },
});

describe("presence on room sockets", () => {
	it("a user's first join tells the others at once; the ack lists everyone online, the joiner too", () => {
		const room = makeRoom();
		const alice = room.peer("alice");
		room.feed(alice, join("a"));
		expect(alice.take()).toEqual([{ event: "ack", id: "a", data: { room_id: ROOM, last_seq: 0, online: ["alice"] } }]);
		room.clock.now = T0 + 10;
		const bob = room.peer("bob");
		room.feed(bob, join("b"));
		expect(bob.take()).toEqual([{ event: "ack", id: "b", data: { room_id: ROOM, last_seq: 0, online: ["alice", "bob"] } }]);
		expect(alice.take()).toEqual([presence("bob", true, T0 + 10)]);
		// A second socket of bob's changes nothing; a socket that never joined is nobody.
		room.feed(room.peer("bob"), join("b2"));
		room.peer("carol");
		room.flush();
		expect(alice.take()).toEqual([]);
		expect(room.core.presence.current()).toEqual(["alice", "bob"]);
	});

	it("offline comes one grace period after the last socket left, with when it left; a rejoin within it says nothing", () => {
		const room = makeRoom({ limits: { presenceGraceMs: GRACE } });
		const alice = room.peer("alice");
		const bob = room.peer("bob");
		room.feed(alice, join("a"));
		room.feed(bob, join("b"));
		alice.take();
		bob.take();
		// A reload: the socket closes, a new one joins within the grace.
		room.clock.now = T0 + 1_000;
		room.core.detach(bob);
		room.clock.now = T0 + 1_000 + GRACE - 1;
		const reloaded = room.peer("bob");
		room.feed(reloaded, join("again"));
		expect(reloaded.take()).toEqual([{ event: "ack", id: "again", data: { room_id: ROOM, last_seq: 0, online: ["alice", "bob"] } }]);
		room.clock.now = T0 + 60_000;
		room.core.presence.expire();
		room.flush();
		expect(alice.take()).toEqual([]);
		// Leaving for good: still online during the grace, offline after it.
		room.clock.now = T0 + 70_000;
		room.feed(reloaded, leave("l"));
		room.clock.now = T0 + 70_000 + GRACE - 1;
		room.core.presence.expire();
		room.flush();
		expect(alice.take()).toEqual([]);
		expect(room.core.presence.current()).toEqual(["alice", "bob"]);
		room.clock.now = T0 + 70_000 + GRACE;
		room.core.presence.expire();
		room.flush();
		expect(alice.take()).toEqual([presence("bob", false, T0 + 70_000)]);
		expect(reloaded.take()).toEqual([{ event: "ack", id: "l", data: { room_id: ROOM } }]);
		expect(room.core.presence.current()).toEqual(["alice"]);
		expect(room.core.presence.entries(["alice", "bob", "carol"])).toEqual([
			{ user_id: "alice", online: true, last_active_at: T0 + 70_000 + GRACE },
			{ user_id: "bob", online: false, last_active_at: T0 + 70_000 },
			{ user_id: "carol", online: false, last_active_at: null },
		]);
	});

	it("above the cap no presence events go out, and the ack lists at most the cap", () => {
		const room = makeRoom({ limits: { presenceMaxMembers: 2 } });
		const [a, b, c] = ["a", "b", "c"].map((u) => room.peer(u)) as [
			ReturnType<typeof room.peer>,
			ReturnType<typeof room.peer>,
			ReturnType<typeof room.peer>,
		];
		room.feed(a, join("1"));
		room.feed(b, join("2"));
		expect(a.take()).toEqual([{ event: "ack", id: "1", data: { room_id: ROOM, last_seq: 0, online: ["a"] } }, presence("b", true, T0)]);
		room.feed(c, join("3"));
		expect(c.take()).toEqual([{ event: "ack", id: "3", data: { room_id: ROOM, last_seq: 0, online: ["a", "b"] } }]);
		expect(a.take()).toEqual([]);
		expect(b.take()).toEqual([{ event: "ack", id: "2", data: { room_id: ROOM, last_seq: 0, online: ["a", "b"] } }]);
		expect(room.core.onlineForPush()).toBeNull();
	});

	it("after a restart, a user stored as online with no socket any more goes offline one grace later", () => {
		const db = new DatabaseSync(":memory:");
		const before = makeRoom({ db, limits: { presenceGraceMs: GRACE } });
		before.feed(before.peer("bob"), join("b"));
		// The object goes away with bob's socket (a deploy); alice's socket is the first of the new one.
		const after = makeRoom({ db, limits: { presenceGraceMs: GRACE } });
		after.clock.now = T0 + 1_000;
		const alice = after.peer("alice");
		after.feed(alice, join("a"));
		expect(alice.take()).toEqual([{ event: "ack", id: "a", data: { room_id: ROOM, last_seq: 0, online: ["alice", "bob"] } }]);
		after.clock.now = T0 + 1_000 + GRACE;
		after.core.presence.expire();
		after.flush();
		expect(alice.take()).toEqual([presence("bob", false, T0 + 1_000)]);
		// A restart that finds bob's socket again (hibernation: it kept its attachment) keeps him online.
		const woken = makeRoom({ db, limits: { presenceGraceMs: GRACE } });
		const kept = woken.peer("alice", { joined: true });
		woken.core.presence.restore();
		woken.clock.now = T0 + 100_000;
		woken.core.presence.expire();
		woken.flush();
		expect(kept.take()).toEqual([]);
		expect(woken.core.presence.current()).toEqual(["alice"]);
	});
});

describe("presence on user sockets", () => {
	const R1 = "0190a000-0000-7000-8000-000000000001";
	const pres = (userId: string, online: boolean, when: number) => ({
		event: "presence",
		data: { room_id: R1, user_id: userId, online, last_active_at: at(when) },
	});

	it("a join through a gateway counts, both kinds of socket see each other, and ready carries the room's online set", async () => {
		const world = makeWorld();
		const r = world.room(R1, ["alice", "bob", "carol"]);
		const alice = world.connect("alice");
		const bob = world.connect("bob");
		await world.settle();
		alice.peer.take();
		bob.peer.take();
		await alice.core.handleFrame(alice.peer, frame("join_room", { room_id: R1 }, "a"));
		await world.settle();
		expect(alice.peer.take()).toEqual([{ event: "ack", id: "a", data: { room_id: R1, last_seq: 0, online: ["alice"] } }]);
		// Bob on a room socket of the same room.
		const onRoom = {
			state: { userId: "bob", clientId: "client-1", roomId: R1, exp: 0, joined: false },
			frames: [] as string[],
			write(f: string) {
				this.frames.push(f);
			},
			saveState() {},
		};
		r.core.attach(onRoom);
		r.core.handleFrame(onRoom, frame("join_room", { room_id: R1 }, "b"));
		await world.settle();
		expect(onRoom.frames.flatMap((f) => f.split("\n")).map((l) => JSON.parse(l))).toEqual([
			{ event: "ack", id: "b", data: { room_id: R1, last_seq: 0, online: ["alice", "bob"] } },
		]);
		expect(alice.peer.take()).toEqual([pres("bob", true, T0)]);
		// Carol connects: her ready knows who is online in R1, without asking the room.
		const carol = world.connect("carol");
		await world.settle();
		expect(carol.peer.take()).toEqual([
			{
				event: "ready",
				data: {
					user_id: "carol",
					rooms: [{ room_id: R1, last_seq: 0, last_read_seq: 0, unread: 0, online: ["alice", "bob"] }],
					unread_total: 0,
				},
			},
		]);
		// Alice leaves on the user socket: after the grace, bob's room socket hears it.
		world.clock.now = T0 + 1_000;
		await alice.core.handleFrame(alice.peer, frame("leave_room", { room_id: R1 }, "l"));
		await world.settle();
		onRoom.frames.length = 0;
		world.clock.now = T0 + 1_000 + 5_000;
		r.core.presence.expire();
		await world.settle();
		expect(onRoom.frames.flatMap((f) => f.split("\n")).map((l) => JSON.parse(l))).toEqual([pres("alice", false, T0 + 1_000)]);
		const later = world.connect("carol");
		await world.settle();
		expect(later.peer.take()[0]?.data.rooms[0].online).toEqual(["bob"]);
	});

	it("a user with two user sockets is online until both left; a private room's presence reaches only those who joined it", async () => {
		const world = makeWorld();
		const r = world.room(R1, ["alice", "bob"], true);
		const a1 = world.connect("alice");
		const a2 = world.connect("alice");
		const bob = world.connect("bob");
		await world.settle();
		for (const s of [a1, a2, bob]) s.peer.take();
		await bob.core.handleFrame(bob.peer, frame("join_room", { room_id: R1 }, "b"));
		for (const s of [a1, a2]) await s.core.handleFrame(s.peer, frame("join_room", { room_id: R1 }, "a"));
		await world.settle();
		expect(bob.peer.take()).toEqual([
			{ event: "ack", id: "b", data: { room_id: R1, last_seq: 0, online: ["bob"] } },
			pres("alice", true, T0),
		]);
		// Mallory is not a member: her join is refused and she hears nothing.
		const mallory = world.connect("mallory");
		await world.settle();
		mallory.peer.take();
		await mallory.core.handleFrame(mallory.peer, frame("join_room", { room_id: R1 }, "m"));
		await world.settle();
		expect(mallory.peer.take()).toEqual([
			{ event: "error", id: "m", data: { code: "forbidden", message: "This room is private and you are not a member" } },
		]);
		a1.core.detach(a1.peer);
		await world.settle();
		world.clock.now = T0 + 60_000;
		r.core.presence.expire();
		await world.settle();
		expect(bob.peer.take()).toEqual([]);
		world.clock.now = T0 + 70_000;
		a2.core.detach(a2.peer);
		await world.settle();
		world.clock.now = T0 + 75_000;
		r.core.presence.expire();
		await world.settle();
		expect(bob.peer.take()).toEqual([pres("alice", false, T0 + 70_000)]);
		expect(mallory.peer.take()).toEqual([]);
		expect(r.inbox.presence()).toEqual([
			{ user_id: "alice", online: false, last_active_at: at(T0 + 70_000) },
			{ user_id: "bob", online: true, last_active_at: at(T0 + 75_000) },
		]);
	});
});
