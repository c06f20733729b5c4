// The room -> gateway feed alone: what it pushes, when, and what it keeps owing.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import type { DeliverReply, RoomPush } from "../../src/gateway/push";
import { gatewayName } from "../../src/gateway/shard";
import { GatewayFeed } from "../../src/room/gateway-feed";
import { Membership } from "../../src/room/membership";
import { MessageLog } from "../../src/room/message-log";
import { sqlOf, T0 } from "./room-support";

const ROOM = "0190a000-0000-7000-8000-000000000001";

function feedWith(options: { subscribed?: boolean; replies?: Array<DeliverReply | undefined> } = {}) {
	const sql = sqlOf(new DatabaseSync(":memory:"));
	const log = new MessageLog(sql);
	const membership = new Membership(sql);
	membership.setMeta({ clientId: "c", private: false });
	membership.add("alice", 0);
	membership.markSynced();
	const clock = { now: T0 };
	const pushes: RoomPush[] = [];
	const timers: Array<{ at: number; run: () => void }> = [];
	const soon: Array<() => void> = [];
	const feed = new GatewayFeed({
		sql,
		log,
		membership,
		roomId: ROOM,
		gatewayOf: () => "c.0",
		push: async (_gateway, push) => {
			pushes.push(push);
			return options.replies?.shift();
		},
		now: () => clock.now,
		soon: (run) => soon.push(run),
		after: (ms, run) => timers.push({ at: clock.now + ms, run }),
		wakeAt: () => undefined,
		inboxDebounceMs: 1_000,
	});
	if (options.subscribed) feed.subscribe("c.0");
	const append = (n: number) => {
		const m = log.append({
			id: `0190b000-0000-7000-8000-${String(n).padStart(12, "0")}`,
			room_id: ROOM,
			user_id: "bob",
			text_message: `m${n}`,
			created_at: new Date(clock.now).toISOString(),
		});
		feed.appended(m.seq);
	};
	const run = async (advanceMs = 0) => {
		clock.now += advanceMs;
		for (const t of timers.splice(0)) {
			if (t.at <= clock.now) t.run();
			else timers.push(t);
		}
		for (const r of soon.splice(0)) r();
		await new Promise((r) => setImmediate(r));
	};
	return { feed, pushes, append, run, timers };
}

/** A room of `members` on `shards` gateway objects; every push is recorded with its gateway, and answered (nobody idle). */
function roomOn(members: string[], shards: number) {
	const sql = sqlOf(new DatabaseSync(":memory:"));
	const log = new MessageLog(sql);
	const membership = new Membership(sql);
	membership.setMeta({ clientId: "c", private: false });
	for (const userId of members) membership.add(userId, 0);
	membership.markSynced();
	const calls: Array<{ gateway: string; push: RoomPush }> = [];
	const soon: Array<() => void> = [];
	const feed = new GatewayFeed({
		sql,
		log,
		membership,
		roomId: ROOM,
		gatewayOf: (clientId, userId) => gatewayName(clientId, userId, shards),
		push: async (gateway, push) => {
			calls.push({ gateway, push });
			return undefined;
		},
		now: () => T0,
		soon: (run) => soon.push(run),
		wakeAt: () => undefined,
		inboxDebounceMs: 0,
	});
	let n = 0;
	/** Stores `count` messages in one turn (nothing flushes in between). */
	const store = (count: number) => {
		for (let i = 0; i < count; i++) {
			n++;
			const m = log.append({
				id: `0190b000-0000-7000-8000-${String(n).padStart(12, "0")}`,
				room_id: ROOM,
				user_id: members[n % members.length] ?? "x",
				text_message: `m${n}`,
				created_at: new Date(T0).toISOString(),
			});
			feed.appended(m.seq);
		}
	};
	/** Runs the flushes due, then lets the calls answer. */
	const flush = async () => {
		for (const run of soon.splice(0)) run();
		await new Promise((r) => setImmediate(r));
	};
	const gatewaysOf = (users: string[]) => new Set(users.map((userId) => gatewayName("c", userId, shards)));
	return { feed, calls, store, flush, gatewaysOf };
}

describe("GatewayFeed", () => {
	it("makes one call per gateway object of the room per flush (members and joined sockets alike), however many sockets or messages", async () => {
		const members = Array.from({ length: 50 }, (_, i) => `user-${i}`);
		const { feed, calls, store, flush, gatewaysOf } = roomOn(members, 16);
		const targets = gatewaysOf(members);
		// 50 members over 16 shards: every shard holds some (the bound is reached, not just respected).
		expect(targets.size).toBe(16);
		// Sockets of three members joined the room: their gateways get the events too, in the same call.
		const joined = ["user-0", "user-1", "user-2"];
		for (const userId of joined) feed.subscribe(gatewayName("c", userId, 16), userId);
		const subscribed = gatewaysOf(joined);
		store(5);
		await flush();
		expect(calls).toHaveLength(targets.size);
		expect(new Set(calls.map((c) => c.gateway))).toEqual(targets);
		// Each call carries the whole flush: all five messages for joined sockets, and every member there recounted.
		for (const { gateway, push } of calls) {
			expect(push.last_seq).toBe(5);
			expect(push.events.map((e) => e.seq)).toEqual(subscribed.has(gateway) ? [1, 2, 3, 4, 5] : []);
			expect(push.inbox.map((e) => e.user_id).sort()).toEqual(members.filter((u) => gatewayName("c", u, 16) === gateway).sort());
		}
		// The next flush: again one call each.
		calls.length = 0;
		store(3);
		await flush();
		expect(calls).toHaveLength(targets.size);
		expect(new Set(calls.map((c) => c.gateway))).toEqual(targets);
	});

	it("makes at most GATEWAY_SHARDS calls per flush for a 10,000-member room", async () => {
		const members = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
		const { calls, store, flush } = roomOn(members, 16);
		store(4);
		await flush();
		expect(calls).toHaveLength(16);
		expect(new Set(calls.map((c) => c.gateway)).size).toBe(16);
		// One call carries the flush's four messages and every member on that gateway.
		expect(calls.map((c) => c.push.last_seq)).toEqual(Array(16).fill(4));
		expect(calls.reduce((sum, c) => sum + c.push.inbox.length, 0)).toBe(10_000);
		calls.length = 0;
		store(1);
		await flush();
		expect(calls).toHaveLength(16);
	});

	it("debounces pushes to a gateway that only holds room lists: at most one a second, the last state always sent", async () => {
		const { pushes, append, run } = feedWith();
		append(1);
		await run();
		expect(pushes.map((p) => [p.last_seq, p.inbox])).toEqual([[1, [{ user_id: "alice", last_read_seq: 0, unread: 1 }]]]);
		append(2);
		await run(10);
		append(3);
		await run(10);
		expect(pushes).toHaveLength(1);
		await run(1_000);
		// No events: they serve joined sockets, and this gateway has none in the room.
		expect(pushes.map((p) => [p.last_seq, p.events.map((e) => e.seq), p.inbox[0]?.unread, p.latest?.seq])).toEqual([
			[1, [], 1, 1],
			[3, [], 3, 3],
		]);
	});

	it("pushes at once to a gateway with sockets joined to the room", async () => {
		const { pushes, append, run } = feedWith({ subscribed: true });
		for (let n = 1; n <= 3; n++) {
			append(n);
			await run(10);
		}
		expect(pushes.map((p) => p.last_seq)).toEqual([1, 2, 3]);
	});

	it("stops pushing to a gateway whose members have no socket there, and derives their state again on wake", async () => {
		const { feed, pushes, append, run } = feedWith({ replies: [{ idle: ["alice"], token: 5 }] });
		append(1);
		await run();
		expect(pushes.map((p) => p.last_seq)).toEqual([1]);
		for (let n = 2; n <= 6; n++) append(n);
		await run(5_000);
		// Nothing owed, nothing pushed: the alarm has nothing to retry either.
		expect(pushes.map((p) => p.last_seq)).toEqual([1]);
		expect(feed.owed()).toEqual([]);
		expect(feed.wake("c.0", "alice", 6, false)).toEqual({
			room_id: ROOM,
			last_seq: 6,
			events: [],
			latest: expect.objectContaining({ seq: 6, text_message: "m6" }),
			inbox: [{ user_id: "alice", last_read_seq: 0, unread: 6 }],
			removed: [],
			left: [],
		});
		append(7);
		await run(5_000);
		expect(pushes.map((p) => [p.last_seq, p.inbox])).toEqual([
			[1, [{ user_id: "alice", last_read_seq: 0, unread: 1 }]],
			[7, [{ user_id: "alice", last_read_seq: 0, unread: 7 }]],
		]);
	});

	it("ignores an idle answer older than the user's last wake (the answer and the wake crossed)", async () => {
		const { feed, pushes, append, run } = feedWith({ replies: [{ idle: ["alice"], token: 5 }] });
		feed.wake("c.0", "alice", 9, false);
		append(1);
		await run();
		append(2);
		await run(5_000);
		expect(pushes.map((p) => p.last_seq)).toEqual([1, 2]);
	});

	it("answers a wake for a member who left with the removal, derived from membership", async () => {
		const { feed } = feedWith();
		expect(feed.wake("c.0", "carol", 1, true)).toEqual({
			room_id: ROOM,
			last_seq: 0,
			events: [],
			latest: null,
			inbox: [],
			removed: ["carol"],
			left: [],
		});
		expect(feed.wake("c.0", "carol", 2, false).left).toEqual(["carol"]);
	});
});
