import type { DeliverReply, InboxEntry, PushedEvent, RoomPush } from "../gateway/push";
import { encodeEvent } from "../protocol/codec";
import type { Membership } from "./membership";
import type { MessageLog, RoomEvent, SyncSql } from "./message-log";

export interface FeedDeps {
	sql: SyncSql;
	log: MessageLog;
	membership: Membership;
	roomId: string;
	/** The gateway object holding a user's sockets (src/gateway/shard.ts). */
	gatewayOf: (clientId: string, userId: string) => string;
	/** One call to one gateway; rejects when the call failed (it is then retried). */
	push: (gateway: string, push: RoomPush) => Promise<DeliverReply | undefined>;
	/** An ephemeral signal to one gateway (typing): not stored, not retried. */
	signal?: (gateway: string, event: string, data: { room_id: string } & Record<string, unknown>) => Promise<unknown>;
	now: () => number;
	/** Runs `flush` soon (after the current event: the storage write commits first). */
	soon: (flush: () => void) => void;
	/** Asks the runtime to call `retryDue()` at this time (an alarm that survives restarts). */
	wakeAt: (at: number) => void;
	/** Events a push carries at most; a gateway missing more reads them from the room. */
	maxMessages?: number;
	/** Runs `run` in `ms` (a later flush); defaults to `soon`. */
	after?: (ms: number, run: () => void) => void;
	/**
	 * A gateway with no socket joined to the room (it holds members' room lists only) is pushed to
	 * at most this often: `inbox_update` and `read` are debounced, the last state always sent.
	 * Gateways with joined sockets are pushed to at once. Default 1000 ms.
	 */
	inboxDebounceMs?: number;
	/**
	 * Who is online in the room, for the gateways' `ready` (null: the room is above the presence
	 * cap), and a key that changes whenever that does: a push carries the set only to a gateway
	 * that has not had this version yet (presence signals carry it at once; pushes repair a lost one).
	 */
	online?: { ids: () => string[] | null; version: () => string };
}

const SCHEMA = [
	"CREATE TABLE IF NOT EXISTS feed_subscribers (gateway TEXT PRIMARY KEY)",
	// Whose user sockets on each subscribed gateway joined the room (presence: online in the room).
	"CREATE TABLE IF NOT EXISTS feed_subscriber_users (gateway TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (gateway, user_id))",
	// One row per gateway that is owed news: from which seq, and when to try again after a failure.
	`CREATE TABLE IF NOT EXISTS feed_pending (
		gateway TEXT PRIMARY KEY,
		from_seq INTEGER NOT NULL,
		attempts INTEGER NOT NULL DEFAULT 0,
		next_at INTEGER NOT NULL DEFAULT 0
	)`,
	// Members who left since the gateway's last push: `revoke` 1 for a private room (access ends), 0 for a public one.
	"CREATE TABLE IF NOT EXISTS feed_removed (gateway TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (gateway, user_id))",
	// Members whose own state (read position, membership) changed: a push for those alone recounts only them.
	"CREATE TABLE IF NOT EXISTS feed_pending_users (gateway TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (gateway, user_id))",
];
const ADDED = [
	["feed_removed", "revoke", "INTEGER NOT NULL DEFAULT 1"],
	// 1 when events were stored since the last push: every member's count may have changed.
	["feed_pending", "all_members", "INTEGER NOT NULL DEFAULT 1"],
] as const;

interface PendingRow {
	from: number;
	all: boolean;
	attempts: number;
	nextAt: number;
}

/** When nothing else wakes the room, pushes owed are tried again this long after they were written. */
const WATCHDOG_MS = 10_000;

/** Retry delay after `attempts` failures: 0.5 s doubling to 60 s, with up to 20% jitter. Forever. */
export const retryDelay = (attempts: number, random = Math.random) =>
	Math.round(Math.min(60_000, 500 * 2 ** Math.min(attempts - 1, 10)) * (1 + 0.2 * random()));

/**
 * Room -> gateway fan-out, runtime-free. The room's log is the source of truth; this keeps,
 * in the room's own storage and in the same write as the change, which gateways are owed news
 * from which seq (`feed_pending`). A flush makes at most one call per owed gateway, whatever
 * the number of sockets or messages, and a gateway's row is cleared only when its call
 * succeeded, so a lost call is retried (alarm-driven, with backoff) until it lands, across
 * restarts. Each push carries absolute state (seq range, read positions, unread recounted from
 * the log), so repeats and reorders are harmless: the gateway keeps the newest.
 */
export class GatewayFeed {
	private readonly inFlight = new Set<string>();
	/** Gateways whose state changed while a call to them was in flight: they get another push. */
	private readonly again = new Set<string>();
	/**
	 * Gateways whose push landed, with what it carried: their rows are deleted with the next write
	 * the room makes anyway (or by the alarm), not in a commit of their own. Should the object go
	 * before that, the rows are pushed again: harmless, since every push carries absolute state.
	 */
	private readonly settled = new Map<string, { removed: string[] }>();
	/** When each gateway was last sent room-list state (memory only: if lost, the next one just comes sooner). */
	private readonly inboxAt = new Map<string, number>();
	/**
	 * Events each gateway has been given, by seq. Kept in memory and written with the room's next
	 * write: after a restart the gateway may be given some again (it skips what it has).
	 */
	private readonly eventsThrough = new Map<string, number>();
	/** The version of the online set each gateway last received in a push (memory only: if lost, the next push carries it again). */
	private readonly onlineLanded = new Map<string, string>();
	private laterAt = Number.POSITIVE_INFINITY;
	private scheduled = false;
	private byGateway: Map<string, string[]> | null = null;
	private byGatewayRevision = -1;
	private subscribers: Set<string>;
	/** user -> gateways where the user has a socket joined to the room (feed_subscriber_users). */
	private readonly joinedVia = new Map<string, Set<string>>();
	/** gateway -> its users joined to the room (the same rows, the other way round). */
	private readonly usersOn = new Map<string, Set<string>>();
	private readonly maxMessages: number;
	private readonly counters = { pushes: 0, failures: 0 };
	private readonly encoded = new WeakMap<RoomEvent[], PushedEvent[]>();
	/**
	 * The three tables, mirrored in memory (loaded once, then kept in step with every write), so a
	 * stored event costs a write only when it changes what a gateway is owed, and a flush reads no
	 * table: in a steady room most events find their gateways already owed.
	 */
	private readonly pending = new Map<string, PendingRow>();
	private readonly removedOf = new Map<string, Map<string, boolean>>();
	private readonly pendingUsers = new Map<string, Set<string>>();
	/**
	 * Members each gateway said have no socket there (always members; memory only: after a restart
	 * the next push asks again). A gateway holding only such members, and no joined socket, is not
	 * pushed to: what it would be told is derived again from the log when it calls `wake`.
	 */
	private readonly idle = new Map<string, Set<string>>();
	/** The token of each user's last wake (`gateway\0user`): an idle answer older than it is stale. */
	private readonly wokenAt = new Map<string, number>();

	constructor(private readonly deps: FeedDeps) {
		for (const statement of SCHEMA) deps.sql.exec(statement);
		for (const [table, name, definition] of ADDED) {
			const columns = deps.sql
				.exec(`PRAGMA table_info(${table})`)
				.toArray()
				.map((c) => String(c.name));
			if (!columns.includes(name)) deps.sql.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${definition}`);
		}
		this.maxMessages = deps.maxMessages ?? 100;
		this.subscribers = new Set(
			deps.sql
				.exec("SELECT gateway FROM feed_subscribers")
				.toArray()
				.map((r) => String(r.gateway)),
		);
		for (const r of deps.sql.exec("SELECT gateway, from_seq, attempts, next_at, all_members FROM feed_pending").toArray()) {
			this.pending.set(String(r.gateway), {
				from: Number(r.from_seq),
				all: Number(r.all_members) === 1,
				attempts: Number(r.attempts),
				nextAt: Number(r.next_at),
			});
		}
		for (const r of deps.sql.exec("SELECT gateway, user_id, revoke FROM feed_removed").toArray()) {
			this.removedMap(String(r.gateway)).set(String(r.user_id), Number(r.revoke) === 1);
		}
		for (const r of deps.sql.exec("SELECT gateway, user_id FROM feed_pending_users").toArray()) {
			this.usersSet(String(r.gateway)).add(String(r.user_id));
		}
		for (const r of deps.sql.exec("SELECT gateway, user_id FROM feed_subscriber_users").toArray()) {
			this.addJoined(String(r.user_id), String(r.gateway));
		}
		// Owed from before a restart: try again now.
		if (this.pending.size > 0) this.schedule();
	}

	/** An event was stored: every member's gateway and every subscribed gateway is owed it. */
	appended(seq: number): void {
		for (const gateway of this.subscribers) this.owe(gateway, seq, true);
		for (const [gateway, members] of this.memberGateways()) {
			if (!this.subscribers.has(gateway) && !this.allIdle(gateway, members)) this.owe(gateway, seq, true);
		}
	}

	/**
	 * A member's socket is back on `gateway`: their room-list state flows again, and this is it now
	 * (their unread recounted from the log; a removal if they are no longer a member).
	 */
	wake(gateway: string, userId: string, token: number, isPrivate: boolean): RoomPush {
		const { log, membership, roomId } = this.deps;
		this.wokenAt.set(`${gateway}\0${userId}`, token);
		this.idle.get(gateway)?.delete(userId);
		const member = membership.has(userId);
		const inbox = member ? [this.entry(userId)] : [];
		return {
			room_id: roomId,
			last_seq: log.lastSeq(),
			events: [],
			latest: member ? log.latest() : null,
			inbox,
			removed: !member && isPrivate ? [userId] : [],
			left: !member && !isPrivate ? [userId] : [],
		};
	}

	/** A member's read position or membership changed: their gateway is owed their new state. */
	memberChanged(userId: string): void {
		const gateway = this.gatewayOfMember(userId);
		if (!gateway) return;
		// Idle there: their wake derives their state afresh.
		if (this.idle.get(gateway)?.has(userId)) return;
		this.forgetSettled(gateway);
		// A member added again is no longer owed a removal that had not landed yet.
		const removed = this.removedOf.get(gateway);
		if (removed?.delete(userId)) {
			this.deps.sql.exec("DELETE FROM feed_removed WHERE gateway = ? AND user_id = ?", gateway, userId);
			if (removed.size === 0) this.removedOf.delete(gateway);
		}
		const users = this.usersSet(gateway);
		if (!users.has(userId)) {
			this.deps.sql.exec("INSERT INTO feed_pending_users (gateway, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING", gateway, userId);
			users.add(userId);
		}
		this.owe(gateway, this.deps.log.lastSeq() + 1, false);
	}

	/** A member left: their gateway drops the room from their list, and in a private room ends their access. */
	memberRemoved(userId: string, revoke: boolean): void {
		const gateway = this.gatewayOfMember(userId);
		if (!gateway) return;
		this.idle.get(gateway)?.delete(userId);
		this.forgetSettled(gateway);
		this.deps.sql.exec(
			"INSERT INTO feed_removed (gateway, user_id, revoke) VALUES (?, ?, ?) ON CONFLICT(gateway, user_id) DO UPDATE SET revoke = excluded.revoke",
			gateway,
			userId,
			revoke ? 1 : 0,
		);
		this.removedMap(gateway).set(userId, revoke);
		this.owe(gateway, this.deps.log.lastSeq() + 1, false);
	}

	/**
	 * Typing and the like: to the gateways with sockets that joined the room, now or never;
	 * `toMembers` also to every member's gateway (presence, which they keep for `ready`).
	 */
	signal(event: string, data: { room_id: string } & Record<string, unknown>, toMembers = false): void {
		const send = this.deps.signal;
		if (!send) return;
		const targets = new Set(this.subscribers);
		if (toMembers) for (const gateway of this.memberGateways().keys()) targets.add(gateway);
		for (const gateway of targets) send(gateway, event, data).catch(() => undefined);
	}

	/** A socket of `userId` on `gateway` joined the room (a user id lets presence count it). */
	subscribe(gateway: string, userId?: string): void {
		if (userId !== undefined && !this.joinedVia.get(userId)?.has(gateway)) {
			this.deps.sql.exec("INSERT INTO feed_subscriber_users (gateway, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING", gateway, userId);
			this.addJoined(userId, gateway);
		}
		if (this.subscribers.has(gateway)) return;
		this.deps.sql.exec("INSERT INTO feed_subscribers (gateway) VALUES (?) ON CONFLICT DO NOTHING", gateway);
		this.subscribers.add(gateway);
	}

	/**
	 * `userId` has no socket joined to the room on `gateway` any more (without one: none has); the
	 * gateway stays subscribed while others of its users are joined. Returns the users it counted.
	 */
	unsubscribe(gateway: string, userId?: string): string[] {
		const here = this.usersOn.get(gateway);
		const gone = [...(here ?? [])].filter((user) => userId === undefined || user === userId);
		for (const user of gone) {
			here?.delete(user);
			const via = this.joinedVia.get(user);
			via?.delete(gateway);
			if (via?.size === 0) this.joinedVia.delete(user);
		}
		if (here?.size === 0) this.usersOn.delete(gateway);
		if (userId === undefined) this.deps.sql.exec("DELETE FROM feed_subscriber_users WHERE gateway = ?", gateway);
		else if (gone.length > 0) this.deps.sql.exec("DELETE FROM feed_subscriber_users WHERE gateway = ? AND user_id = ?", gateway, userId);
		if (!this.usersOn.has(gateway) && this.subscribers.delete(gateway)) {
			this.deps.sql.exec("DELETE FROM feed_subscribers WHERE gateway = ?", gateway);
		}
		return gone;
	}

	/** Users with a user socket joined to the room, through any gateway (presence). */
	readonly joins = {
		has: (userId: string) => (this.joinedVia.get(userId)?.size ?? 0) > 0,
		users: () => this.joinedVia.keys(),
	};

	private addJoined(userId: string, gateway: string): void {
		let via = this.joinedVia.get(userId);
		if (!via) {
			via = new Set();
			this.joinedVia.set(userId, via);
		}
		via.add(gateway);
		let users = this.usersOn.get(gateway);
		if (!users) {
			users = new Set();
			this.usersOn.set(gateway, users);
		}
		users.add(userId);
	}

	/** Gateways owed news and since when (tests and the alarm read this). */
	pendingRows(): Array<{ gateway: string; from_seq: number; attempts: number; next_at: number; all_members: boolean }> {
		return [...this.pending.entries()]
			.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
			.map(([gateway, r]) => ({ gateway, from_seq: r.from, attempts: r.attempts, next_at: r.nextAt, all_members: r.all }));
	}

	/** Gateways still owed something (what landed and is only waiting to be forgotten aside). */
	owed(): Array<{ gateway: string; from_seq: number; attempts: number; next_at: number; all_members: boolean }> {
		return this.pendingRows().filter((row) => !this.settled.has(row.gateway));
	}

	/** When the alarm should next look: the earliest retry, or soon for owed pushes not in flight; null when nothing is owed. */
	nextRetryAt(): number | null {
		let at: number | null = null;
		for (const row of this.pendingRows()) {
			if (this.inFlight.has(row.gateway)) continue;
			// Landed, to be forgotten: the alarm does that when nothing else writes first.
			const due = row.attempts > 0 && !this.settled.has(row.gateway) ? row.next_at : this.deps.now() + WATCHDOG_MS;
			at = at === null ? due : Math.min(at, due);
		}
		return at;
	}

	/** Called by the alarm: forgets what landed, then pushes whatever is due. */
	retryDue(): void {
		for (const gateway of [...this.settled.keys()]) this.forgetSettled(gateway);
		this.flush();
	}

	stats() {
		return { ...this.counters, subscribers: this.subscribers.size, inFlight: this.inFlight.size };
	}

	/**
	 * What one gateway is told: built from the log at the moment of sending; `allMembers` false
	 * recounts only the members whose state changed. `fromSeq` is the first seq the gateway may lack
	 * (below it, every event was owed to it and its push answered, or was stored before its sockets
	 * joined), which the push names as `settled_through`.
	 */
	build(gateway: string, fromSeq: number, allMembers = true, withInbox = true): RoomPush {
		const { log, membership } = this.deps;
		const last = log.lastSeq();
		// What is owed, at most maxMessages events (the gateway reads any older gap itself).
		const afterSeq = Math.max(fromSeq - 1, last - this.maxMessages);
		// Events serve sockets that joined the room; a gateway without any holds room lists only
		// (should a join be on its way, the gateway reads what it lacks from the room).
		const events = afterSeq >= last || !this.subscribers.has(gateway) ? [] : this.framesOf(log.events(afterSeq, this.maxMessages));
		const idle = this.idle.get(gateway);
		const here = withInbox ? (this.memberGateways().get(gateway) ?? []).filter((userId) => !idle?.has(userId)) : [];
		const changed = !withInbox
			? []
			: allMembers
				? here
				: [...(this.pendingUsers.get(gateway) ?? [])].filter((userId) => membership.has(userId) && !idle?.has(userId)).sort();
		const inbox: InboxEntry[] = changed.map((userId) => this.entry(userId));
		const gone = withInbox
			? [...(this.removedOf.get(gateway) ?? new Map<string, boolean>()).entries()].sort(([a], [b]) => (a < b ? -1 : 1))
			: [];
		const removed = gone.filter(([, revoke]) => revoke).map(([userId]) => userId);
		const left = gone.filter(([, revoke]) => !revoke).map(([userId]) => userId);
		const latest = inbox.length > 0 ? log.latest() : null;
		return { room_id: this.deps.roomId, last_seq: last, events, latest, inbox, removed, left, settled_through: fromSeq - 1 };
	}

	/** The events as frames, encoded once per list the log hands out (it hands every gateway of a flush the same one). */
	private framesOf(events: RoomEvent[]): PushedEvent[] {
		let frames = this.encoded.get(events);
		if (!frames) {
			frames = events.map((event) => ({ seq: event.seq, frame: encodeEvent(event.event, event.data) }));
			this.encoded.set(events, frames);
		}
		return frames;
	}

	private entry(userId: string): InboxEntry {
		const lastRead = this.deps.membership.lastRead(userId);
		return { user_id: userId, last_read_seq: lastRead, unread: this.deps.log.countUnread(lastRead, userId) };
	}

	/** No joined socket, no removal to tell, and every member there idle. */
	private idleOnly(gateway: string): boolean {
		if (this.subscribers.has(gateway) || this.removedOf.has(gateway)) return false;
		const members = this.memberGateways().get(gateway);
		return members !== undefined && this.allIdle(gateway, members);
	}

	/** Whether every member on `gateway` has no socket there (it said so, and none woke since). */
	private allIdle(gateway: string, members: string[]): boolean {
		const idle = this.idle.get(gateway);
		return idle !== undefined && idle.size >= members.length && members.every((userId) => idle.has(userId));
	}

	private owe(gateway: string, fromSeq: number, allMembers: boolean): void {
		// In the same write as the change: what landed before it is forgotten now.
		const forgot = this.forgetSettled(gateway, false);
		const row = this.pending.get(gateway);
		// A stored `from_seq` only bounds what is owed from below: one lower than needed costs at
		// most a repeat after a restart (the gateway skips what it has; a flush starts after what it
		// was given), so it is not rewritten for every event a joined gateway was already given.
		const from = row === undefined ? fromSeq : Math.min(row.from, fromSeq);
		const all = (row?.all ?? false) || allMembers;
		if (forgot || !row || row.from !== from || row.all !== all) {
			this.deps.sql.exec(
				`INSERT INTO feed_pending (gateway, from_seq, all_members) VALUES (?, ?, ?) ON CONFLICT(gateway) DO UPDATE SET
				from_seq = excluded.from_seq, all_members = excluded.all_members${forgot ? ", attempts = 0, next_at = 0" : ""}`,
				gateway,
				from,
				all ? 1 : 0,
			);
			this.pending.set(gateway, { from, all, attempts: forgot || !row ? 0 : row.attempts, nextAt: forgot || !row ? 0 : row.nextAt });
		}
		if (this.inFlight.has(gateway)) this.again.add(gateway);
		this.schedule();
	}

	private schedule(): void {
		if (this.scheduled) return;
		this.scheduled = true;
		// Should the object go away before this flush or its call ends (a deploy, a crash), the alarm
		// brings it back to try again: what is owed is in storage.
		this.deps.wakeAt(this.deps.now() + WATCHDOG_MS);
		this.deps.soon(() => this.flush());
	}

	/** One call per owed gateway that is due and not already being called. */
	/**
	 * One call per owed gateway that is due and not already being called. Events go at once to a
	 * gateway with sockets joined to the room; room-list state (inbox entries, removals) goes at
	 * most once per `inboxDebounceMs`, with events or on its own, the latest state always.
	 */
	flush(): void {
		this.scheduled = false;
		const now = this.deps.now();
		const debounce = this.deps.inboxDebounceMs ?? 1_000;
		const last = this.deps.log.lastSeq();
		for (const [gateway, row] of this.pending) {
			if (this.inFlight.has(gateway) || this.settled.has(gateway) || row.nextAt > now) continue;
			if (this.idleOnly(gateway)) {
				// Nothing to tell it: its members' wakes derive their state from the log.
				this.settled.set(gateway, { removed: [] });
				this.forgetSettled(gateway);
				continue;
			}
			const from = Math.max(row.from, (this.eventsThrough.get(gateway) ?? 0) + 1);
			const inboxDueAt = (this.inboxAt.get(gateway) ?? Number.NEGATIVE_INFINITY) + debounce;
			const inboxDue = inboxDueAt <= now || this.removedOf.has(gateway);
			if (this.subscribers.has(gateway) && from <= last) this.send(gateway, from, row.all, inboxDue);
			else if (inboxDue) this.send(gateway, from, row.all, true);
			else this.flushAt(inboxDueAt);
		}
	}

	/** A flush at `at` (for debounced gateways), unless one is already due sooner. */
	private flushAt(at: number): void {
		if (at >= this.laterAt) return;
		this.laterAt = at;
		const run = () => {
			if (this.laterAt !== at) return;
			this.laterAt = Number.POSITIVE_INFINITY;
			this.flush();
		};
		const wait = Math.max(0, at - this.deps.now());
		if (this.deps.after) this.deps.after(wait, run);
		else this.deps.soon(run);
	}

	private send(gateway: string, fromSeq: number, allMembers: boolean, withInbox: boolean): void {
		if (withInbox) this.inboxAt.set(gateway, this.deps.now());
		const push = this.build(gateway, fromSeq, allMembers, withInbox);
		const online = this.deps.online;
		const version = online?.version();
		if (online && version !== this.onlineLanded.get(gateway)) push.online = online.ids();
		this.inFlight.add(gateway);
		this.again.delete(gateway);
		this.counters.pushes++;
		this.deps.push(gateway, push).then(
			(reply) => {
				if (version !== undefined) this.onlineLanded.set(gateway, version);
				if (reply) this.markIdle(gateway, reply);
				this.delivered(gateway, push, withInbox);
			},
			() => this.failed(gateway),
		);
	}

	private markIdle(gateway: string, reply: DeliverReply): void {
		for (const userId of reply.idle) {
			if (!this.deps.membership.has(userId)) continue;
			if ((this.wokenAt.get(`${gateway}\0${userId}`) ?? Number.NEGATIVE_INFINITY) > reply.token) continue;
			let set = this.idle.get(gateway);
			if (!set) {
				set = new Set();
				this.idle.set(gateway, set);
			}
			set.add(userId);
		}
	}

	/** Nothing is written here (a commit per call would cost an fsync each): what landed is kept in memory until the room writes anyway. */
	private delivered(gateway: string, push: RoomPush, withInbox: boolean): void {
		this.inFlight.delete(gateway);
		this.eventsThrough.set(gateway, Math.max(this.eventsThrough.get(gateway) ?? 0, push.last_seq));
		const changedMeanwhile = this.again.delete(gateway);
		if (withInbox && !changedMeanwhile) {
			this.settled.set(gateway, { removed: [...push.removed, ...push.left] });
			return;
		}
		// Still owed: what changed meanwhile, or the room-list state that waits for its turn.
		if (changedMeanwhile) this.schedule();
		else this.flushAt((this.inboxAt.get(gateway) ?? 0) + (this.deps.inboxDebounceMs ?? 1_000));
	}

	/**
	 * Forgets what landed at `gateway`; returns whether there was anything. `dropRow` false leaves
	 * its `feed_pending` row to the caller, which rewrites it at once (one statement, not two).
	 */
	private forgetSettled(gateway: string, dropRow = true): boolean {
		const settled = this.settled.get(gateway);
		if (!settled) return false;
		this.settled.delete(gateway);
		const { sql } = this.deps;
		if (dropRow) sql.exec("DELETE FROM feed_pending WHERE gateway = ?", gateway);
		this.pending.delete(gateway);
		if (this.pendingUsers.delete(gateway)) sql.exec("DELETE FROM feed_pending_users WHERE gateway = ?", gateway);
		const removed = this.removedOf.get(gateway);
		for (const userId of settled.removed) {
			if (!removed?.delete(userId)) continue;
			sql.exec("DELETE FROM feed_removed WHERE gateway = ? AND user_id = ?", gateway, userId);
		}
		if (removed?.size === 0) this.removedOf.delete(gateway);
		return true;
	}

	private removedMap(gateway: string): Map<string, boolean> {
		let map = this.removedOf.get(gateway);
		if (!map) {
			map = new Map();
			this.removedOf.set(gateway, map);
		}
		return map;
	}

	private usersSet(gateway: string): Set<string> {
		let set = this.pendingUsers.get(gateway);
		if (!set) {
			set = new Set();
			this.pendingUsers.set(gateway, set);
		}
		return set;
	}

	private failed(gateway: string): void {
		this.inFlight.delete(gateway);
		this.again.delete(gateway);
		this.counters.failures++;
		const row = this.pending.get(gateway);
		const attempts = (row?.attempts ?? 0) + 1;
		const at = this.deps.now() + retryDelay(attempts);
		this.deps.sql.exec("UPDATE feed_pending SET attempts = ?, next_at = ? WHERE gateway = ?", attempts, at, gateway);
		if (row) {
			row.attempts = attempts;
			row.nextAt = at;
		}
		this.deps.wakeAt(at);
	}

	private gatewayOfMember(userId: string): string | undefined {
		const meta = this.deps.membership.meta();
		return meta ? this.deps.gatewayOf(meta.clientId, userId) : undefined;
	}

	/** Members grouped by their gateway, rebuilt only when membership changes. */
	private memberGateways(): Map<string, string[]> {
		const { membership } = this.deps;
		if (this.byGateway && this.byGatewayRevision === membership.revision()) return this.byGateway;
		const grouped = new Map<string, string[]>();
		const meta = membership.meta();
		if (meta) {
			for (const userId of membership.list()) {
				const gateway = this.deps.gatewayOf(meta.clientId, userId);
				const list = grouped.get(gateway);
				if (list) list.push(userId);
				else grouped.set(gateway, [userId]);
			}
		}
		this.byGateway = grouped;
		this.byGatewayRevision = membership.revision();
		return grouped;
	}
}
