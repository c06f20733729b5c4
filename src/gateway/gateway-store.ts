import type { SyncSql } from "../room/message-log";
import type { MessageT } from "../schemas/message";

/** A user's place in one room, as the room last pushed it (the room recounts it from its log). */
export interface InboxRow {
	user_id: string;
	room_id: string;
	last_seq: number;
	last_read_seq: number;
	unread: number;
	last_message: MessageT | null;
	updated_at: number;
}

const SCHEMA = [
	// Which room each socket joined, and the last seq it was sent there.
	`CREATE TABLE IF NOT EXISTS gw_subs (
		socket_id TEXT NOT NULL,
		room_id TEXT NOT NULL,
		cursor INTEGER NOT NULL,
		PRIMARY KEY (socket_id, room_id)
	)`,
	"CREATE INDEX IF NOT EXISTS gw_subs_room ON gw_subs (room_id, cursor)",
	`CREATE TABLE IF NOT EXISTS gw_inbox (
		user_id TEXT NOT NULL,
		room_id TEXT NOT NULL,
		last_seq INTEGER NOT NULL,
		last_read_seq INTEGER NOT NULL,
		unread INTEGER NOT NULL,
		last_message TEXT,
		updated_at INTEGER NOT NULL,
		PRIMARY KEY (user_id, room_id)
	)`,
	// Public rooms the user opened a room socket to without being a member: a client-wide ban closes those too.
	"CREATE TABLE IF NOT EXISTS gw_visits (user_id TEXT NOT NULL, room_id TEXT NOT NULL, PRIMARY KEY (user_id, room_id))",
	// Rooms told that the user has no socket here: they send that user's state again on `wake`.
	"CREATE TABLE IF NOT EXISTS gw_idle (user_id TEXT NOT NULL, room_id TEXT NOT NULL, PRIMARY KEY (user_id, room_id))",
	// Who is online in each room, as the room last said (presence signals, pushes): for `ready`.
	"CREATE TABLE IF NOT EXISTS gw_presence (room_id TEXT PRIMARY KEY, online TEXT NOT NULL)",
];

/**
 * Public rooms remembered per user as visited without membership (the newest). A client-wide ban
 * closes visitor sockets in these; one older than this many later visits is missed (it still ends
 * when its JWT expires).
 */
export const MAX_VISITS_PER_USER = 1_000;
/** Cursor writes wait at most this long (ms). */
const LAZY_MS = 1_000;
/** Inbox rows kept in memory at most (then forgotten all at once: they are read again). */
const STORED_ROWS = 5_000;

const toRow = (r: Record<string, unknown>): InboxRow => ({
	user_id: String(r.user_id),
	room_id: String(r.room_id),
	last_seq: Number(r.last_seq),
	last_read_seq: Number(r.last_read_seq),
	unread: Number(r.unread),
	// Written by putInbox from a message the room stored: our own data, not client input.
	last_message: r.last_message == null ? null : (JSON.parse(String(r.last_message)) as MessageT),
	updated_at: Number(r.updated_at),
});

/**
 * The gateway object's storage: subscriptions and inbox rows survive hibernation, eviction and
 * restarts. Writes are grouped: they wait in memory (reads see them) until `flush()` runs them
 * all in one go, so pushes from many rooms that arrive together share one commit (one fsync on
 * bare workerd) instead of one each. `flushed()` resolves after the flush that carries what was
 * written before it: a room's push is answered only then, so the room forgets what it owes only
 * once it is stored here.
 */
export class GatewayStore {
	private readonly writes: Array<() => void> = [];
	/**
	 * Subscription writes, which matter only while the sockets live: they ride with the next flush,
	 * or a timer at most `LAZY_MS` later (well before the object could hibernate). A new
	 * subscription always asks for that next flush (a restart must find it, to tell the room the
	 * socket is gone); its removal may wait. Cursors (`cursors`) wait for the timer only, so a
	 * socket's cursor is written once a second however many pushes.
	 */
	private readonly lazy: Array<() => void> = [];
	private lazyScheduled = false;
	/** Inbox rows written or deleted (null) but not yet flushed, by `user\0room`. */
	private readonly rows = new Map<string, InboxRow | null>();
	/** Inbox rows as stored, read or written lately (bounded): a push reads the row it replaces. */
	private readonly stored = new Map<string, InboxRow | null>();
	/** The newest cursor of each subscription (`socket\0room`) not yet written: one write each per lazy flush. */
	private readonly cursors = new Map<string, { socketId: string; roomId: string; cursor: number }>();
	private readonly waiting: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
	private scheduled = false;
	/** What gw_presence holds per room, as written (JSON), so an unchanged set costs no write. */
	private readonly onlineCache = new Map<string, string | null>();

	/**
	 * `soon` runs the flush after the current event (and those already queued), `later(ms)` the
	 * cursors' flush; without them, writes run at once.
	 */
	constructor(
		private readonly sql: SyncSql,
		private readonly soon?: (run: () => void) => void,
		private readonly later?: (ms: number, run: () => void) => void,
	) {
		for (const statement of SCHEMA) sql.exec(statement);
		// Whose socket each subscription is (a room counts its online users by them); '' for older rows.
		const columns = sql
			.exec("PRAGMA table_info(gw_subs)")
			.toArray()
			.map((c) => String(c.name));
		if (!columns.includes("user_id")) sql.exec("ALTER TABLE gw_subs ADD COLUMN user_id TEXT NOT NULL DEFAULT ''");
	}

	/**
	 * Runs every waiting write, in order, in this event (one implicit transaction). Should one fail,
	 * the pushes waiting for this flush fail too (their rooms send them again), and the error is
	 * thrown to the caller, not to the timer that ran the flush.
	 */
	flush(): void {
		this.scheduled = false;
		const writes = this.writes.splice(0);
		const waiting = this.waiting.splice(0);
		this.rows.clear();
		try {
			// Subscription writes first, in order; cursors wait for their own timer (one write per socket a second).
			for (const write of this.lazy.splice(0)) write();
			for (const write of writes) write();
		} catch (error) {
			this.onlineCache.clear();
			for (const { reject } of waiting) reject(error);
			throw error;
		}
		// Only once written: the cache must never be older than what waits to be written.
		if (this.onlineCache.size > 10_000) this.onlineCache.clear();
		for (const { resolve } of waiting) resolve();
	}

	/** The deferred flush: a failure reaches the waiting pushes (above), not the event loop. */
	private flushSoon(): void {
		try {
			this.flush();
		} catch (error) {
			console.error("gateway store: a grouped write failed", error);
		}
	}

	private writeLazy(run: () => void): void {
		if (!this.soon || !this.later) {
			this.write(run);
			return;
		}
		this.lazy.push(run);
		this.scheduleLazy();
	}

	private scheduleLazy(): void {
		if (this.lazyScheduled || !this.later) return;
		this.lazyScheduled = true;
		this.later(LAZY_MS, () => {
			this.lazyScheduled = false;
			this.runLazy();
		});
	}

	/** The lazy writes in order, then each subscription's newest cursor (a row deleted meanwhile stays deleted). */
	private runLazy(): void {
		for (const write of this.lazy.splice(0)) write();
		const cursors = [...this.cursors.values()];
		this.cursors.clear();
		for (const { socketId, roomId, cursor } of cursors) this.writeCursor(socketId, roomId, cursor);
	}

	/** Resolves once what was written so far is flushed (rejects if that flush failed). */
	flushed(): Promise<void> {
		if (this.writes.length === 0) return Promise.resolve();
		return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
	}

	private write(run: () => void): void {
		if (!this.soon) {
			run();
			return;
		}
		this.writes.push(run);
		this.scheduleFlush();
	}

	private scheduleFlush(): void {
		if (this.scheduled || !this.soon) return;
		this.scheduled = true;
		this.soon(() => this.flushSoon());
	}

	subscriptions(): Array<{ socket_id: string; room_id: string; cursor: number; user_id: string }> {
		return this.sql
			.exec("SELECT socket_id, room_id, cursor, user_id FROM gw_subs")
			.toArray()
			.map((r) => ({ socket_id: String(r.socket_id), room_id: String(r.room_id), cursor: Number(r.cursor), user_id: String(r.user_id) }));
	}

	/** A socket joined the room (or joined again): written with the next flush, before its ack can leave. */
	setCursor(socketId: string, roomId: string, cursor: number, userId: string): void {
		this.cursors.delete(`${socketId}\0${roomId}`);
		this.scheduleFlush();
		this.writeLazy(() =>
			this.sql.exec(
				"INSERT INTO gw_subs (socket_id, room_id, cursor, user_id) VALUES (?, ?, ?, ?) ON CONFLICT(socket_id, room_id) DO UPDATE SET cursor = excluded.cursor",
				socketId,
				roomId,
				cursor,
				userId,
			),
		);
	}

	/** The room's online set as it last said (null: it sends none, above its presence cap); written only when it changed. */
	putOnline(roomId: string, online: string[] | null): void {
		const text = online === null ? null : JSON.stringify(online);
		if (!this.onlineCache.has(roomId)) {
			const row = this.sql.exec("SELECT online FROM gw_presence WHERE room_id = ?", roomId).toArray()[0];
			this.onlineCache.set(roomId, row ? String(row.online) : null);
		}
		if (this.onlineCache.get(roomId) === text) return;
		this.onlineCache.set(roomId, text);
		this.write(() =>
			text === null
				? this.sql.exec("DELETE FROM gw_presence WHERE room_id = ?", roomId)
				: this.sql.exec(
						"INSERT INTO gw_presence (room_id, online) VALUES (?, ?) ON CONFLICT(room_id) DO UPDATE SET online = excluded.online",
						roomId,
						text,
					),
		);
	}

	/** The online sets known for these rooms (one query, whatever their number). */
	online(roomIds: string[]): Map<string, string[]> {
		if (this.writes.length > 0) this.flush();
		const known = new Map<string, string[]>();
		if (roomIds.length === 0) return known;
		const rows = this.sql
			.exec("SELECT room_id, online FROM gw_presence WHERE room_id IN (SELECT value FROM json_each(?))", JSON.stringify(roomIds))
			.toArray();
		// Written by putOnline from a room's list of user ids: our own data.
		for (const r of rows) known.set(String(r.room_id), JSON.parse(String(r.online)) as string[]);
		return known;
	}

	/** These sockets were sent the room's events through `to`. */
	advance(roomId: string, socketIds: readonly string[], to: number): void {
		if (!this.soon || !this.later) {
			for (const socketId of socketIds) this.writeCursor(socketId, roomId, to);
			return;
		}
		for (const socketId of socketIds) this.cursors.set(`${socketId}\0${roomId}`, { socketId, roomId, cursor: to });
		this.scheduleLazy();
	}

	private writeCursor(socketId: string, roomId: string, cursor: number): void {
		this.sql.exec("UPDATE gw_subs SET cursor = ? WHERE socket_id = ? AND room_id = ?", cursor, socketId, roomId);
	}

	unsubscribe(socketId: string, roomId: string): void {
		this.cursors.delete(`${socketId}\0${roomId}`);
		this.writeLazy(() => this.sql.exec("DELETE FROM gw_subs WHERE socket_id = ? AND room_id = ?", socketId, roomId));
	}

	forgetSocket(socketId: string): void {
		for (const [key, entry] of this.cursors) if (entry.socketId === socketId) this.cursors.delete(key);
		this.writeLazy(() => this.sql.exec("DELETE FROM gw_subs WHERE socket_id = ?", socketId));
	}

	inboxRow(userId: string, roomId: string): InboxRow | null {
		const key = `${userId}\0${roomId}`;
		const pending = this.rows.get(key) ?? this.stored.get(key);
		if (pending !== undefined) return pending === null ? null : { ...pending };
		const found = this.sql.exec("SELECT * FROM gw_inbox WHERE user_id = ? AND room_id = ?", userId, roomId).toArray()[0];
		const row = found ? toRow(found) : null;
		this.remember(key, row);
		return row === null ? null : { ...row };
	}

	private remember(key: string, row: InboxRow | null): void {
		if (this.stored.size >= STORED_ROWS) this.stored.clear();
		this.stored.set(key, row);
	}

	putInbox(row: InboxRow): void {
		this.rows.set(`${row.user_id}\0${row.room_id}`, { ...row });
		this.remember(`${row.user_id}\0${row.room_id}`, { ...row });
		this.write(() =>
			this.sql.exec(
				`INSERT INTO gw_inbox (user_id, room_id, last_seq, last_read_seq, unread, last_message, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(user_id, room_id) DO UPDATE SET last_seq = excluded.last_seq, last_read_seq = excluded.last_read_seq,
			unread = excluded.unread, last_message = excluded.last_message, updated_at = excluded.updated_at`,
				row.user_id,
				row.room_id,
				row.last_seq,
				row.last_read_seq,
				row.unread,
				row.last_message === null ? null : JSON.stringify(row.last_message),
				row.updated_at,
			),
		);
	}

	deleteInbox(userId: string, roomId: string): void {
		this.rows.set(`${userId}\0${roomId}`, null);
		this.remember(`${userId}\0${roomId}`, null);
		this.write(() => this.sql.exec("DELETE FROM gw_inbox WHERE user_id = ? AND room_id = ?", userId, roomId));
	}

	/**
	 * The user opened a room socket to this public room without being a member (written at once).
	 * A repeat moves the room to the newest (REPLACE gives the row a new rowid); past
	 * `MAX_VISITS_PER_USER` rooms the oldest visits are forgotten, so the list stays bounded.
	 */
	visit(userId: string, roomId: string): void {
		this.sql.exec("INSERT OR REPLACE INTO gw_visits (user_id, room_id) VALUES (?, ?)", userId, roomId);
		// No row at that offset (fewer visits): the comparison is with NULL and deletes nothing.
		this.sql.exec(
			"DELETE FROM gw_visits WHERE user_id = ? AND rowid <= (SELECT rowid FROM gw_visits WHERE user_id = ? ORDER BY rowid DESC LIMIT 1 OFFSET ?)",
			userId,
			userId,
			MAX_VISITS_PER_USER,
		);
	}

	/** The rooms were asked to close the user's sockets (a client-wide ban): the next handshake records a visit again. */
	forgetVisits(userId: string, roomIds: string[]): void {
		for (const roomId of roomIds) this.sql.exec("DELETE FROM gw_visits WHERE user_id = ? AND room_id = ?", userId, roomId);
	}

	/** Public rooms the user opened a room socket to without being a member. */
	visits(userId: string): string[] {
		return this.sql
			.exec("SELECT room_id FROM gw_visits WHERE user_id = ? ORDER BY room_id", userId)
			.toArray()
			.map((r) => String(r.room_id));
	}

	/** The room was told the user has no socket here. */
	markIdle(userId: string, roomId: string): void {
		this.write(() => this.sql.exec("INSERT INTO gw_idle (user_id, room_id) VALUES (?, ?) ON CONFLICT DO NOTHING", userId, roomId));
	}

	/** The room sends the user's state again. */
	clearIdle(userId: string, roomId: string): void {
		this.write(() => this.sql.exec("DELETE FROM gw_idle WHERE user_id = ? AND room_id = ?", userId, roomId));
	}

	/** Rooms to wake for the user (what waits is written first). */
	idleRooms(userId: string): string[] {
		if (this.writes.length > 0) this.flush();
		return this.sql
			.exec("SELECT room_id FROM gw_idle WHERE user_id = ? ORDER BY room_id", userId)
			.toArray()
			.map((r) => String(r.room_id));
	}

	/** The user's rooms, those with unread first, then by latest activity; and the total over all of them. */
	inbox(userId: string, limit: number): { rooms: InboxRow[]; unreadTotal: number } {
		// A listing reads the table: what waits is written first.
		if (this.writes.length > 0) this.flush();
		const rooms = this.sql
			.exec("SELECT * FROM gw_inbox WHERE user_id = ? ORDER BY unread > 0 DESC, updated_at DESC, room_id LIMIT ?", userId, limit)
			.toArray()
			.map(toRow);
		const total = this.sql.exec("SELECT COALESCE(SUM(unread), 0) AS n FROM gw_inbox WHERE user_id = ?", userId).toArray()[0];
		return { rooms, unreadTotal: Number(total?.n ?? 0) };
	}
}
