// migrations/0003_moderation.sql on a directory that already has rooms: their creators become owners.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { readMigrations } from "../../src/runtimes/deno/directory-host";

const dir = join(import.meta.dirname, "..", "..", "migrations");

describe("0003_moderation.sql", () => {
	it("gives existing rooms' creators the owner role, everyone else member, and rooms no slow mode", () => {
		const db = new DatabaseSync(":memory:");
		const migrations = readMigrations((path) => readFileSync(path, "utf8"), dir);
		expect(migrations.map((m) => m.name)).toEqual(["0000_init.sql", "0001_webhooks.sql", "0002_message_flags.sql", "0003_moderation.sql"]);
		const apply = (sql: string) => {
			for (const statement of sql.split("--> statement-breakpoint").map((s) => s.trim())) if (statement) db.exec(statement);
		};
		for (const m of migrations.slice(0, 3)) apply(m.sql);
		db.exec(
			`INSERT INTO rooms (id, client_id, name, private, created_by, created_at) VALUES ('r1', 'c', NULL, 0, 'u1', 1), ('r2', 'c', NULL, 0, NULL, 1)`,
		);
		db.exec(
			`INSERT INTO memberships (room_id, user_id, client_id, created_at) VALUES ('r1', 'u1', 'c', 1), ('r1', 'u2', 'c', 1), ('r2', 'u1', 'c', 1)`,
		);
		apply(migrations[3]!.sql);
		expect(db.prepare("SELECT room_id, user_id, role FROM memberships ORDER BY room_id, user_id").all()).toEqual([
			{ room_id: "r1", user_id: "u1", role: "owner" },
			{ room_id: "r1", user_id: "u2", role: "member" },
			{ room_id: "r2", user_id: "u1", role: "member" },
		]);
		expect(db.prepare("SELECT id, cooldown_seconds FROM rooms ORDER BY id").all()).toEqual([
			{ id: "r1", cooldown_seconds: 0 },
			{ id: "r2", cooldown_seconds: 0 },
		]);
	});
});
