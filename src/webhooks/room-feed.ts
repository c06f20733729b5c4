import type { Env } from "../env";
import type { RoomEvent, SyncSql } from "../room/message-log";
import { dispatcherStub } from "./stub";

/** Messages handed over per call to the dispatcher. */
const BATCH = 200;
/** Batches per run; the room's alarm comes back at once for the rest, so other events get a turn. */
const BATCHES_PER_RUN = 10;
/** After the dispatcher says nobody listens, ask again no sooner than this. */
const IDLE_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;

export interface FeedDeps {
	sql: SyncSql;
	/** The room's log, through RoomCore. */
	log: { lastSeq(): number; events(afterSeq: number, limit: number): RoomEvent[] };
	/** Hands events to the client's dispatcher; `active` is false when no endpoint wants any room event. */
	forward(clientId: string, events: RoomEvent[]): Promise<{ active: boolean }>;
	/** Makes the room's alarm fire no later than `at` (the room object combines it with its other alarms). */
	armAlarm(at: number): Promise<void>;
	now(): number;
}

/**
 * The room's side of `message.new` webhooks. The room's log is the source of truth: the room
 * keeps one durable cursor, "the last seq handed to the dispatcher", and its alarm forwards what
 * was stored after it. Nothing extra is written per message, and a crash at any point only
 * means the same messages are handed over again (the dispatcher dedups them by event id).
 */
export class RoomWebhookFeed {
	private clientId: string | null;
	private cursor: number;
	private running = false;
	private notBefore = 0;
	private failures = 0;
	private armedAt: number | null = null;

	constructor(private readonly deps: FeedDeps) {
		deps.sql.exec(
			"CREATE TABLE IF NOT EXISTS webhook_feed (id INTEGER PRIMARY KEY CHECK (id = 1), client_id TEXT, cursor INTEGER NOT NULL)",
		);
		let row = deps.sql.exec("SELECT client_id, cursor FROM webhook_feed WHERE id = 1").toArray()[0];
		if (!row) {
			// A room that existed before webhooks starts from its present: its history is not replayed.
			deps.sql.exec("INSERT INTO webhook_feed (id, client_id, cursor) VALUES (1, NULL, ?)", deps.log.lastSeq());
			row = { client_id: null, cursor: deps.log.lastSeq() };
		}
		this.clientId = typeof row.client_id === "string" ? row.client_id : null;
		this.cursor = Number(row.cursor);
	}

	/** Records which client owns the room (from a verified REST send or socket handshake); it never changes. */
	bind(clientId: string): void {
		if (this.clientId !== null) return;
		this.clientId = clientId;
		this.deps.sql.exec("UPDATE webhook_feed SET client_id = ? WHERE id = 1", clientId);
	}

	handedOver(): number {
		return this.cursor;
	}

	/** When the room's alarm should run for the feed, or null when everything stored was handed over. */
	wantsAlarmAt(): number | null {
		if (this.clientId === null || this.cursor >= this.deps.log.lastSeq()) return null;
		return Math.max(this.deps.now(), this.notBefore);
	}

	/** Called after anything that may have stored messages: arms the alarm that forwards them. */
	poke(): void {
		const at = this.wantsAlarmAt();
		if (at === null || (this.armedAt !== null && this.armedAt <= at)) return;
		this.armedAt = at;
		this.deps.armAlarm(at).catch((error) => {
			this.armedAt = null;
			console.error(JSON.stringify({ msg: "webhook feed: arming the alarm failed", error: String(error) }));
		});
	}

	/** Run from the room's alarm: forwards what is pending. Never throws; a failure backs off. */
	async run(): Promise<void> {
		this.armedAt = null;
		const clientId = this.clientId;
		if (clientId === null || this.running || this.deps.now() < this.notBefore) return;
		this.running = true;
		try {
			for (let i = 0; i < BATCHES_PER_RUN; i++) {
				// Everything stored until now is older than any endpoint the dispatcher does not yet know.
				const upTo = this.deps.log.lastSeq();
				const batch = this.deps.log.events(this.cursor, BATCH);
				const last = batch[batch.length - 1];
				if (!last) return;
				const { active } = await this.deps.forward(clientId, batch);
				this.failures = 0;
				this.advance(active ? last.seq : upTo);
				if (!active) {
					this.notBefore = this.deps.now() + IDLE_MS;
					return;
				}
			}
		} catch (error) {
			this.failures++;
			this.notBefore = this.deps.now() + Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.failures);
			console.error(JSON.stringify({ msg: "webhook feed: forwarding failed", error: String(error), failures: this.failures }));
		} finally {
			this.running = false;
		}
	}

	private advance(seq: number): void {
		if (seq <= this.cursor) return;
		this.cursor = seq;
		this.deps.sql.exec("UPDATE webhook_feed SET cursor = ? WHERE id = 1", seq);
	}
}

/** The feed as a room object wires it: its SQLite, its log through RoomCore, the client's dispatcher. */
export function openRoomWebhookFeed(
	sql: SyncSql,
	env: Env,
	log: FeedDeps["log"],
	armAlarm: (at: number) => Promise<void>,
): RoomWebhookFeed {
	return new RoomWebhookFeed({
		sql,
		log,
		forward: (clientId, events) => dispatcherStub(env, clientId).acceptRoomEvents(clientId, events),
		armAlarm,
		now: Date.now,
	});
}
