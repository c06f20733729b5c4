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
];

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

/** The gateway object's storage: subscriptions and inbox rows survive hibernation, eviction and restarts. */
export class GatewayStore {
	constructor(private readonly sql: SyncSql) {
		for (const statement of SCHEMA) sql.exec(statement);
	}

	subscriptions(): Array<{ socket_id: string; room_id: string; cursor: number }> {
		return this.sql
			.exec("SELECT socket_id, room_id, cursor FROM gw_subs")
			.toArray()
			.map((r) => ({ socket_id: String(r.socket_id), room_id: String(r.room_id), cursor: Number(r.cursor) }));
	}

	setCursor(socketId: string, roomId: string, cursor: number): void {
		this.sql.exec(
			"INSERT INTO gw_subs (socket_id, room_id, cursor) VALUES (?, ?, ?) ON CONFLICT(socket_id, room_id) DO UPDATE SET cursor = excluded.cursor",
			socketId,
			roomId,
			cursor,
		);
	}

	/** Moves every socket of the room that was at `from` to `to`. */
	advance(roomId: string, from: number, to: number): void {
		this.sql.exec("UPDATE gw_subs SET cursor = ? WHERE room_id = ? AND cursor = ?", to, roomId, from);
	}

	unsubscribe(socketId: string, roomId: string): void {
		this.sql.exec("DELETE FROM gw_subs WHERE socket_id = ? AND room_id = ?", socketId, roomId);
	}

	forgetSocket(socketId: string): void {
		this.sql.exec("DELETE FROM gw_subs WHERE socket_id = ?", socketId);
	}

	inboxRow(userId: string, roomId: string): InboxRow | null {
		const row = this.sql.exec("SELECT * FROM gw_inbox WHERE user_id = ? AND room_id = ?", userId, roomId).toArray()[0];
		return row ? toRow(row) : null;
	}

	putInbox(row: InboxRow): void {
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
		);
	}

	deleteInbox(userId: string, roomId: string): void {
		this.sql.exec("DELETE FROM gw_inbox WHERE user_id = ? AND room_id = ?", userId, roomId);
	}

	/** The user's rooms, those with unread first, then by latest activity; and the total over all of them. */
	inbox(userId: string, limit: number): { rooms: InboxRow[]; unreadTotal: number } {
		const rooms = this.sql
			.exec("SELECT * FROM gw_inbox WHERE user_id = ? ORDER BY unread > 0 DESC, updated_at DESC, room_id LIMIT ?", userId, limit)
			.toArray()
			.map(toRow);
		const total = this.sql.exec("SELECT COALESCE(SUM(unread), 0) AS n FROM gw_inbox WHERE user_id = ?", userId).toArray()[0];
		return { rooms, unreadTotal: Number(total?.n ?? 0) };
	}
}
