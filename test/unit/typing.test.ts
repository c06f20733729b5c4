// The typing set alone, on a hand-driven clock: whole sets, the per-user and per-room windows, expiry;
// then through the room, which users' sockets each grouped set reaches.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { MessageLog } from "../../src/room/message-log";
import { Outbox } from "../../src/room/outbox";
import { RoomCore } from "../../src/room/room-core";
import { Typing } from "../../src/room/typing";
import { FakePeer, LIMITS, ROOM, sqlOf, T0 } from "./room-support";

/** A hand-driven clock and its timers. */
function clockWith(start: number) {
	const clock = { now: start };
	const timers: Array<{ at: number; run: () => void }> = [];
	const after = (ms: number, run: () => void) => {
		timers.push({ at: clock.now + ms, run });
	};
	const advance = (ms: number) => {
		const until = clock.now + ms;
		for (;;) {
			timers.sort((a, b) => a.at - b.at);
			const next = timers[0];
			if (!next || next.at > until) break;
			timers.shift();
			clock.now = Math.max(clock.now, next.at);
			next.run();
		}
		clock.now = until;
	};
	return { clock, after, advance };
}

function typingWith() {
	const { clock, after, advance } = clockWith(1_000_000);
	const sent: Array<{ at: number; set: string[]; by: readonly string[] }> = [];
	const typing = new Typing({
		ttlMs: 6_000,
		now: () => clock.now,
		after,
		changed: (set, by) => sent.push({ at: clock.now, set, by }),
	});
	return { typing, sent, advance, clock };
}

describe("Typing", () => {
	it("sends several users' changes inside the room's 250 ms window as one whole set when it ends", () => {
		const { typing, sent, advance, clock } = typingWith();
		const t0 = clock.now;
		typing.touch("alice");
		advance(50);
		typing.touch("bob");
		advance(50);
		typing.touch("carol");
		expect(sent).toEqual([{ at: t0, set: ["alice"], by: ["alice"] }]);
		advance(200);
		// The grouped set names every user whose change it carries, not only the last one.
		expect(sent).toEqual([
			{ at: t0, set: ["alice"], by: ["alice"] },
			{ at: t0 + 250, set: ["alice", "bob", "carol"], by: ["bob", "carol"] },
		]);
		// Refreshes of typers already in the set send nothing.
		typing.touch("bob");
		advance(1_000);
		expect(sent).toHaveLength(2);
	});

	it("still sends one user's start and stop a second apart, and expires a typer after 6 s", () => {
		const { typing, sent, advance, clock } = typingWith();
		const t0 = clock.now;
		typing.touch("alice");
		advance(100);
		typing.stop("alice");
		advance(1_000);
		typing.touch("bob");
		advance(6_000);
		expect(sent).toEqual([
			{ at: t0, set: ["alice"], by: ["alice"] },
			{ at: t0 + 1_000, set: [], by: ["alice"] },
			// Inside the room's window after alice's stop: it waits for the window to end.
			{ at: t0 + 1_250, set: ["bob"], by: ["bob"] },
			{ at: t0 + 7_100, set: [], by: ["bob"] },
		]);
	});
});

describe("Typing through the room", () => {
	function roomWithTimers() {
		const { clock, after, advance } = clockWith(T0);
		const scheduled: Array<() => void> = [];
		const signals: unknown[] = [];
		const db = new DatabaseSync(":memory:");
		const core = new RoomCore({
			log: new MessageLog(sqlOf(db)),
			sql: sqlOf(db),
			outbox: new Outbox((flush) => scheduled.push(flush)),
			limits: LIMITS,
			now: () => clock.now,
			newId: () => crypto.randomUUID(),
			roomId: ROOM,
			after,
			signal: (event, data) => {
				if (event === "typing") signals.push({ event, data });
			},
		});
		const flush = () => {
			for (const run of scheduled.splice(0)) run();
		};
		const joined = (userId: string) => {
			const peer = new FakePeer({ userId, clientId: "client-1", roomId: ROOM, exp: 0, joined: false });
			core.attach(peer);
			core.handleFrame(peer, JSON.stringify({ event: "join_room", data: { room_id: ROOM } }));
			flush();
			peer.take();
			return peer;
		};
		const type = (peer: FakePeer) => {
			core.handleFrame(peer, JSON.stringify({ event: "typing", data: { room_id: ROOM } }));
			flush();
		};
		const step = (ms: number) => {
			advance(ms);
			flush();
		};
		/** The typing sets a peer received since the last look (presence events of later joins aside). */
		const sets = (peer: FakePeer) =>
			(peer.take() as Array<{ event: string; data: { user_ids: string[] } }>)
				.filter((e) => e.event === "typing")
				.map((e) => e.data.user_ids);
		return { joined, type, step, sets, signals };
	}

	it("alice at 0 ms, bob at 50, carol at 100: every user's sockets end up with a set of all three", () => {
		const { joined, type, step, sets, signals } = roomWithTimers();
		const alice = joined("alice");
		const alice2 = joined("alice");
		const bob = joined("bob");
		const carol = joined("carol");
		const watcher = joined("dave");
		type(alice);
		step(50);
		type(bob);
		step(50);
		type(carol);
		step(150);
		// alice's own change is not sent to her sockets; the grouped set of bob's and carol's goes to everyone,
		// carol's sockets too (they must learn bob is typing) and bob's (that carol is).
		const all = ["alice", "bob", "carol"];
		expect(sets(alice)).toEqual([all]);
		expect(sets(alice2)).toEqual([all]);
		expect(sets(bob)).toEqual([["alice"], all]);
		expect(sets(carol)).toEqual([["alice"], all]);
		expect(sets(watcher)).toEqual([["alice"], all]);
		// The user sockets' gateways: the grouped set excepts nobody.
		expect(signals).toEqual([
			{ event: "typing", data: { room_id: ROOM, user_ids: ["alice"], except_user_id: "alice" } },
			{ event: "typing", data: { room_id: ROOM, user_ids: all } },
		]);
		// Still at most one broadcast per room window and per user second: nothing more without a change.
		step(2_000);
		expect([alice, bob, carol, watcher].map(sets)).toEqual([[], [], [], []]);
	});

	it("a lone user's change inside the window still skips that user's own sockets", () => {
		const { joined, type, step, sets } = roomWithTimers();
		const alice = joined("alice");
		const bob = joined("bob");
		type(alice);
		step(100);
		type(bob);
		step(150);
		expect(sets(alice)).toEqual([["alice", "bob"]]);
		expect(sets(bob)).toEqual([["alice"]]);
	});
});
