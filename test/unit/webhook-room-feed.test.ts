import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { MessageLog } from "../../src/room/message-log";
import type { MessageT } from "../../src/schemas/message";
import { RoomWebhookFeed } from "../../src/webhooks/room-feed";
import { ROOM, sqlOf, T0 } from "./room-support";

const CLIENT = "0190a000-0000-7000-8000-0000000c1e47";
const USER = "0190a000-0000-7000-8000-000000000001";

/** A room's log and feed on real SQLite; `forward` records what the dispatcher was handed. */
function room(db = new DatabaseSync(":memory:")) {
	const sql = sqlOf(db);
	const log = new MessageLog(sql);
	let now = T0;
	const handed: MessageT[][] = [];
	const alarms: number[] = [];
	let reply: () => Promise<{ active: boolean }> = async () => ({ active: true });
	const feed = new RoomWebhookFeed({
		sql,
		log: { lastSeq: () => log.lastSeq(), events: (after, limit) => log.events(after, limit) },
		forward: async (clientId, events) => {
			expect(clientId).toBe(CLIENT);
			// These tests store messages only: each event is a new_message.
			handed.push(events.map((e) => e.data as MessageT));
			return reply();
		},
		armAlarm: async (at) => {
			alarms.push(at);
		},
		now: () => now,
	});
	let n = 0;
	const store = (count: number) => {
		for (let i = 0; i < count; i++) {
			n++;
			log.append({ id: `m${n}`, room_id: ROOM, user_id: USER, text_message: `hi ${n}`, created_at: new Date(now).toISOString() });
		}
	};
	return {
		db,
		log,
		feed,
		handed,
		alarms,
		store,
		tick: (ms: number) => (now += ms),
		reply: (fn: typeof reply) => (reply = fn),
	};
}

const seqs = (batches: MessageT[][]) => batches.map((b) => b.map((m) => m.seq));

describe("the room's webhook feed", () => {
	it("starts from the room's present: history stored before webhooks existed is not replayed", async () => {
		const db = new DatabaseSync(":memory:");
		const log = new MessageLog(sqlOf(db));
		log.append({ id: "old", room_id: ROOM, user_id: USER, text_message: "before", created_at: new Date(T0).toISOString() });
		const r = room(db);
		r.feed.bind(CLIENT);
		expect(r.feed.handedOver()).toBe(1);
		expect(r.feed.wantsAlarmAt()).toBeNull();
	});

	it("arms the alarm once per pending run and hands stored messages over in seq order, from a durable cursor", async () => {
		const r = room();
		r.store(2);
		r.feed.poke();
		expect(r.alarms).toEqual([]); // not bound to a client yet: nowhere to send
		r.feed.bind(CLIENT);
		r.feed.poke();
		r.feed.poke();
		expect(r.alarms).toEqual([T0]);
		await r.feed.run();
		expect(seqs(r.handed)).toEqual([[1, 2]]);
		expect(r.feed.handedOver()).toBe(2);
		expect(r.feed.wantsAlarmAt()).toBeNull();
		expect(r.db.prepare("SELECT client_id, cursor FROM webhook_feed").all()).toEqual([{ client_id: CLIENT, cursor: 2 }]);
	});

	it("after a crash, a new instance resumes from the stored cursor: nothing lost, nothing handed twice", async () => {
		const r = room();
		r.feed.bind(CLIENT);
		r.store(3);
		await r.feed.run();
		r.store(2);
		// The object dies before its alarm runs; a new one opens the same SQLite.
		const again = room(r.db);
		expect(again.feed.handedOver()).toBe(3);
		expect(again.feed.wantsAlarmAt()).toBe(T0);
		await again.feed.run();
		expect(seqs(again.handed)).toEqual([[4, 5]]);
	});

	it("keeps its cursor when the dispatcher fails and backs off before trying again", async () => {
		const r = room();
		r.feed.bind(CLIENT);
		r.store(2);
		r.reply(async () => {
			throw new Error("dispatcher unavailable");
		});
		await r.feed.run();
		expect(r.feed.handedOver()).toBe(0);
		expect(r.feed.wantsAlarmAt()).toBe(T0 + 500);
		await r.feed.run(); // too early: does nothing
		expect(r.handed).toHaveLength(1);
		r.tick(500);
		r.reply(async () => ({ active: true }));
		await r.feed.run();
		expect(seqs(r.handed)).toEqual([
			[1, 2],
			[1, 2],
		]);
		expect(r.feed.handedOver()).toBe(2);
	});

	it("hands over large backlogs in batches of 200, ten batches per run", async () => {
		const r = room();
		r.feed.bind(CLIENT);
		r.store(2100);
		await r.feed.run();
		expect(r.handed.map((b) => b.length)).toEqual(Array(10).fill(200));
		expect(r.feed.handedOver()).toBe(2000);
		expect(r.feed.wantsAlarmAt()).toBe(T0);
		await r.feed.run();
		expect(r.feed.handedOver()).toBe(2100);
	});

	it("when nobody listens, skips what was stored and asks again only after 10 s", async () => {
		const r = room();
		r.feed.bind(CLIENT);
		r.store(450);
		r.reply(async () => ({ active: false }));
		await r.feed.run();
		expect(r.handed.map((b) => b.length)).toEqual([200]);
		expect(r.feed.handedOver()).toBe(450);
		r.store(1);
		expect(r.feed.wantsAlarmAt()).toBe(T0 + 10_000);
		await r.feed.run();
		expect(r.handed).toHaveLength(1);
		r.tick(10_000);
		r.reply(async () => ({ active: true }));
		await r.feed.run();
		expect(seqs(r.handed)[1]).toEqual([451]);
	});
});
