// The room -> gateway feed alone: what it pushes, when, and what it keeps owing.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import type { RoomPush } from "../../src/gateway/push";
import { GatewayFeed } from "../../src/room/gateway-feed";
import { Membership } from "../../src/room/membership";
import { MessageLog } from "../../src/room/message-log";
import { sqlOf, T0 } from "./room-support";

const ROOM = "0190a000-0000-7000-8000-000000000001";

function feedWith(options: { subscribed?: boolean } = {}) {
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

describe("GatewayFeed", () => {
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
});
