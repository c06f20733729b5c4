import type { SyncSql } from "../room/message-log";

/**
 * The `seq` of a room's message by its id, or null. The log has no index on `id` (sends never
 * need one), so this scans the room; it serves rare operations such as a report, not sends.
 */
export function seqOfMessage(sql: SyncSql, messageId: string): number | null {
	const row = sql.exec("SELECT seq FROM messages WHERE id = ? LIMIT 1", messageId).toArray()[0];
	return row ? Number(row.seq) : null;
}
