// The gateway's grouped writes without a runtime, with both timers driven by hand: what reaches
// SQLite after the next flush, after the lazy timer, and what a failed flush does.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { GatewayStore, MAX_VISITS_PER_USER } from "../../src/gateway/gateway-store";
import type { SyncSql } from "../../src/room/message-log";
import { sqlOf } from "./room-support";

function makeStore(sql?: (db: DatabaseSync) => SyncSql) {
	const db = new DatabaseSync(":memory:");
	const soon: Array<() => void> = [];
	const later: Array<() => void> = [];
	const store = new GatewayStore(
		(sql ?? sqlOf)(db),
		(run) => soon.push(run),
		(_ms, run) => later.push(run),
	);
	const run = (queue: Array<() => void>) => {
		for (const task of queue.splice(0)) task();
	};
	const rows = () => db.prepare("SELECT socket_id, room_id, cursor, user_id FROM gw_subs ORDER BY socket_id").all();
	return { db, store, soon, later, run, rows };
}

describe("gateway store", () => {
	it("writes a new subscription with the next flush, and its cursor at most once per lazy timer", () => {
		const { store, soon, later, run, rows } = makeStore();
		store.setCursor("s1", "r1", 4, "alice");
		expect(soon).toHaveLength(1);
		run(soon);
		// On disk before the lazy timer: a restart finds the join and tells the room the socket is gone.
		expect(rows()).toEqual([{ socket_id: "s1", room_id: "r1", cursor: 4, user_id: "alice" }]);
		store.advance("r1", ["s1"], 5);
		store.advance("r1", ["s1"], 9);
		run(soon);
		expect(rows()).toEqual([{ socket_id: "s1", room_id: "r1", cursor: 4, user_id: "alice" }]);
		run(later);
		expect(rows()).toEqual([{ socket_id: "s1", room_id: "r1", cursor: 9, user_id: "alice" }]);
	});

	it("fails the pushes waiting for a flush whose write fails, and leaves the timer that ran it alone", async () => {
		const failing = (db: DatabaseSync): SyncSql => {
			const plain = sqlOf(db);
			return {
				exec(query, ...bindings) {
					if (query.startsWith("INSERT INTO gw_presence")) throw new Error("disk full");
					return plain.exec(query, ...bindings);
				},
			};
		};
		const { store, soon, run } = makeStore(failing);
		store.putOnline("r1", ["alice"]);
		const flushed = store.flushed();
		const outcome = flushed.then(
			() => "stored",
			(error: Error) => error.message,
		);
		// The scheduled flush does not throw (on Deno that would end the process); the waiting push learns of it.
		expect(() => run(soon)).not.toThrow();
		expect(await outcome).toBe("disk full");
		// Nothing was stored, and the store does not think otherwise: the same set, pushed again, is written again.
		expect(store.online(["r1"])).toEqual(new Map());
		store.putOnline("r1", ["alice"]);
		expect(soon).toHaveLength(1);
	});

	it("keeps each user's newest MAX_VISITS_PER_USER visited rooms (a repeat visit counts as new) and forgets those a ban closed", () => {
		const { store } = makeStore();
		const room = (i: number) => `r${String(i).padStart(5, "0")}`;
		for (let i = 0; i < MAX_VISITS_PER_USER; i++) store.visit("alice", room(i));
		store.visit("bob", room(0));
		// r00000 again: now the newest, so the next new room pushes out r00001, the oldest.
		store.visit("alice", room(0));
		store.visit("alice", room(MAX_VISITS_PER_USER));
		const visits = store.visits("alice");
		expect(visits).toHaveLength(MAX_VISITS_PER_USER);
		expect(visits.slice(0, 3)).toEqual([room(0), room(2), room(3)]);
		expect(visits.at(-1)).toBe(room(MAX_VISITS_PER_USER));
		// Another user's list is their own.
		expect(store.visits("bob")).toEqual([room(0)]);

		store.forgetVisits("alice", visits.slice(1));
		expect(store.visits("alice")).toEqual([room(0)]);
		expect(store.visits("bob")).toEqual([room(0)]);
		store.visit("alice", room(7));
		expect(store.visits("alice")).toEqual([room(0), room(7)]);
	});
});
