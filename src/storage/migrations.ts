import init from "../../migrations/0000_init.sql";
import webhooks from "../../migrations/0001_webhooks.sql";
import messageFlags from "../../migrations/0002_message_flags.sql";
import moderation from "../../migrations/0003_moderation.sql";

/**
 * The D1 migrations, bundled as text so the self-hosted directory object applies the
 * very same files. Add each new file from `migrations/` here, in order.
 */
export const MIGRATIONS: ReadonlyArray<{ name: string; sql: string }> = [
	{ name: "0000_init.sql", sql: init },
	{ name: "0001_webhooks.sql", sql: webhooks },
	{ name: "0002_message_flags.sql", sql: messageFlags },
	{ name: "0003_moderation.sql", sql: moderation },
];

/** Splits a drizzle-kit migration into statements. */
export const statements = (sql: string): string[] =>
	sql
		.split("--> statement-breakpoint")
		.map((s) => s.trim())
		.filter(Boolean);
