import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The directory: who the clients, users and rooms are. One schema for D1 (Cloudflare)
 * and for the directory Durable Object's SQLite (bare workerd). Every row carries its
 * client id, and every query filters on it. Times are milliseconds since the epoch.
 */
export const clients = sqliteTable("clients", {
	id: text("id").primaryKey(),
	name: text("name").notNull(),
	apiTokenHash: text("api_token_hash").notNull().unique(),
	createdAt: integer("created_at").notNull(),
});

export const users = sqliteTable(
	"users",
	{
		id: text("id").primaryKey(),
		clientId: text("client_id").notNull(),
		name: text("name"),
		metadata: text("metadata"),
		createdAt: integer("created_at").notNull(),
		// A client-wide ban (POST /user/{user_id}/ban): set while one is recorded; it is in force until
		// `banExpiresAt` (null: until lifted). Read with the user on every authentication, so it costs no query.
		bannedAt: integer("banned_at"),
		banExpiresAt: integer("ban_expires_at"),
		banReason: text("ban_reason"),
	},
	(t) => [index("users_client_id").on(t.clientId, t.id)],
);

export const rooms = sqliteTable(
	"rooms",
	{
		id: text("id").primaryKey(),
		clientId: text("client_id").notNull(),
		name: text("name"),
		private: integer("private", { mode: "boolean" }).notNull(),
		createdBy: text("created_by"),
		createdAt: integer("created_at").notNull(),
		/** Slow mode: seconds a member waits between two messages (0: off); owners, moderators and the backend (its REST sends as a user) are exempt. */
		cooldownSeconds: integer("cooldown_seconds").notNull().default(0),
	},
	(t) => [index("rooms_client_id").on(t.clientId, t.id)],
);

export const memberships = sqliteTable(
	"memberships",
	{
		roomId: text("room_id").notNull(),
		userId: text("user_id").notNull(),
		clientId: text("client_id").notNull(),
		createdAt: integer("created_at").notNull(),
		/** `owner` (the room's creator), `moderator` or `member`; set by the backend. */
		role: text("role", { enum: ["owner", "moderator", "member"] })
			.notNull()
			.default("member"),
	},
	(t) => [primaryKey({ columns: [t.roomId, t.userId] }), index("memberships_user").on(t.clientId, t.userId, t.roomId)],
);

export type ClientRow = typeof clients.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type RoomRow = typeof rooms.$inferSelect;
export type MembershipRow = typeof memberships.$inferSelect;
/** Rows as written: columns with defaults (role, slow mode, bans) may be left out. */
export type NewUserRow = typeof users.$inferInsert;
export type NewRoomRow = typeof rooms.$inferInsert;
export type NewMembershipRow = typeof memberships.$inferInsert;
export * from "./moderation-schema";
export * from "./webhook-schema";
