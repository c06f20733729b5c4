import type { SqliteFile } from "./sqlite-file";

/** Longest setTimeout delay; later alarms re-arm when it fires. */
const MAX_DELAY = 2 ** 31 - 1;

/** An object's alarm, as a Durable Object's storage offers it: one time per object, persisted. */
export interface AlarmSlot {
	getAlarm(): number | null;
	setAlarm(at: number): void;
	deleteAlarm(): void;
}

/**
 * Alarms as timers whose times are kept in one SQLite file (written in the same group commit as
 * everything else), so the host re-arms them at startup. `fire` wakes the object by its key and may
 * return the handler's promise. As on workerd, a handler sees its alarm as cleared and sets the next
 * one, and an alarm whose handler did not finish (the process died during it) fires again: its row
 * stays until the handler ends, and goes then unless the handler set a new time.
 */
export class Alarms {
	private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
	/** Alarms whose handler runs now, by key: the time that fired (its row stays until the handler ends). */
	private readonly running = new Map<string, number>();
	private stopped = false;

	constructor(
		private readonly file: SqliteFile,
		private readonly fire: (key: string) => unknown,
	) {
		file.sql.exec("CREATE TABLE IF NOT EXISTS alarms (key TEXT PRIMARY KEY, at INTEGER NOT NULL)");
	}

	slot(key: string): AlarmSlot {
		return { getAlarm: () => this.get(key), setAlarm: (at) => this.set(key, at), deleteAlarm: () => this.delete(key) };
	}

	get(key: string): number | null {
		const row = this.file.sql.exec("SELECT at FROM alarms WHERE key = ?", key).toArray()[0];
		const at = row ? Number(row.at) : null;
		// The alarm being handled is cleared, as far as its handler can tell.
		return at !== null && this.running.get(key) === at ? null : at;
	}

	set(key: string, at: number): void {
		this.file.sql.exec("INSERT INTO alarms (key, at) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET at = excluded.at", key, at);
		this.arm(key, at);
	}

	delete(key: string): void {
		this.file.sql.exec("DELETE FROM alarms WHERE key = ?", key);
		const timer = this.timers.get(key);
		if (timer !== undefined) clearTimeout(timer);
		this.timers.delete(key);
	}

	/** Arms every persisted alarm (startup); those already due fire at once. */
	rearm(): number {
		const rows = this.file.sql.exec("SELECT key, at FROM alarms").toArray();
		for (const row of rows) this.arm(String(row.key), Number(row.at));
		return rows.length;
	}

	stop(): void {
		this.stopped = true;
		for (const timer of this.timers.values()) clearTimeout(timer);
		this.timers.clear();
	}

	private arm(key: string, at: number): void {
		const previous = this.timers.get(key);
		if (previous !== undefined) clearTimeout(previous);
		const delay = Math.max(0, at - Date.now());
		const timer = setTimeout(
			() => {
				this.timers.delete(key);
				if (this.stopped) return;
				if (delay === MAX_DELAY && at > Date.now()) return this.arm(key, at);
				if (this.get(key) !== at) return;
				this.running.set(key, at);
				const done = () => {
					if (this.running.get(key) === at) this.running.delete(key);
					if (this.stopped) return;
					// Handled: the row goes, unless the handler set a new time.
					this.file.sql.exec("DELETE FROM alarms WHERE key = ? AND at = ?", key, at);
				};
				let handled: unknown;
				try {
					handled = this.fire(key);
				} catch {}
				Promise.resolve(handled).then(done, done);
			},
			Math.min(delay, MAX_DELAY),
		);
		this.timers.set(key, timer);
	}
}
