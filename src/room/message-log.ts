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
	reply_to?: string;
	metadata?: Record<string, unknown>;
}

export interface HistoryRange {
	afterSeq?: number;
	beforeSeq?: number;
	limit: number;
}

export type ReactionCounts = Record<string, number>;

/**
 * One stored change of the room, numbered by the room's `seq` (1, 2, 3, ... across all kinds).
 * `at` is when it was stored (ISO): a message's `created_at`, the time an edit, delete or
 * reaction was written to the log. Optional only for events built by hand (tests); the log always sets it.
 */
export type RoomEvent = { at?: string } & (
	| { seq: number; event: "new_message"; data: MessageT }
	| { seq: number; event: "message_updated"; data: { message: MessageT; seq: number } }
	| { seq: number; event: "message_deleted"; data: { room_id: string; message_id: string; seq: number } }
	| {
			seq: number;
			event: "reaction_added" | "reaction_removed";
			data: { room_id: string; message_id: string; user_id: string; type: string; reactions: ReactionCounts; seq: number };
	  }
);

/** The change kinds kept in `events` (a message's creation is its row in `messages`). */
type LoggedKind = Exclude<RoomEvent["event"], "new_message">;

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
	// Every other change: edits, deletes, reactions. Its seq comes from the same counter as messages'.
	`CREATE TABLE IF NOT EXISTS events (
		seq INTEGER PRIMARY KEY,
		kind TEXT NOT NULL,
		message_id TEXT NOT NULL,
		data TEXT NOT NULL
	)`,
	"CREATE INDEX IF NOT EXISTS events_message ON events (message_id, kind)",
	`CREATE TABLE IF NOT EXISTS message_versions (
		message_id TEXT NOT NULL,
		version INTEGER NOT NULL,
		text_message TEXT NOT NULL,
		metadata TEXT,
		at TEXT NOT NULL,
		PRIMARY KEY (message_id, version)
	)`,
	`CREATE TABLE IF NOT EXISTS reactions (
		message_id TEXT NOT NULL,
		user_id TEXT NOT NULL,
		type TEXT NOT NULL,
		PRIMARY KEY (message_id, type, user_id)
	)`,
];

/** Columns added after the first release; rooms created before get them on first open. */
const ADDED_COLUMNS: Array<[name: string, definition: string]> = [
	// The message's number among messages only (1, 2, 3, ...): unread counts are differences of it.
	["n", "INTEGER"],
	// The same per author: the reader's own messages after a position are a difference too.
	["author_n", "INTEGER"],
	["reply_to", "TEXT"],
	["metadata", "TEXT"],
	["edited_at", "TEXT"],
	["version", "INTEGER NOT NULL DEFAULT 1"],
	["deleted_at", "TEXT"],
	["reactions", "TEXT"],
	["reply_count", "INTEGER NOT NULL DEFAULT 0"],
];

/** Columns added to `events` after the first release, the same way. */
const ADDED_EVENT_COLUMNS: Array<[name: string, definition: string]> = [
	// When the change was stored (ISO); null for events stored before this column existed.
	["at", "TEXT"],
];

const AFTER_COLUMNS = [
	"CREATE INDEX IF NOT EXISTS messages_id ON messages (id)",
	"CREATE INDEX IF NOT EXISTS messages_replies ON messages (reply_to, seq) WHERE reply_to IS NOT NULL",
	"CREATE INDEX IF NOT EXISTS messages_deleted ON messages (seq) WHERE deleted_at IS NOT NULL",
];

const json = (text: unknown) => (text == null ? undefined : (JSON.parse(String(text)) as Record<string, unknown>));

const toMessage = (row: Record<string, unknown>): MessageT => {
	const message: MessageT = {
		id: row.id as string,
		room_id: row.room_id as string,
		seq: row.seq as number,
		user_id: row.user_id as string,
		text_message: row.text_message as string,
		created_at: row.created_at as string,
	};
	if (row.client_msg_id != null) message.client_msg_id = row.client_msg_id as string;
	if (row.reply_to != null) message.reply_to = row.reply_to as string;
	// Written by this class from validated input: our own JSON, parsed back as it was stored.
	const metadata = json(row.metadata);
	if (metadata !== undefined) message.metadata = metadata;
	if (row.edited_at != null) message.edited_at = row.edited_at as string;
	if (Number(row.version ?? 1) > 1) message.version = Number(row.version);
	if (row.deleted_at != null) message.deleted_at = row.deleted_at as string;
	const reactions = json(row.reactions) as ReactionCounts | undefined;
	if (reactions && Object.keys(reactions).length > 0) message.reactions = reactions;
	if (Number(row.reply_count ?? 0) > 0) message.reply_count = Number(row.reply_count);
	return message;
};

/**
 * The most versions a message has: the original and 99 edits. It bounds one message's history,
 * which `GET …/versions` answers in one response (a few MB at most: 100 texts of up to 4,000 UTF-16
 * code units with 4 KiB of metadata each), far above what people do when fixing a typo.
 */
export const MAX_MESSAGE_VERSIONS = 100;

export type EditResult = { ok: true; event: RoomEvent } | { ok: false; code: "not_found" | "forbidden" | "deleted" | "too_many_versions" };

/**
 * A room's log in SQLite: messages and every later change to them (edits, deletes, reactions),
 * numbered by one counter. It is the single writer of the room, so it assigns `seq`
 * synchronously (no await between reading and writing it): 1, 2, 3, ... with no gaps.
 */
export class MessageLog {
	private eventsAt: { seq: number; afterSeq: number; limit: number; events: RoomEvent[] } | null = null;
	private latestAt: { seq: number; message: MessageT | null } | null = null;
	private last: number;
	/** Messages stored so far (the highest `n`). */
	private messageCount: number;

	constructor(private readonly sql: SyncSql) {
		for (const statement of SCHEMA) sql.exec(statement);
		const columns = new Set(
			sql
				.exec("PRAGMA table_info(messages)")
				.toArray()
				.map((c) => String(c.name)),
		);
		for (const [name, definition] of ADDED_COLUMNS) {
			if (!columns.has(name)) sql.exec(`ALTER TABLE messages ADD COLUMN ${name} ${definition}`);
		}
		const eventColumns = new Set(
			sql
				.exec("PRAGMA table_info(events)")
				.toArray()
				.map((c) => String(c.name)),
		);
		for (const [name, definition] of ADDED_EVENT_COLUMNS) {
			if (!eventColumns.has(name)) sql.exec(`ALTER TABLE events ADD COLUMN ${name} ${definition}`);
		}
		// Before events existed every seq was a message, numbered in order.
		if (!columns.has("n")) sql.exec("UPDATE messages SET n = seq");
		if (!columns.has("author_n")) {
			sql.exec(
				"UPDATE messages SET author_n = (SELECT rn FROM (SELECT seq AS s, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY seq) AS rn FROM messages) WHERE s = messages.seq)",
			);
		}
		for (const statement of AFTER_COLUMNS) sql.exec(statement);
		const row = sql
			.exec(
				"SELECT COALESCE((SELECT MAX(seq) FROM messages), 0) AS m, COALESCE((SELECT MAX(seq) FROM events), 0) AS e, COALESCE((SELECT MAX(n) FROM messages), 0) AS n",
			)
			.toArray()[0];
		this.last = Math.max(Number(row?.m ?? 0), Number(row?.e ?? 0));
		this.messageCount = Number(row?.n ?? 0);
	}

	lastSeq(): number {
		return this.last;
	}

	/**
	 * The newest message (room lists show it), read once per `seq`: every change to any message
	 * is an event and moves `seq`, so a cached answer for the current `seq` is the answer.
	 */
	latest(): MessageT | null {
		if (this.latestAt?.seq === this.last) return this.latestAt.message;
		const message = this.range({ limit: 1 })[0] ?? null;
		this.latestAt = { seq: this.last, message };
		return message;
	}

	/** Stores a message with the next `seq`. The caller checked idempotency and `reply_to` first. */
	append(input: NewMessage): MessageT {
		const seq = this.last + 1;
		const n = this.messageCount + 1;
		this.sql.exec(
			`INSERT INTO messages (seq, id, room_id, user_id, text_message, created_at, client_msg_id, n, reply_to, metadata, author_n)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1 + COALESCE((SELECT author_n FROM messages WHERE user_id = ?4 ORDER BY seq DESC LIMIT 1), 0))`,
			seq,
			input.id,
			input.room_id,
			input.user_id,
			input.text_message,
			input.created_at,
			input.client_msg_id ?? null,
			n,
			input.reply_to ?? null,
			input.metadata === undefined ? null : JSON.stringify(input.metadata),
		);
		if (input.reply_to !== undefined) this.sql.exec("UPDATE messages SET reply_count = reply_count + 1 WHERE id = ?", input.reply_to);
		this.last = seq;
		this.messageCount = n;
		const message: MessageT = {
			id: input.id,
			room_id: input.room_id,
			seq,
			user_id: input.user_id,
			text_message: input.text_message,
			created_at: input.created_at,
		};
		if (input.client_msg_id !== undefined) message.client_msg_id = input.client_msg_id;
		if (input.reply_to !== undefined) message.reply_to = input.reply_to;
		if (input.metadata !== undefined) message.metadata = input.metadata;
		return message;
	}

	byId(messageId: string): MessageT | null {
		const row = this.sql.exec("SELECT * FROM messages WHERE id = ?", messageId).toArray()[0];
		return row ? toMessage(row) : null;
	}

	/** A new version of the author's message; the previous one is kept (`versions`). */
	edit(messageId: string, editorId: string, text: string, metadata: Record<string, unknown> | undefined, at: string): EditResult {
		const row = this.sql.exec("SELECT * FROM messages WHERE id = ?", messageId).toArray()[0];
		if (!row) return { ok: false, code: "not_found" };
		if (row.user_id !== editorId) return { ok: false, code: "forbidden" };
		if (row.deleted_at != null) return { ok: false, code: "deleted" };
		const version = Number(row.version ?? 1);
		if (version >= MAX_MESSAGE_VERSIONS) return { ok: false, code: "too_many_versions" };
		this.sql.exec(
			"INSERT INTO message_versions (message_id, version, text_message, metadata, at) VALUES (?, ?, ?, ?, ?)",
			messageId,
			version,
			row.text_message,
			row.metadata ?? null,
			(row.edited_at ?? row.created_at) as string,
		);
		const nextMetadata = metadata === undefined ? (row.metadata ?? null) : JSON.stringify(metadata);
		this.sql.exec(
			"UPDATE messages SET text_message = ?, metadata = ?, edited_at = ?, version = ? WHERE id = ?",
			text,
			nextMetadata,
			at,
			version + 1,
			messageId,
		);
		const seq = this.log("message_updated", messageId, {}, at);
		return { ok: true, event: { seq, at, event: "message_updated", data: { message: this.byId(messageId) as MessageT, seq } } };
	}

	/**
	 * Soft delete: text, metadata and earlier versions are erased, a tombstone stays. Deleting again
	 * answers the first deletion. `mayDelete` decides who may (the author, or the client's backend).
	 */
	remove(messageId: string, mayDelete: (message: MessageT) => boolean, at: string): EditResult {
		const message = this.byId(messageId);
		if (!message) return { ok: false, code: "not_found" };
		if (!mayDelete(message)) return { ok: false, code: "forbidden" };
		const data = { room_id: message.room_id, message_id: messageId };
		if (message.deleted_at !== undefined) {
			const first = this.sql.exec("SELECT seq, at FROM events WHERE message_id = ? AND kind = 'message_deleted'", messageId).toArray()[0];
			const seq = Number(first?.seq ?? 0);
			const firstAt = typeof first?.at === "string" ? first.at : message.deleted_at;
			return { ok: true, event: { seq, at: firstAt, event: "message_deleted", data: { ...data, seq } } };
		}
		this.sql.exec("UPDATE messages SET text_message = '', metadata = NULL, deleted_at = ?, reactions = NULL WHERE id = ?", at, messageId);
		this.sql.exec("DELETE FROM message_versions WHERE message_id = ?", messageId);
		this.sql.exec("DELETE FROM reactions WHERE message_id = ?", messageId);
		const seq = this.log("message_deleted", messageId, data, at);
		return { ok: true, event: { seq, at, event: "message_deleted", data: { ...data, seq } } };
	}

	/** One reaction per user and type: adding twice (or removing what is not there) stores nothing and returns null. */
	react(
		messageId: string,
		userId: string,
		type: string,
		add: boolean,
		at: string = new Date().toISOString(),
	): EditResult | { ok: true; event: null; reactions: ReactionCounts } {
		const message = this.byId(messageId);
		if (!message) return { ok: false, code: "not_found" };
		if (message.deleted_at !== undefined) return { ok: false, code: "deleted" };
		const before = this.sql
			.exec("SELECT 1 AS x FROM reactions WHERE message_id = ? AND type = ? AND user_id = ?", messageId, type, userId)
			.toArray();
		if (before.length > 0 === add) return { ok: true, event: null, reactions: message.reactions ?? {} };
		if (add) this.sql.exec("INSERT INTO reactions (message_id, user_id, type) VALUES (?, ?, ?)", messageId, userId, type);
		else this.sql.exec("DELETE FROM reactions WHERE message_id = ? AND type = ? AND user_id = ?", messageId, type, userId);
		const reactions: ReactionCounts = {};
		for (const r of this.sql
			.exec("SELECT type, COUNT(*) AS n FROM reactions WHERE message_id = ? GROUP BY type ORDER BY type", messageId)
			.toArray()) {
			reactions[String(r.type)] = Number(r.n);
		}
		this.sql.exec("UPDATE messages SET reactions = ? WHERE id = ?", JSON.stringify(reactions), messageId);
		const kind = add ? "reaction_added" : "reaction_removed";
		const data = { room_id: message.room_id, message_id: messageId, user_id: userId, type, reactions };
		const seq = this.log(kind, messageId, data, at);
		return { ok: true, event: { seq, at, event: kind, data: { ...data, seq } } };
	}

	/** Every version of a message, oldest first, the current one last. */
	versions(messageId: string): Array<{ version: number; text_message: string; metadata?: Record<string, unknown>; at: string }> | null {
		const message = this.byId(messageId);
		if (!message) return null;
		const previous = this.sql
			.exec("SELECT version, text_message, metadata, at FROM message_versions WHERE message_id = ? ORDER BY version", messageId)
			.toArray()
			.map((r) => {
				const metadata = json(r.metadata);
				return { version: Number(r.version), text_message: String(r.text_message), ...(metadata ? { metadata } : {}), at: String(r.at) };
			});
		const current = {
			version: message.version ?? 1,
			text_message: message.text_message,
			...(message.metadata ? { metadata: message.metadata } : {}),
			at: message.deleted_at ?? message.edited_at ?? message.created_at,
		};
		return [...previous, current];
	}

	/** Replies to a message in ascending `seq`, after `afterSeq`. */
	replies(messageId: string, afterSeq: number, limit: number): MessageT[] {
		return this.sql
			.exec("SELECT * FROM messages WHERE reply_to = ? AND seq > ? ORDER BY seq ASC LIMIT ?", messageId, afterSeq, limit)
			.toArray()
			.map(toMessage);
	}

	/**
	 * Unread for a reader: messages after `afterSeq` that someone else sent and nobody deleted.
	 * Counted from the log every time, so no counter can drift from what is stored: `n` numbers
	 * the messages and `author_n` each author's, so the messages after `afterSeq`, and the reader's
	 * own among them, are differences of two index lookups; only deleted ones are counted (a range
	 * of a partial index holding deleted messages only).
	 */
	countUnread(afterSeq: number, readerId: string): number {
		if (afterSeq >= this.last) return 0;
		const row = this.sql
			.exec(
				`SELECT
					COALESCE((SELECT n FROM messages WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1), 0) AS upto,
					COALESCE((SELECT author_n FROM messages WHERE user_id = ?2 ORDER BY seq DESC LIMIT 1), 0) AS own_total,
					COALESCE((SELECT author_n FROM messages WHERE user_id = ?2 AND seq <= ?1 ORDER BY seq DESC LIMIT 1), 0) AS own_upto,
					(SELECT COUNT(*) FROM messages WHERE deleted_at IS NOT NULL AND seq > ?1) AS deleted,
					(SELECT COUNT(*) FROM messages WHERE deleted_at IS NOT NULL AND seq > ?1 AND user_id = ?2) AS own_deleted`,
				afterSeq,
				readerId,
			)
			.toArray()[0];
		const after = this.messageCount - Number(row?.upto ?? 0);
		const own = Number(row?.own_total ?? 0) - Number(row?.own_upto ?? 0);
		return after - own - Number(row?.deleted ?? 0) + Number(row?.own_deleted ?? 0);
	}

	/** When the user last sent a message here (ms since the epoch), or null: slow mode derives its wait from the log. */
	lastSentAt(userId: string): number | null {
		const row = this.sql.exec("SELECT created_at FROM messages WHERE user_id = ? ORDER BY seq DESC LIMIT 1", userId).toArray()[0];
		return row ? Date.parse(String(row.created_at)) : null;
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

	/**
	 * The room's events after `afterSeq`, in order, at most `limit`: what a reconnecting socket
	 * missed. A message's events show it as it is now (an erased text stays erased).
	 */
	/**
	 * Events after `afterSeq`, at most `limit`. The last answer is kept for the current `seq` (a
	 * flush asks the same of every gateway it pushes to); callers must not change what it returns.
	 */
	events(afterSeq: number, limit: number): RoomEvent[] {
		const cached = this.eventsAt;
		if (cached && cached.seq === this.last && cached.afterSeq === afterSeq && cached.limit === limit) return cached.events;
		const events = this.readEvents(afterSeq, limit);
		this.eventsAt = { seq: this.last, afterSeq, limit, events };
		return events;
	}

	private readEvents(afterSeq: number, limit: number): RoomEvent[] {
		const messages = this.range({ afterSeq, limit });
		const others = this.sql
			.exec("SELECT seq, kind, message_id, data, at FROM events WHERE seq > ? ORDER BY seq ASC LIMIT ?", afterSeq, limit)
			.toArray();
		if (others.length === 0) return messages.map((m) => ({ seq: m.seq, at: m.created_at, event: "new_message", data: m }));
		const out: RoomEvent[] = [];
		let i = 0;
		let j = 0;
		while (out.length < limit && (i < messages.length || j < others.length)) {
			const m = messages[i];
			const e = others[j];
			if (m && (!e || m.seq < Number(e.seq))) {
				out.push({ seq: m.seq, at: m.created_at, event: "new_message", data: m });
				i++;
				continue;
			}
			if (!e) break;
			j++;
			const seq = Number(e.seq);
			const kind = String(e.kind) as LoggedKind;
			const at = typeof e.at === "string" ? e.at : this.legacyTime(kind, String(e.message_id));
			if (kind === "message_updated") {
				const message = this.byId(String(e.message_id));
				if (message) out.push({ seq, at, event: kind, data: { message, seq } });
			} else {
				out.push({ seq, at, event: kind, data: { ...(JSON.parse(String(e.data)) as object), seq } } as RoomEvent);
			}
		}
		return out;
	}

	/**
	 * The best stored time for an event written before `events.at` existed: a delete's
	 * `deleted_at`, else the message's last edit or creation. Stable, so every reader agrees.
	 */
	private legacyTime(kind: LoggedKind, messageId: string): string | undefined {
		const message = this.byId(messageId);
		if (!message) return undefined;
		if (kind === "message_deleted" && message.deleted_at !== undefined) return message.deleted_at;
		return message.edited_at ?? message.created_at;
	}

	private log(kind: LoggedKind, messageId: string, data: object, at: string): number {
		const seq = this.last + 1;
		this.sql.exec(
			"INSERT INTO events (seq, kind, message_id, data, at) VALUES (?, ?, ?, ?, ?)",
			seq,
			kind,
			messageId,
			JSON.stringify(data),
			at,
		);
		this.last = seq;
		return seq;
	}
}
