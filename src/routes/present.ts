import type { ClientRow, MembershipRow, RoomRow, UserRow } from "../storage/schema";

/** Storage rows to API objects: the only place that knows both shapes. */
const iso = (ms: number) => new Date(ms).toISOString();

export const presentClient = (row: ClientRow) => ({ id: row.id, name: row.name, created_at: iso(row.createdAt) });

export const presentUser = (row: Pick<UserRow, "id" | "name" | "metadata" | "createdAt">) => ({
	id: row.id,
	name: row.name,
	metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, never>),
	created_at: iso(row.createdAt),
});

export const presentRoom = (row: RoomRow) => ({
	id: row.id,
	name: row.name,
	private: row.private,
	cooldown_seconds: row.cooldownSeconds,
	created_at: iso(row.createdAt),
});

export const presentMember = (row: MembershipRow) => ({ user_id: row.userId, role: row.role, joined_at: iso(row.createdAt) });

/** `next_cursor` is the last id of a full page, or null when there is no more. */
export const nextCursor = <T>(rows: T[], limit: number, id: (row: T) => string) =>
	rows.length === limit && rows.length > 0 ? id(rows[rows.length - 1] as T) : null;
