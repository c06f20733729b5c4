import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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
