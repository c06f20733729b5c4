import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The directory's side of webhooks. Endpoints themselves live in each client's dispatcher
 * object (src/runtimes/cloudflare/webhook-dispatcher.ts); the directory only needs to know which clients want
 * events, so that its triggers (migrations/0001_webhooks.sql) write an outbox row in the same
 * transaction as the change that caused it, and only for those clients.
 */
export const webhookClients = sqliteTable("webhook_clients", {
	clientId: text("client_id").primaryKey(),
	createdAt: integer("created_at").notNull(),
});

/**
 * Directory events (user.created, room.created, member.added, member.removed) waiting to be
 * taken by the client's dispatcher. `seq` orders them; `data` is the changed row as JSON,
 * written by the triggers; `created_at` is the event's time in milliseconds.
 */
export const webhookOutbox = sqliteTable(
	"webhook_outbox",
	{
		seq: integer("seq").primaryKey({ autoIncrement: true }),
		id: text("id").notNull(),
		clientId: text("client_id").notNull(),
		type: text("type").notNull(),
		roomId: text("room_id"),
		data: text("data").notNull(),
		createdAt: integer("created_at").notNull(),
	},
	(t) => [index("webhook_outbox_client").on(t.clientId, t.seq)],
);

export type WebhookOutboxRow = typeof webhookOutbox.$inferSelect;
