// The Deno host's storage pieces, runtime-free enough to run under Node (node:sqlite): the group
// commit holds every output until the turn's transactions are committed, and a SQLite file has the
// Durable Object storage shape the room log and drizzle rely on, with the durability settings.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MessageLog } from "../../src/room/message-log";
import { Alarms } from "../../src/runtimes/deno/alarms";
import { GroupCommit } from "../../src/runtimes/deno/group-commit";
import { SqliteFile } from "../../src/runtimes/deno/sqlite-file";
import { EndOfTurn } from "../../src/runtimes/deno/turn";

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

/** A file whose fsync the test completes by hand (or that syncs on the spot, for a group of one). */
function fakeFile(log: string[], name: string) {
	const syncs: Array<() => void> = [];
	return {
		commit: () => log.push(`commit ${name}`),
		syncNow: () => log.push(`syncNow ${name}`),
		sync: () =>
			new Promise<void>((resolve) => {
				log.push(`sync ${name}`);
				syncs.push(resolve);
			}),
		finishSync: () => syncs.shift()?.(),
	};
}
const microtasks = () => new Promise((r) => setTimeout(r, 0));

describe("GroupCommit", () => {
	it("lets output out at once when nothing is pending, and otherwise only after the turn's commit and every file's fsync", async () => {
		const { group, endTurn, scheduled } = manual();
		const log: string[] = [];
		group.afterCommit(() => log.push("idle"));
		const a = fakeFile(log, "a");
		const b = fakeFile(log, "b");
		group.began(a);
		group.began(b);
		group.began(a);
		expect(scheduled()).toBe(1);
		group.afterCommit(() => log.push("ack 1"));
		endTurn();
		// Committed and syncing: output produced now waits for this group as well.
		group.afterCommit(() => log.push("broadcast 1"));
		a.finishSync();
		await microtasks();
		expect(log).toEqual(["idle", "commit a", "commit b", "sync a", "sync b"]);
		b.finishSync();
		await microtasks();
		expect(log).toEqual(["idle", "commit a", "commit b", "sync a", "sync b", "ack 1", "broadcast 1"]);
		expect(group.stats()).toEqual({ groups: 1, files: 2 });
	});

	it("syncs a group of one file on the spot, and lets its output out before the turn ends", () => {
		const { group, endTurn } = manual();
		const log: string[] = [];
		const a = fakeFile(log, "a");
		group.began(a);
		group.afterCommit(() => log.push("ack"));
		expect(log).toEqual([]);
		endTurn();
		expect(log).toEqual(["commit a", "syncNow a", "ack"]);
		group.afterCommit(() => log.push("after"));
		expect(log).toEqual(["commit a", "syncNow a", "ack", "after"]);
	});

	it("releases groups in order even when a later group's fsync finishes first; a group of one waits behind one still syncing", async () => {
		const { group, endTurn } = manual();
		const log: string[] = [];
		const a = fakeFile(log, "a");
		const b = fakeFile(log, "b");
		const c = fakeFile(log, "c");
		group.began(a);
		group.began(b);
		group.afterCommit(() => log.push("first"));
		endTurn();
		group.began(c);
		group.afterCommit(() => log.push("second"));
		endTurn();
		// c alone, but a and b are still syncing: c's fsync goes off the JS thread too, in order.
		expect(log).toEqual(["commit a", "commit b", "sync a", "sync b", "commit c", "sync c"]);
		c.finishSync();
		b.finishSync();
		await microtasks();
		expect(log).toEqual(["commit a", "commit b", "sync a", "sync b", "commit c", "sync c"]);
		a.finishSync();
		await microtasks();
		expect(log.slice(6)).toEqual(["first", "second"]);
	});

	it("never lets out what waited for a commit or fsync that failed, and reports the failure", async () => {
		const failures: unknown[] = [];
		const { group, endTurn } = manual((e) => failures.push(e));
		const out: string[] = [];
		group.began({
			commit: () => {},
			sync: () => Promise.reject(new Error("EIO")),
			syncNow: () => {
				throw new Error("EIO");
			},
		});
		group.afterCommit(() => out.push("ack"));
		let settled = false;
		void group.settled().then(() => (settled = true));
		endTurn();
		await microtasks();
		group.afterCommit(() => out.push("later"));
		expect(out).toEqual([]);
		expect(String(failures[0])).toBe("Error: EIO");
		expect(settled).toBe(false);
	});
});

describe("EndOfTurn", () => {
	it("runs a turn's 0 ms work in one callback, in order; work queued meanwhile goes to the next turn; longer waits are timers", async () => {
		const turns: Array<() => void> = [];
		const turn = new EndOfTurn((run) => turns.push(run));
		const scheduler = turn.scheduler();
		const log: string[] = [];
		scheduler.after(0, () => log.push("flush room a"));
		scheduler.after(0, () => {
			log.push("commit");
			scheduler.after(0, () => log.push("next turn"));
		});
		scheduler.after(5, () => log.push("timer"));
		expect(turns.length).toBe(1);
		turns.shift()?.();
		expect(log).toEqual(["flush room a", "commit"]);
		expect(turns.length).toBe(1);
		turns.shift()?.();
		expect(log).toEqual(["flush room a", "commit", "next turn"]);
		await new Promise((r) => setTimeout(r, 20));
		expect(log).toEqual(["flush room a", "commit", "next turn", "timer"]);
	});

	it("runs the rest of the turn's work when one piece throws, then throws its error", () => {
		const turns: Array<() => void> = [];
		const turn = new EndOfTurn((run) => turns.push(run));
		const log: string[] = [];
		turn.run(() => {
			throw new Error("boom");
		});
		turn.run(() => log.push("commit"));
		expect(() => turns.shift()?.()).toThrow("boom");
		expect(log).toEqual(["commit"]);
	});
});

describe("SqliteFile", () => {
	it("opens in WAL with an exclusive lock a second opener cannot take (synchronous=FULL only per statement)", async () => {
		const { group } = manual();
		const path = join(scratch(), "room.sqlite");
		const file = new SqliteFile(path, group);
		expect(file.sql.exec("PRAGMA journal_mode").toArray()).toEqual([{ journal_mode: "wal" }]);
		// NORMAL: COMMIT does not fsync; the group commit fsyncs the WAL before any output (next test).
		expect(file.sql.exec("PRAGMA synchronous").toArray()).toEqual([{ synchronous: 1 }]);
		expect(file.sql.exec("PRAGMA locking_mode").toArray()).toEqual([{ locking_mode: "exclusive" }]);
		expect(file.sql.exec("PRAGMA wal_autocheckpoint").toArray()).toEqual([{ wal_autocheckpoint: 128 }]);
		expect(() => new SqliteFile(path, group)).toThrow(/database is locked/);
		await file.close();
		const perStatement = new SqliteFile(path, group, true);
		expect(perStatement.sql.exec("PRAGMA synchronous").toArray()).toEqual([{ synchronous: 2 }]);
		await perStatement.close();
	});

	it("puts a turn's writes in one transaction, committed and fsynced by the group commit (rolled back by a crash before it)", async () => {
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
		// One file this turn: committed and fdatasynced on the spot, then the output leaves.
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
		await reopened.close();
	});

	it("has the cursor shape drizzle and the room log use: toArray, one, next, raw with duplicate column names", async () => {
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
		await file.close();
	});
});

describe("Alarms", () => {
	it("keeps one time per object, persisted: a new process re-arms it and fires it once, cleared before the handler runs", async () => {
		const { group, endTurn } = manual();
		const path = join(scratch(), "alarms.sqlite");
		const fired: string[] = [];
		const file = new SqliteFile(path, group);
		const first = new Alarms(file, (key) => fired.push(key));
		const slot = first.slot("room:r1");
		expect(slot.getAlarm()).toBe(null);
		slot.setAlarm(Date.now() + 60_000);
		slot.setAlarm(Date.now() + 100);
		expect(slot.getAlarm()).toBeGreaterThan(Date.now());
		endTurn();
		await group.settled();
		// The process stops before the alarm is due.
		first.stop();
		await file.close();
		expect(fired).toEqual([]);

		const reopened = new SqliteFile(path, group);
		const second = new Alarms(reopened, (key) => fired.push(`${key} (slot ${second.get(key)})`));
		expect(second.rearm()).toBe(1);
		await new Promise((r) => setTimeout(r, 250));
		expect(fired).toEqual(["room:r1 (slot null)"]);
		second.stop();
		endTurn();
		await group.settled();
		await reopened.close();
	});

	it("fires an alarm again after a restart when its handler did not finish, and keeps a time the handler set", async () => {
		const { group, endTurn } = manual();
		const path = join(scratch(), "alarms.sqlite");
		const fired: string[] = [];
		const file = new SqliteFile(path, group);
		// The handler of room:r1 never ends (the process dies during it); room:r2's sets its next alarm and ends.
		const first = new Alarms(file, (key) => {
			fired.push(key);
			if (key === "room:r1") return new Promise(() => {});
			first.slot(key).setAlarm(Date.now() + 60_000);
			return Promise.resolve();
		});
		first.slot("room:r1").setAlarm(Date.now() + 20);
		first.slot("room:r2").setAlarm(Date.now() + 20);
		endTurn();
		await new Promise((r) => setTimeout(r, 150));
		expect(fired.sort()).toEqual(["room:r1", "room:r2"]);
		// While its handler runs, an alarm reads as cleared.
		expect(first.get("room:r1")).toBe(null);
		expect(first.get("room:r2")).toBeGreaterThan(Date.now() + 30_000);
		endTurn();
		await group.settled();
		first.stop();
		await file.close();

		const reopened = new SqliteFile(path, group);
		const again: string[] = [];
		const second = new Alarms(reopened, (key) => {
			again.push(key);
			return Promise.resolve();
		});
		expect(second.rearm()).toBe(2);
		await new Promise((r) => setTimeout(r, 150));
		// r1's unfinished run comes back; r2's next alarm is a minute away.
		expect(again).toEqual(["room:r1"]);
		endTurn();
		await group.settled();
		expect(second.get("room:r1")).toBe(null);
		expect(second.get("room:r2")).toBeGreaterThan(Date.now() + 30_000);
		second.stop();
		await reopened.close();
	});
});
