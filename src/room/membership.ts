import type { SyncSql } from "./message-log";

/** Who the room belongs to, learned from the Worker (which checked the directory). */
export interface RoomMeta {
	clientId: string;
	private: boolean;
}

export type Access = { ok: true } | { ok: false; code: "not_found" | "forbidden" };

const SCHEMA = [
	`CREATE TABLE IF NOT EXISTS room_meta (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		client_id TEXT NOT NULL,
		private INTEGER NOT NULL,
		members_synced INTEGER NOT NULL DEFAULT 0
	)`,
	"CREATE TABLE IF NOT EXISTS room_members (user_id TEXT PRIMARY KEY)",
	"CREATE TABLE IF NOT EXISTS read_positions (user_id TEXT PRIMARY KEY, last_read_seq INTEGER NOT NULL)",
];

/**
 * The room's own copy of its members and their read positions, next to the log so unread
 * counts are one local query and a send needs no directory lookup. The directory stays the
 * record of membership: the Worker tells the room of every change after writing it there, and a
 * room that never heard (created before this table, or a lost call) loads the list once.
 */
export class Membership {
	private cachedMeta: RoomMeta | null = null;
	private synced = false;
	private readonly members = new Set<string>();
	private version = 0;
	/** Read positions already read from storage (a push recounts members' unread often). */
	private readonly reads = new Map<string, number>();

	constructor(private readonly sql: SyncSql) {
		for (const statement of SCHEMA) sql.exec(statement);
		const row = sql.exec("SELECT client_id, private, members_synced FROM room_meta WHERE id = 1").toArray()[0];
		if (row) {
			this.cachedMeta = { clientId: String(row.client_id), private: Number(row.private) === 1 };
			this.synced = Number(row.members_synced) === 1;
		}
		for (const member of sql.exec("SELECT user_id FROM room_members").toArray()) this.members.add(String(member.user_id));
	}

	meta(): RoomMeta | null {
		return this.cachedMeta;
	}

	isSynced(): boolean {
		return this.synced;
	}

	/** Bumped on every membership change, so derived caches know when to rebuild. */
	revision(): number {
		return this.version;
	}

	setMeta(meta: RoomMeta): void {
		if (this.cachedMeta?.clientId === meta.clientId && this.cachedMeta.private === meta.private) return;
		this.sql.exec(
			"INSERT INTO room_meta (id, client_id, private) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET client_id = excluded.client_id, private = excluded.private",
			meta.clientId,
			meta.private ? 1 : 0,
		);
		this.cachedMeta = { ...meta };
	}

	/** Records that the member list is complete (loaded from the directory or given at creation). */
	markSynced(): void {
		this.sql.exec("UPDATE room_meta SET members_synced = 1 WHERE id = 1");
		this.synced = true;
	}

	/** Adds a member whose unread starts after `lastSeq`; a returning member keeps their read position. */
	add(userId: string, lastSeq: number): boolean {
		this.sql.exec("INSERT INTO read_positions (user_id, last_read_seq) VALUES (?, ?) ON CONFLICT(user_id) DO NOTHING", userId, lastSeq);
		if (this.members.has(userId)) return false;
		this.sql.exec("INSERT INTO room_members (user_id) VALUES (?) ON CONFLICT(user_id) DO NOTHING", userId);
		this.members.add(userId);
		this.version++;
		return true;
	}

	remove(userId: string): boolean {
		if (!this.members.has(userId)) return false;
		this.sql.exec("DELETE FROM room_members WHERE user_id = ?", userId);
		this.members.delete(userId);
		this.version++;
		return true;
	}

	has(userId: string): boolean {
		return this.members.has(userId);
	}

	list(): ReadonlySet<string> {
		return this.members;
	}

	/** Whether this caller may read and send here: the room's client, and a member when private. */
	access(clientId: string, userId: string): Access {
		const meta = this.cachedMeta;
		if (!meta || meta.clientId !== clientId) return { ok: false, code: "not_found" };
		if (meta.private && !this.members.has(userId)) return { ok: false, code: "forbidden" };
		return { ok: true };
	}

	lastRead(userId: string): number {
		let seq = this.reads.get(userId);
		if (seq === undefined) {
			seq = this.storedRead(userId);
			this.reads.set(userId, seq);
		}
		return seq;
	}

	private storedRead(userId: string): number {
		const row = this.sql.exec("SELECT last_read_seq FROM read_positions WHERE user_id = ?", userId).toArray()[0];
		return row ? Number(row.last_read_seq) : 0;
	}

	/** Moves the read position forward only; returns whether it moved. */
	markRead(userId: string, seq: number): boolean {
		if (seq <= this.lastRead(userId)) return false;
		this.sql.exec(
			"INSERT INTO read_positions (user_id, last_read_seq) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET last_read_seq = MAX(last_read_seq, excluded.last_read_seq)",
			userId,
			seq,
		);
		this.reads.set(userId, seq);
		return true;
	}
}
