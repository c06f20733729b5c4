import type { MessageT } from "../schemas/message";

/** The subset of a Durable Object's `SqlStorage` the log needs; any synchronous SQLite can provide it. */
export interface SyncSql {
	exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] };
}

export interface NewMessage {
	id: string;
	room_id: string;
	user_id: string;
	text_message: string;
	created_at: string;
	client_msg_id?: string;
}

export interface HistoryRange {
	afterSeq?: number;
	beforeSeq?: number;
	limit: number;
}

const SCHEMA = [
	`CREATE TABLE IF NOT EXISTS messages (
		seq INTEGER PRIMARY KEY,
		id TEXT NOT NULL,
		room_id TEXT NOT NULL,
		user_id TEXT NOT NULL,
		text_message TEXT NOT NULL,
		created_at TEXT NOT NULL,
		client_msg_id TEXT
	)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotency ON messages (user_id, client_msg_id) WHERE client_msg_id IS NOT NULL`,
	// Unread counts subtract the reader's own messages after their read position: a range of this index.
	"CREATE INDEX IF NOT EXISTS messages_author ON messages (user_id, seq)",
];

const toMessage = (row: Record<string, unknown>): MessageT => {
	const message: MessageT = {
		id: row.id as string,
		room_id: row.room_id as string,
		seq: row.seq as number,
		user_id: row.user_id as string,
		text_message: row.text_message as string,
		created_at: row.created_at as string,
	};
	if (row.client_msg_id !== null) message.client_msg_id = row.client_msg_id as string;
	return message;
};

/**
 * A room's messages in SQLite. It is the single writer of the room, so it assigns
 * `seq` synchronously (no await between reading and writing it): 1, 2, 3, ... with no gaps.
 */
export class MessageLog {
	private last: number;

	constructor(private readonly sql: SyncSql) {
		for (const statement of SCHEMA) sql.exec(statement);
		const row = sql.exec("SELECT COALESCE(MAX(seq), 0) AS last FROM messages").toArray()[0];
		this.last = Number(row?.last ?? 0);
	}

	lastSeq(): number {
		return this.last;
	}

	/** Stores a message with the next `seq`. The caller checked idempotency first. */
	append(input: NewMessage): MessageT {
		const seq = this.last + 1;
		this.sql.exec(
			"INSERT INTO messages (seq, id, room_id, user_id, text_message, created_at, client_msg_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
			seq,
			input.id,
			input.room_id,
			input.user_id,
			input.text_message,
			input.created_at,
			input.client_msg_id ?? null,
		);
		this.last = seq;
		const message: MessageT = {
			id: input.id,
			room_id: input.room_id,
			seq,
			user_id: input.user_id,
			text_message: input.text_message,
			created_at: input.created_at,
		};
		if (input.client_msg_id !== undefined) message.client_msg_id = input.client_msg_id;
		return message;
	}

	/**
	 * Unread for a reader: messages after `afterSeq` that someone else sent. Counted from the log
	 * every time, so no counter can drift from what is stored: seq has no gaps, so that is the
	 * messages after `afterSeq` minus the reader's own among them (a range of `messages_author`),
	 * which costs the reader's own recent messages, not the room's backlog.
	 */
	countUnread(afterSeq: number, readerId: string): number {
		const after = Math.max(0, this.last - afterSeq);
		if (after === 0) return 0;
		const row = this.sql.exec("SELECT COUNT(*) AS n FROM messages WHERE user_id = ? AND seq > ?", readerId, afterSeq).toArray()[0];
		return after - Number(row?.n ?? 0);
	}

	findByClientMsgId(userId: string, clientMsgId: string): MessageT | null {
		const row = this.sql.exec("SELECT * FROM messages WHERE user_id = ? AND client_msg_id = ?", userId, clientMsgId).toArray()[0];
		return row ? toMessage(row) : null;
	}

	/** Messages in ascending `seq`. With only `beforeSeq` (or nothing) it returns the newest page. */
	range({ afterSeq, beforeSeq, limit }: HistoryRange): MessageT[] {
		const before = beforeSeq ?? Number.MAX_SAFE_INTEGER;
		if (afterSeq !== undefined) {
			return this.sql
				.exec("SELECT * FROM messages WHERE seq > ? AND seq < ? ORDER BY seq ASC LIMIT ?", afterSeq, before, limit)
				.toArray()
				.map(toMessage);
		}
		return this.sql
			.exec("SELECT * FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?", before, limit)
			.toArray()
			.map(toMessage)
			.reverse();
	}
}
