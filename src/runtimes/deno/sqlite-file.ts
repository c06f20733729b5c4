import { closeSync, fdatasync, fdatasyncSync, fsyncSync, openSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Committable, GroupCommit } from "./group-commit";

type Row = Record<string, unknown>;

/** What `ctx.storage.sql.exec()` returns on workerd, as far as the room log and drizzle use it. */
export interface Cursor {
	toArray(): Row[];
	one(): Row;
	next(): IteratorResult<Row>;
	raw(): { toArray(): unknown[][] };
	[Symbol.iterator](): Iterator<Row>;
}

const READ = /^\s*(SELECT|WITH|PRAGMA|EXPLAIN)\b/i;

/** Pages of WAL after which a commit checkpoints (SQLite's default is 1,000). */
export const WAL_AUTOCHECKPOINT_PAGES = 128;

// node:sqlite binds numbers, strings, bigints, null and bytes; workerd also takes booleans.
const bindable = (value: unknown) => (value === undefined ? null : typeof value === "boolean" ? Number(value) : value);

/**
 * One SQLite file with the shape of a Durable Object's storage (`sql.exec`, `transactionSync`),
 * so `MessageLog`, the room's and gateway's stores and `drizzle-orm/durable-sqlite` run unchanged.
 * Writes join the current turn's transaction, committed by the group commit.
 */
export class SqliteFile implements Committable {
	private readonly db: DatabaseSync;
	private readonly statements = new Map<string, { statement: StatementSync; read: boolean }>();
	private readonly begin: StatementSync;
	private readonly commitStatement: StatementSync;
	private inTurn = false;
	private savepoints = 0;
	private walFd: number | undefined;
	readonly sql: { exec: (query: string, ...bindings: unknown[]) => Cursor };

	/** `perStatement`: every write commits (and fsyncs) on its own, for comparison (DENO_COMMIT=statement). */
	constructor(
		readonly path: string,
		private readonly group: GroupCommit,
		private readonly perStatement = false,
	) {
		this.db = new DatabaseSync(path);
		// EXCLUSIVE first: then WAL keeps its index in heap memory, and the lock stays with this process.
		this.db.exec("PRAGMA locking_mode = EXCLUSIVE");
		this.db.exec("PRAGMA journal_mode = WAL");
		// Group commit: COMMIT writes the WAL, and sync() fsyncs it before any output of the turn
		// leaves; checkpoints still sync as SQLite does. Per statement: SQLite fsyncs every commit.
		this.db.exec(perStatement ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
		this.db.exec("PRAGMA busy_timeout = 0");
		// A checkpoint every 128 pages (~40 messages) instead of SQLite's 1,000: each room's WAL stays
		// under ~0.5 MiB (not ~4 MiB times the number of rooms), and once it has wrapped, commits
		// overwrite it in place, so an fdatasync no longer writes the file's size as well: -10 to -15%
		// CPU per delivery at 500 msg/s (BENCHMARKS.md, "The Deno host's CPU").
		this.db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
		// Take the write lock now: a second process on the same file fails here, not later.
		this.db.exec("BEGIN IMMEDIATE");
		this.db.exec("COMMIT");
		this.begin = this.db.prepare("BEGIN IMMEDIATE");
		this.commitStatement = this.db.prepare("COMMIT");
		this.sql = { exec: (query, ...bindings) => this.exec(query, bindings) };
	}

	private prepare(query: string): { statement: StatementSync; read: boolean } {
		let prepared = this.statements.get(query);
		if (!prepared) {
			prepared = { statement: this.db.prepare(query), read: READ.test(query) };
			if (this.statements.size > 500) this.statements.clear();
			this.statements.set(query, prepared);
		}
		return prepared;
	}

	private exec(query: string, bindings: unknown[]): Cursor {
		const { statement, read } = this.prepare(query);
		const args = bindings.map(bindable) as never[];
		let rows: Row[] | undefined;
		// A write runs now, as on workerd, even if nobody reads the cursor; a read when it is read.
		if (!read) {
			this.beginTurn();
			rows = statement.all(...args) as Row[];
		}
		const all = (): Row[] => {
			rows ??= statement.all(...args) as Row[];
			return rows;
		};
		let index = 0;
		return {
			toArray: () => all().slice(index),
			one: () => {
				const list = all();
				if (list.length !== 1) throw new Error(`Expected exactly one row, got ${list.length}`);
				return list[0] as Row;
			},
			next: () => {
				const list = all();
				return index < list.length ? { done: false, value: list[index++] as Row } : { done: true, value: undefined };
			},
			raw: () => ({
				toArray: () => {
					if (rows) return rows.map((r) => Object.values(r));
					// Values in column order, duplicate names included (joins), which objects would merge.
					statement.setReturnArrays(true);
					try {
						return statement.all(...args) as unknown as unknown[][];
					} finally {
						statement.setReturnArrays(false);
					}
				},
			}),
			[Symbol.iterator]: () => all().slice(index)[Symbol.iterator](),
		};
	}

	private beginTurn(): void {
		if (this.inTurn || this.perStatement) return;
		this.begin.run();
		this.inTurn = true;
		this.group.began(this);
	}

	/** Runs `fn` atomically inside the turn's transaction (a savepoint): all of its writes or none. */
	transactionSync<T>(fn: () => T): T {
		this.beginTurn();
		// Outside a transaction (per-statement mode), the outermost savepoint is the transaction.
		const name = `sp${++this.savepoints}`;
		this.db.exec(`SAVEPOINT ${name}`);
		try {
			const result = fn();
			this.db.exec(`RELEASE ${name}`);
			return result;
		} catch (error) {
			this.db.exec(`ROLLBACK TO ${name}`);
			this.db.exec(`RELEASE ${name}`);
			throw error;
		} finally {
			this.savepoints--;
		}
	}

	commit(): void {
		if (!this.inTurn) return;
		this.inTurn = false;
		this.commitStatement.run();
	}

	/**
	 * fdatasync of the WAL, which holds every committed transaction not yet checkpointed (what
	 * SQLite itself calls on Linux: the data and the file's size, not its timestamps), off the JS thread.
	 */
	sync(): Promise<void> {
		const fd = this.walFile();
		return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
	}

	/** The same, on the calling thread. */
	syncNow(): void {
		fdatasyncSync(this.walFile());
	}

	// The first time, the directory too: the WAL file was just created.
	private walFile(): number {
		if (this.walFd !== undefined) return this.walFd;
		const dir = openSync(this.dir(), "r");
		try {
			fsyncSync(dir);
		} finally {
			closeSync(dir);
		}
		const fd = openSync(`${this.path}-wal`, "r");
		this.walFd = fd;
		return fd;
	}

	private dir(): string {
		return this.path.slice(0, this.path.lastIndexOf("/")) || ".";
	}

	/** Closes the database (SQLite checkpoints the WAL into it, syncs, and removes the WAL). */
	async close(): Promise<void> {
		this.commit();
		if (this.walFd !== undefined) closeSync(this.walFd);
		this.statements.clear();
		this.db.close();
	}
}
