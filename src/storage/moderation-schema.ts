import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * Reports of messages by room members. A trigger (migrations/0002_message_flags.sql) writes the
 * `message.flagged` webhook event in the same transaction, for clients with webhooks.
 */
export const messageFlags = sqliteTable(
	"message_flags",
	{
		id: text("id").primaryKey(),
		clientId: text("client_id").notNull(),
		roomId: text("room_id").notNull(),
		messageId: text("message_id").notNull(),
		seq: integer("seq").notNull(),
		userId: text("user_id").notNull(),
		reason: text("reason").notNull(),
		createdAt: integer("created_at").notNull(),
	},
	(t) => [uniqueIndex("message_flags_once").on(t.messageId, t.userId), index("message_flags_room").on(t.clientId, t.roomId, t.id)],
);

export type MessageFlagRow = typeof messageFlags.$inferSelect;

/**
 * Bans and mutes in a room: one row per room, user and kind. A row is in force until `expiresAt`
 * (null: until lifted); an expired row is ignored where it is read, and replaced by the next one.
 * The room keeps a copy (src/room/moderation.ts) so its sockets need no directory call per frame.
 */
export const roomRestrictions = sqliteTable(
	"room_restrictions",
	{
		clientId: text("client_id").notNull(),
		roomId: text("room_id").notNull(),
		userId: text("user_id").notNull(),
		kind: text("kind", { enum: ["ban", "mute"] }).notNull(),
		reason: text("reason"),
		expiresAt: integer("expires_at"),
		/** The moderator's user id, or null for the client's backend. */
		createdBy: text("created_by"),
		createdAt: integer("created_at").notNull(),
	},
	(t) => [
		primaryKey({ columns: [t.roomId, t.userId, t.kind] }),
		index("room_restrictions_list").on(t.clientId, t.roomId, t.kind, t.userId),
	],
);

export type RoomRestrictionRow = typeof roomRestrictions.$inferSelect;
export type RestrictionKind = RoomRestrictionRow["kind"];
export type Role = "owner" | "moderator" | "member";
