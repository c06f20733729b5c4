import type { RestrictionKind, Role } from "../storage/schema";
import type { SyncSql } from "./message-log";

/** Where one user stands in the room, as the directory has it (the room's copy is built from these). */
export interface UserStanding {
	userId: string;
	/** null: not a member. */
	role: Role | null;
	/** Expiry of the ban or mute in ms, null for one without end; undefined when there is none. */
	ban?: number | null;
	mute?: number | null;
}

/** Why the room refuses a user's send: `retryAfterMs` says how long slow mode still makes them wait. */
export type SendRefusal = { code: "banned" | "muted" } | { code: "rate_limited"; retryAfterMs: number };

const SCHEMA = [
	"CREATE TABLE IF NOT EXISTS mod_roles (user_id TEXT PRIMARY KEY, role TEXT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS mod_restrictions (user_id TEXT NOT NULL, kind TEXT NOT NULL, expires_at INTEGER, PRIMARY KEY (user_id, kind))",
	"CREATE TABLE IF NOT EXISTS mod_settings (id INTEGER PRIMARY KEY CHECK (id = 1), cooldown_seconds INTEGER NOT NULL, synced INTEGER NOT NULL)",
];

/**
 * The room's copy of its moderation state, runtime-free: roles other than `member`, bans and mutes
 * with their expiry, and slow mode. The directory is the record; the Worker tells the room of every
 * change after writing it there, and a room that never heard loads it once (RoomService). Kept in
 * memory as well, since every send consults it; an expiry is checked against the clock when read,
 * so a ban or mute ends on time with nothing to wake up for it.
 */
export class RoomModeration {
	private readonly roles = new Map<string, Role>();
	private readonly restrictions: Record<RestrictionKind, Map<string, number | null>> = { ban: new Map(), mute: new Map() };
	private cooldownSeconds = 0;
	private synced = false;

	constructor(
		private readonly sql: SyncSql,
		private readonly now: () => number,
	) {
		for (const statement of SCHEMA) sql.exec(statement);
		for (const row of sql.exec("SELECT user_id, role FROM mod_roles").toArray()) this.roles.set(String(row.user_id), row.role as Role);
		for (const row of sql.exec("SELECT user_id, kind, expires_at FROM mod_restrictions").toArray()) {
			this.restrictions[row.kind as RestrictionKind].set(String(row.user_id), row.expires_at === null ? null : Number(row.expires_at));
		}
		const settings = sql.exec("SELECT cooldown_seconds, synced FROM mod_settings WHERE id = 1").toArray()[0];
		if (settings) {
			this.cooldownSeconds = Number(settings.cooldown_seconds);
			this.synced = Number(settings.synced) === 1;
		}
	}

	isSynced(): boolean {
		return this.synced;
	}

	/** The whole state, from the directory (a room that never heard of it, or at creation). */
	initialize(standings: UserStanding[], cooldownSeconds: number): void {
		this.sql.exec("DELETE FROM mod_roles");
		this.sql.exec("DELETE FROM mod_restrictions");
		this.roles.clear();
		this.restrictions.ban.clear();
		this.restrictions.mute.clear();
		for (const standing of standings) this.apply(standing);
		this.setCooldown(cooldownSeconds);
		this.sql.exec("UPDATE mod_settings SET synced = 1 WHERE id = 1");
		this.synced = true;
	}

	/** One user's latest standing. */
	apply(standing: UserStanding): void {
		const { userId, role } = standing;
		if (role === null || role === "member") {
			this.sql.exec("DELETE FROM mod_roles WHERE user_id = ?", userId);
			this.roles.delete(userId);
		} else {
			this.sql.exec(
				"INSERT INTO mod_roles (user_id, role) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET role = excluded.role",
				userId,
				role,
			);
			this.roles.set(userId, role);
		}
		for (const kind of ["ban", "mute"] as const) {
			const expiresAt = standing[kind];
			if (expiresAt === undefined) {
				this.sql.exec("DELETE FROM mod_restrictions WHERE user_id = ? AND kind = ?", userId, kind);
				this.restrictions[kind].delete(userId);
			} else {
				this.sql.exec(
					"INSERT INTO mod_restrictions (user_id, kind, expires_at) VALUES (?, ?, ?) ON CONFLICT(user_id, kind) DO UPDATE SET expires_at = excluded.expires_at",
					userId,
					kind,
					expiresAt,
				);
				this.restrictions[kind].set(userId, expiresAt);
			}
		}
	}

	setCooldown(seconds: number): void {
		this.sql.exec(
			"INSERT INTO mod_settings (id, cooldown_seconds, synced) VALUES (1, ?, 0) ON CONFLICT(id) DO UPDATE SET cooldown_seconds = excluded.cooldown_seconds",
			seconds,
		);
		this.cooldownSeconds = seconds;
	}

	/** Owners and moderators: they delete others' messages and are exempt from slow mode (as is the backend). */
	moderates(userId: string): boolean {
		return this.roles.has(userId);
	}

	banned(userId: string): boolean {
		return this.inForce("ban", userId);
	}

	/**
	 * Whether the user may send now; `lastSentAt` is read (from the log) only when slow mode applies.
	 * `byBackend`: the client's backend sends on the user's behalf, which slow mode exempts (bans and mutes still hold).
	 */
	sendRefusal(userId: string, lastSentAt: (userId: string) => number | null, byBackend = false): SendRefusal | undefined {
		if (this.inForce("ban", userId)) return { code: "banned" };
		if (this.inForce("mute", userId)) return { code: "muted" };
		if (this.cooldownSeconds === 0 || byBackend || this.moderates(userId)) return undefined;
		const last = lastSentAt(userId);
		if (last === null) return undefined;
		const wait = last + this.cooldownSeconds * 1000 - this.now();
		return wait > 0 ? { code: "rate_limited", retryAfterMs: wait } : undefined;
	}

	private inForce(kind: RestrictionKind, userId: string): boolean {
		const expiresAt = this.restrictions[kind].get(userId);
		if (expiresAt === undefined) return false;
		return expiresAt === null || expiresAt > this.now();
	}
}
