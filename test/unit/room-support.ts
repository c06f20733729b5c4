// A RoomCore on real SQLite (node:sqlite) with a hand-driven outbox and peers that record frames.
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { splitFrame } from "../../src/protocol/codec";
import { MessageLog, type SyncSql } from "../../src/room/message-log";
import { Outbox } from "../../src/room/outbox";
import { type ConnState, type Peer, RoomCore, type RoomLimits } from "../../src/room/room-core";

export const ROOM = "0190a000-0000-7000-8000-00000000aaaa";
export const OTHER_ROOM = "0190a000-0000-7000-8000-00000000bbbb";
export const T0 = Date.parse("2026-11-24T06:00:00.000Z");

export const LIMITS: RoomLimits = {
	maxMessageLength: 4000,
	maxFrameBytes: 64 * 1024,
	wsRatePerSecond: 20,
	wsRateBurst: 40,
	restSendRatePerSecond: 20,
	restSendRateBurst: 40,
};

/** The Durable Object's `sql.exec` shape over node:sqlite. */
export function sqlOf(db: DatabaseSync): SyncSql {
	return {
		exec(query, ...bindings) {
			const rows = db.prepare(query).all(...(bindings as SQLInputValue[]));
			return { toArray: () => rows.map((row) => ({ ...row })) };
		},
	};
}

export class FakePeer implements Peer {
	readonly frames: string[] = [];
	/** Snapshots of what `saveState` persisted, in order. */
	readonly saved: ConnState[] = [];

	constructor(readonly state: ConnState) {}

	write(frame: string): void {
		this.frames.push(frame);
	}

	saveState(): void {
		this.saved.push({ ...this.state });
	}

	/** Every event received so far, frames split on `\n`, and forgets them. */
	take(): unknown[] {
		return this.frames.splice(0).flatMap(splitFrame);
	}

	/** The raw frames received so far, and forgets them. */
	takeFrames(): string[] {
		return this.frames.splice(0);
	}
}

export function makeRoom(options: { db?: DatabaseSync; limits?: Partial<RoomLimits> } = {}) {
	const db = options.db ?? new DatabaseSync(":memory:");
	const clock = { now: T0 };
	const scheduled: Array<() => void> = [];
	const outbox = new Outbox((flush) => scheduled.push(flush));
	let ids = 0;
	const core = new RoomCore({
		log: new MessageLog(sqlOf(db)),
		sql: sqlOf(db),
		outbox,
		limits: { ...LIMITS, ...options.limits },
		now: () => clock.now,
		newId: () => `0190b000-0000-7000-8000-${String(++ids).padStart(12, "0")}`,
	});
	const flush = () => {
		for (const run of scheduled.splice(0)) run();
	};
	const peer = (userId: string, state: Partial<ConnState> = {}) => {
		const p = new FakePeer({ userId, clientId: "client-1", roomId: ROOM, exp: 0, joined: false, ...state });
		core.attach(p);
		return p;
	};
	/** Feeds a frame (objects are JSON-encoded) and runs the scheduled flush. */
	const feed = (p: FakePeer, frame: unknown) => {
		const outcome = core.handleFrame(p, typeof frame === "string" || frame instanceof ArrayBuffer ? frame : JSON.stringify(frame));
		flush();
		return outcome;
	};
	const rows = () =>
		db
			.prepare("SELECT seq, user_id, text_message, client_msg_id FROM messages ORDER BY seq")
			.all()
			.map((r) => ({ ...r }));
	return { db, core, clock, scheduled, flush, peer, feed, rows };
}

export const messageId = (n: number) => `0190b000-0000-7000-8000-${String(n).padStart(12, "0")}`;
