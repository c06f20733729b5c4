import { drizzle } from "drizzle-orm/durable-sqlite";
import type { Directory } from "../../storage/directory";
import { DrizzleDirectory } from "../../storage/drizzle-directory";
import * as schema from "../../storage/schema";
import type { SqliteFile } from "./sqlite-file";

/** The Directory interface's methods, as the in-process namespace exposes them. */
export const DIRECTORY_METHODS = [
	"createClient",
	"setClientTokenHash",
	"findClientByTokenHash",
	"createUser",
	"getUser",
	"listUsers",
	"existingUserIds",
	"createRoom",
	"getRoom",
	"listUserRooms",
	"isMember",
	"addMember",
	"removeMember",
	"listMembers",
	"standing",
	"setRole",
	"restrict",
	"lift",
	"listRestrictions",
	"setCooldown",
	"setUserBan",
	"flagMessage",
	"setWebhookEvents",
	"webhookEvents",
	"dropWebhookEvents",
] as const satisfies ReadonlyArray<keyof Directory>;

/** Fails to compile when the Directory interface gains a method this list lacks (reports once failed on Deno so). */
type Unlisted = Exclude<keyof Directory, (typeof DIRECTORY_METHODS)[number]>;
export const DIRECTORY_COMPLETE: [Unlisted] extends [never] ? true : Unlisted = true;

export interface Migration {
	name: string;
	sql: string;
}

/** Same splitting as src/storage/migrations.ts, which Deno cannot import (it imports `.sql` as text). */
const statements = (sql: string): string[] =>
	sql
		.split("--> statement-breakpoint")
		.map((s) => s.trim())
		.filter(Boolean);

/** The migration files in journal order, read from `migrations/` (what wrangler applies to D1). */
export function readMigrations(readText: (path: string) => string, dir: string): Migration[] {
	const journal = JSON.parse(readText(`${dir}/meta/_journal.json`)) as { entries: Array<{ tag: string }> };
	return journal.entries.map((entry) => ({ name: `${entry.tag}.sql`, sql: readText(`${dir}/${entry.tag}.sql`) }));
}

/** Applies the migrations not yet recorded, with the same `d1_migrations` bookkeeping as the directory object. */
export function migrate(file: SqliteFile, migrations: Migration[]): string[] {
	const { sql } = file;
	sql.exec("CREATE TABLE IF NOT EXISTS d1_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
	const applied = new Set(
		sql
			.exec("SELECT name FROM d1_migrations")
			.toArray()
			.map((r) => String(r.name)),
	);
	const done: string[] = [];
	for (const migration of migrations) {
		if (applied.has(migration.name)) continue;
		file.transactionSync(() => {
			for (const statement of statements(migration.sql)) sql.exec(statement);
			sql.exec("INSERT INTO d1_migrations (name, applied_at) VALUES (?, ?)", migration.name, new Date().toISOString());
		});
		done.push(migration.name);
	}
	return done;
}

/** The directory over drizzle's Durable Object driver, on this file. */
export function openFileDirectory(file: SqliteFile): Directory {
	const db = drizzle(file as never, { schema });
	return new DrizzleDirectory(db, async (writes) => {
		file.transactionSync(() => {
			for (const write of writes) (write as unknown as { run(): void }).run();
		});
	});
}
