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
	},
	(t) => [primaryKey({ columns: [t.roomId, t.userId] }), index("memberships_user").on(t.clientId, t.userId, t.roomId)],
);

export type ClientRow = typeof clients.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type RoomRow = typeof rooms.$inferSelect;
export type MembershipRow = typeof memberships.$inferSelect;
export * from "./moderation-schema";
export * from "./webhook-schema";
