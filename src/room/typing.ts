export interface TypingDeps {
	/** A typer without a refresh for this long is dropped. */
	ttlMs: number;
	now: () => number;
	/** A timer; without one, expiry happens only when `expire()` is called. */
	after?: (ms: number, run: () => void) => void;
	/**
	 * The set changed: send the whole current set. `changedBy` are the users whose joining or
	 * leaving it carries (several when changes inside the room's window went out together).
	 */
	changed: (userIds: string[], changedBy: readonly string[]) => void;
}

/** At most one broadcast caused by one user per this many ms. */
const MIN_BROADCAST_GAP_MS = 1_000;
/**
 * And at most one per room per this many ms: changes of several users inside it go out together,
 * as one set, when it ends. A big room with many typers would otherwise get a broadcast to every
 * socket for each of them (500 sockets of 50 typists: 50 a second).
 */
const ROOM_BROADCAST_GAP_MS = 250;

/**
 * Who is typing in a room, never stored: `typing` frames refresh a user, who expires after
 * `ttlMs` without one (so a lost "stop" cannot leave them typing forever), and a message from
 * them ends it. Every change goes out as the whole set, never a diff; a user causes at most one
 * broadcast per second (a faster change goes out when the second is over), and a room sends at
 * most one per 250 ms (changes inside that window go out together when it ends).
 */
export class Typing {
	private readonly expiresAt = new Map<string, number>();
	private readonly lastBroadcast = new Map<string, number>();
	private readonly deferred = new Set<string>();
	private timerAt = Number.POSITIVE_INFINITY;
	private roomBroadcastAt = Number.NEGATIVE_INFINITY;
	/** The users whose changes wait for the room's window to end (every one of them, for `changedBy`). */
	private readonly roomDeferred = new Set<string>();

	constructor(private readonly deps: TypingDeps) {}

	current(): string[] {
		return [...this.expiresAt.keys()].sort();
	}

	touch(userId: string): void {
		const now = this.deps.now();
		const isNew = !this.expiresAt.has(userId);
		this.expiresAt.set(userId, now + this.deps.ttlMs);
		this.arm(now + this.deps.ttlMs);
		if (isNew) this.announce(userId, now);
	}

	stop(userId: string): void {
		if (!this.expiresAt.delete(userId)) return;
		this.announce(userId, this.deps.now());
	}

	/** Drops typers whose time is up; called by the timer (tests call it with a moved clock). */
	expire(): void {
		const now = this.deps.now();
		this.timerAt = Number.POSITIVE_INFINITY;
		for (const [userId, at] of [...this.expiresAt]) {
			if (at > now) continue;
			this.expiresAt.delete(userId);
			this.announce(userId, now);
		}
		const next = Math.min(...this.expiresAt.values());
		if (Number.isFinite(next)) this.arm(next);
	}

	private announce(userId: string, now: number): void {
		const last = this.lastBroadcast.get(userId) ?? Number.NEGATIVE_INFINITY;
		if (now - last < MIN_BROADCAST_GAP_MS) {
			if (!this.deferred.has(userId) && this.deps.after) {
				this.deferred.add(userId);
				this.deps.after(last + MIN_BROADCAST_GAP_MS - now, () => {
					this.deferred.delete(userId);
					this.announce(userId, this.deps.now());
				});
			}
			return;
		}
		this.lastBroadcast.set(userId, now);
		if (this.lastBroadcast.size > 10_000) this.lastBroadcast.clear();
		if (now - this.roomBroadcastAt < ROOM_BROADCAST_GAP_MS && this.deps.after) {
			const scheduled = this.roomDeferred.size > 0;
			this.roomDeferred.add(userId);
			if (!scheduled) {
				this.deps.after(this.roomBroadcastAt + ROOM_BROADCAST_GAP_MS - now, () => {
					const by = [...this.roomDeferred].sort();
					this.roomDeferred.clear();
					this.roomBroadcastAt = this.deps.now();
					this.deps.changed(this.current(), by);
				});
			}
			return;
		}
		this.roomBroadcastAt = now;
		this.deps.changed(this.current(), [userId]);
	}

	private arm(at: number): void {
		if (!this.deps.after || at >= this.timerAt) return;
		this.timerAt = at;
		this.deps.after(Math.max(0, at - this.deps.now()), () => {
			if (this.timerAt === at) this.expire();
		});
	}
}
