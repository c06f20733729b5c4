import type { SyncSql } from "./message-log";

export interface PresenceDeps {
	sql: SyncSql;
	/** A user whose last socket left is still online for this long, so a reload (leave + rejoin) says nothing. */
	graceMs: number;
	now: () => number;
	/** A timer; without one, offline happens only when `expire()` is called. */
	after?: (ms: number, run: () => void) => void;
	/** Whether the user has a socket of either kind joined to the room now. */
	joinedNow: (userId: string) => boolean;
	/** Everyone with a socket joined now (read once, when the object starts or wakes). */
	joinedUsers: () => Iterable<string>;
	/** A user came online (their first socket joined) or went offline (the grace after their last socket left). */
	changed: (userId: string, online: boolean, lastActiveAt: number) => void;
}

export interface PresenceEntry {
	user_id: string;
	online: boolean;
	/** Now while online; when the last socket left otherwise; null when never seen. */
	last_active_at: number | null;
}

const SCHEMA = "CREATE TABLE IF NOT EXISTS presence (user_id TEXT PRIMARY KEY, online INTEGER NOT NULL, last_active_at INTEGER NOT NULL)";

/**
 * Who is online in a room: a user with at least one socket of either kind joined to it. Ephemeral
 * for sockets (never in the log, never replayed), but each transition is one row write, so
 * `last_active_at` survives and so does a pending offline: the in-memory set is rebuilt from the
 * sockets and gateway subscriptions when the object starts or wakes, and a user stored as online
 * who has no socket any more goes offline one grace period later. Going offline waits `graceMs`
 * after the last socket left; a rejoin within it cancels it and nobody hears of either.
 */
export class Presence {
	/** Online as announced: joined, or within the grace after leaving. Null until rebuilt. */
	private online: Set<string> | null = null;
	/** Users whose last socket left, and when. */
	private readonly leaving = new Map<string, number>();
	private timerAt = Number.POSITIVE_INFINITY;
	/** Counts changes of the online set. */
	private changes = 0;

	constructor(private readonly deps: PresenceDeps) {
		deps.sql.exec(SCHEMA);
	}

	/** Who is online now, by user id. */
	current(): string[] {
		return [...this.restored()].sort();
	}

	size(): number {
		return this.restored().size;
	}

	/** Changes whenever the online set does. */
	revision(): number {
		this.restored();
		return this.changes;
	}

	/** A socket of the user joined: online at once unless they already were (or are back within the grace). */
	joined(userId: string): void {
		const online = this.restored();
		if (this.leaving.delete(userId) || online.has(userId)) return;
		online.add(userId);
		this.changes++;
		const now = this.deps.now();
		this.store(userId, true, now);
		this.deps.changed(userId, true, now);
	}

	/** A socket of the user left or closed: offline after the grace, unless another is still joined. */
	left(userId: string): void {
		const online = this.restored();
		if (!online.has(userId) || this.leaving.has(userId) || this.deps.joinedNow(userId)) return;
		const now = this.deps.now();
		this.leaving.set(userId, now);
		this.arm(now + this.deps.graceMs);
	}

	/** Sends the offlines whose grace is over; called by the timer (tests call it with a moved clock). */
	expire(): void {
		const online = this.restored();
		const now = this.deps.now();
		this.timerAt = Number.POSITIVE_INFINITY;
		let next = Number.POSITIVE_INFINITY;
		for (const [userId, leftAt] of [...this.leaving]) {
			const due = leftAt + this.deps.graceMs;
			if (due > now) {
				next = Math.min(next, due);
				continue;
			}
			this.leaving.delete(userId);
			if (this.deps.joinedNow(userId)) continue;
			online.delete(userId);
			this.changes++;
			this.store(userId, false, leftAt);
			this.deps.changed(userId, false, leftAt);
		}
		if (Number.isFinite(next)) this.arm(next);
	}

	/** The presence of these users (REST), in the given order. */
	entries(userIds: Iterable<string>): PresenceEntry[] {
		const online = this.restored();
		const now = this.deps.now();
		const stored = new Map(
			this.deps.sql
				.exec("SELECT user_id, last_active_at FROM presence")
				.toArray()
				.map((r) => [String(r.user_id), Number(r.last_active_at)] as const),
		);
		return [...userIds].map((userId) => {
			const isOnline = online.has(userId);
			return { user_id: userId, online: isOnline, last_active_at: isOnline ? now : (stored.get(userId) ?? null) };
		});
	}

	/** Everyone ever seen in the room (REST lists them beside the members of a public room). */
	seen(): string[] {
		const ids = new Set(this.restored());
		for (const r of this.deps.sql.exec("SELECT user_id FROM presence").toArray()) ids.add(String(r.user_id));
		return [...ids];
	}

	/** Rebuilds the set once the runtime attached the sockets it kept (after a start or a wake). */
	restore(): void {
		this.restored();
	}

	private restored(): Set<string> {
		if (this.online) return this.online;
		const online = new Set(this.deps.joinedUsers());
		this.online = online;
		const now = this.deps.now();
		for (const row of this.deps.sql.exec("SELECT user_id FROM presence WHERE online = 1").toArray()) {
			const userId = String(row.user_id);
			if (online.has(userId)) continue;
			// Announced online before the object stopped, with no socket now: offline one grace from now.
			online.add(userId);
			this.leaving.set(userId, now);
		}
		if (this.leaving.size > 0) this.arm(now + this.deps.graceMs);
		return online;
	}

	private store(userId: string, online: boolean, at: number): void {
		this.deps.sql.exec(
			"INSERT INTO presence (user_id, online, last_active_at) VALUES (?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET online = excluded.online, last_active_at = excluded.last_active_at",
			userId,
			online ? 1 : 0,
			at,
		);
	}

	private arm(at: number): void {
		if (!this.deps.after || at >= this.timerAt) return;
		this.timerAt = at;
		this.deps.after(Math.max(0, at - this.deps.now()), () => {
			if (this.timerAt === at) this.expire();
		});
	}
}
