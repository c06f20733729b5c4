// The Deno host's storage pieces, runtime-free enough to run under Node (node:sqlite): the group
// commit holds every output until the turn's transactions are committed, and a SQLite file has the
// Durable Object storage shape the room log and drizzle rely on, with the durability settings.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MessageLog } from "../../src/room/message-log";
import { GroupCommit } from "../../src/runtimes/deno/group-commit";
import { SqliteFile } from "../../src/runtimes/deno/sqlite-file";

const dirs: string[] = [];
const scratch = () => {
	const dir = mkdtempSync(join(tmpdir(), "roomkit-deno-storage-"));
	dirs.push(dir);
	return dir;
};
afterEach(() => {
	for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A group commit whose turn ends when the test says so. */
function manual(
	failed: (e: unknown) => void = (e) => {
		throw e;
	},
) {
	const turns: Array<() => void> = [];
	const group = new GroupCommit((run) => turns.push(run), failed);
	const endTurn = () => {
		for (const run of turns.splice(0)) run();
	};
	return { group, endTurn, scheduled: () => turns.length };
}

describe("GroupCommit", () => {
	it("lets output out at once when nothing is pending, and holds it in order until the turn's commit otherwise", () => {
		const { group, endTurn, scheduled } = manual();
		const out: string[] = [];
		group.afterCommit(() => out.push("idle"));
		expect(out).toEqual(["idle"]);
		const committed: string[] = [];
		group.began({ commit: () => committed.push("a") });
		group.began({ commit: () => committed.push("b") });
		expect(scheduled()).toBe(1);
		group.afterCommit(() => out.push("ack 1"));
		group.afterCommit(() => out.push("broadcast 1"));
		expect(out).toEqual(["idle"]);
		endTurn();
		expect(committed).toEqual(["a", "b"]);
		expect(out).toEqual(["idle", "ack 1", "broadcast 1"]);
		expect(group.stats()).toEqual({ commits: 1, files: 2 });
	});

	it("never lets out what waited for a commit that failed, and reports the failure", () => {
		const failures: unknown[] = [];
		const { group, endTurn } = manual((e) => failures.push(e));
		const out: string[] = [];
		group.began({
			commit: () => {
				throw new Error("disk full");
			},
		});
		group.afterCommit(() => out.push("ack"));
		let settled = false;
		void group.settled().then(() => (settled = true));
		endTurn();
		expect(out).toEqual([]);
		expect(String(failures[0])).toBe("Error: disk full");
		expect(settled).toBe(false);
	});
});

describe("SqliteFile", () => {
	it("opens in WAL with synchronous=FULL and an exclusive lock a second opener cannot take", () => {
		const { group } = manual();
		const path = join(scratch(), "room.sqlite");
		const file = new SqliteFile(path, group);
		expect(file.sql.exec("PRAGMA journal_mode").toArray()).toEqual([{ journal_mode: "wal" }]);
		expect(file.sql.exec("PRAGMA synchronous").toArray()).toEqual([{ synchronous: 2 }]);
		expect(file.sql.exec("PRAGMA locking_mode").toArray()).toEqual([{ locking_mode: "exclusive" }]);
		expect(() => new SqliteFile(path, group)).toThrow(/database is locked/);
		file.close();
	});

	it("puts a turn's writes in one transaction, committed by the group commit (rolled back by a crash before it)", () => {
		const { group, endTurn } = manual();
		const dir = scratch();
		const file = new SqliteFile(join(dir, "room.sqlite"), group);
		const log = new MessageLog(file.sql);
		endTurn();
		const input = { room_id: "r", user_id: "u", text_message: "hi", created_at: "2026-01-01T00:00:00.000Z" };
		log.append({ ...input, id: "m1" });
		log.append({ ...input, id: "m2", client_msg_id: "k" });
		let sent = false;
		group.afterCommit(() => (sent = true));
		expect(sent).toBe(false);
		endTurn();
		expect(sent).toBe(true);
		log.append({ ...input, id: "m3" });
		// Closing without the turn's commit is what a crash leaves: m3 was never acknowledged, and is gone.
		(file as unknown as { db: { exec(q: string): void; close(): void } }).db.exec("ROLLBACK");
		(file as unknown as { db: { close(): void } }).db.close();
		const reopened = new SqliteFile(join(dir, "room.sqlite"), group);
		const again = new MessageLog(reopened.sql);
		expect(again.lastSeq()).toBe(2);
		expect(again.range({ limit: 10 }).map((m) => [m.seq, m.id, m.client_msg_id])).toEqual([
			[1, "m1", undefined],
			[2, "m2", "k"],
		]);
		reopened.close();
	});

	it("has the cursor shape drizzle and the room log use: toArray, one, next, raw with duplicate column names", () => {
		const { group } = manual();
		const file = new SqliteFile(join(scratch(), "x.sqlite"), group);
		file.sql.exec("CREATE TABLE a (id TEXT, flag INTEGER)");
		file.sql.exec("INSERT INTO a VALUES (?, ?), (?, ?)", "x", true, "y", undefined);
		expect(file.sql.exec("SELECT * FROM a ORDER BY id").toArray()).toEqual([
			{ id: "x", flag: 1 },
			{ id: "y", flag: null },
		]);
		expect(file.sql.exec("SELECT id FROM a WHERE id = ?", "x").one()).toEqual({ id: "x" });
		const cursor = file.sql.exec("SELECT id FROM a ORDER BY id");
		expect(cursor.next()).toEqual({ done: false, value: { id: "x" } });
		expect(cursor.toArray()).toEqual([{ id: "y" }]);
		expect(file.sql.exec("SELECT a.id, b.id FROM a JOIN a AS b ON a.id = b.id ORDER BY a.id").raw().toArray()).toEqual([
			["x", "x"],
			["y", "y"],
		]);
		expect(() =>
			file.transactionSync(() => {
				file.sql.exec("INSERT INTO a VALUES ('z', 0)");
				throw new Error("undo");
			}),
		).toThrow("undo");
		expect(file.sql.exec("SELECT count(*) AS n FROM a").one()).toEqual({ n: 2 });
		file.close();
	});
});
