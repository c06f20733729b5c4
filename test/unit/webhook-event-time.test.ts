// A room event's `timestamp` is when the room's log stored it: the log keeps that time per event
// (events.at), so a delivery built now and the events feed read later agree, whatever the clock
// says when they are built. Rooms stored before the column existed get it on first open.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { MessageLog } from "../../src/room/message-log";
import { roomEvent } from "../../src/webhooks/events";
import { ROOM, sqlOf } from "./room-support";

const USER = "0190a000-0000-7000-8000-000000000001";
const MESSAGE = "0190b000-0000-7000-8000-000000000001";
const CREATED = "2026-11-24T06:00:00.000Z";
const EDITED = "2026-11-24T06:01:00.000Z";
const REACTED = "2026-11-24T06:02:00.000Z";
const DELETED = "2026-11-24T06:03:00.000Z";
const LATER = Date.parse("2026-12-24T00:00:00.000Z");

const timestampOf = (event: Parameters<typeof roomEvent>[0], now: number) => JSON.parse(roomEvent(event, now).body).timestamp;

function storeHistory(log: MessageLog) {
	log.append({ id: MESSAGE, room_id: ROOM, user_id: USER, text_message: "helo", created_at: CREATED });
	const edit = log.edit(MESSAGE, USER, "hello", undefined, EDITED);
	const react = log.react(MESSAGE, USER, "👍", true, REACTED);
	const unreact = log.react(MESSAGE, USER, "👍", false, REACTED);
	const remove = log.remove(MESSAGE, () => true, DELETED);
	return { edit, react, unreact, remove };
}

describe("room event times", () => {
	it("stores each event's time in the log and uses it as the webhook timestamp, whenever the event is built", () => {
		const log = new MessageLog(sqlOf(new DatabaseSync(":memory:")));
		const live = storeHistory(log);
		const stored = log.events(0, 10);
		expect(stored.map((e) => [e.seq, e.event, e.at])).toEqual([
			[1, "new_message", CREATED],
			[2, "message_updated", EDITED],
			[3, "reaction_added", REACTED],
			[4, "reaction_removed", REACTED],
			[5, "message_deleted", DELETED],
		]);
		// The events the log returned when storing them carry the same time.
		for (const result of Object.values(live)) {
			if (!result.ok || !result.event) throw new Error("expected a stored event");
			expect(result.event.at).toBe(stored.find((e) => e.seq === result.event?.seq)?.at);
		}
		// Built at two different moments (the dispatcher now, the feed a month later): the same timestamp.
		for (const event of stored) {
			expect(timestampOf(event, Date.now())).toBe(event.at);
			expect(timestampOf(event, LATER)).toBe(event.at);
		}
		// Deleting again answers the first deletion, with its time.
		const again = log.remove(MESSAGE, () => true, "2026-11-24T07:00:00.000Z");
		expect(again.ok && again.event).toMatchObject({ seq: 5, at: DELETED });
	});

	it("gives a reaction without an explicit time the time it was stored", () => {
		const log = new MessageLog(sqlOf(new DatabaseSync(":memory:")));
		log.append({ id: MESSAGE, room_id: ROOM, user_id: USER, text_message: "hi", created_at: CREATED });
		const before = Date.now();
		log.react(MESSAGE, USER, "👍", true);
		const at = Date.parse(log.events(1, 1)[0]?.at ?? "");
		expect(at).toBeGreaterThanOrEqual(before);
		expect(at).toBeLessThanOrEqual(Date.now());
	});

	it("adds the column to a room stored before it existed; older events take the best stored time", () => {
		const db = new DatabaseSync(":memory:");
		storeHistory(new MessageLog(sqlOf(db)));
		// As an older release left it: no `at` column.
		db.exec("ALTER TABLE events DROP COLUMN at");
		const log = new MessageLog(sqlOf(db));
		const columns = db
			.prepare("PRAGMA table_info(events)")
			.all()
			.map((c) => c.name);
		expect(columns).toContain("at");
		// Deletes take the message's deleted_at; the others its last edit (or its creation).
		expect(log.events(0, 10).map((e) => [e.event, e.at])).toEqual([
			["new_message", CREATED],
			["message_updated", EDITED],
			["reaction_added", EDITED],
			["reaction_removed", EDITED],
			["message_deleted", DELETED],
		]);
		// New events on the reopened log store their own time.
		log.append({ id: "m2", room_id: ROOM, user_id: USER, text_message: "again", created_at: CREATED });
		log.react("m2", USER, "🎉", true, REACTED);
		expect(log.events(6, 10).map((e) => [e.event, e.at])).toEqual([["reaction_added", REACTED]]);
	});
});
