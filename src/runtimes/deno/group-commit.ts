/** A database file with a transaction the group commit owns (see sqlite-file.ts). */
export interface Committable {
	commit(): void;
}

/**
 * Acknowledged means on disk, at the cost of one fsync per file per turn of the event loop
 * rather than one per statement. The first write of a turn opens a transaction on its file;
 * every frame, ack and HTTP response that leaves meanwhile waits here, and all of them leave
 * once the turn's transactions committed (each COMMIT fsyncs the WAL: synchronous=FULL).
 * This is workerd's output gate, done by hand: a crash before the commit loses only what
 * nobody was told about.
 */
export class GroupCommit {
	private readonly open = new Set<Committable>();
	private gated: Array<() => void> = [];
	private scheduled = false;
	private readonly counters = { commits: 0, files: 0 };

	/** `later` runs the commit after the current turn (setImmediate: after the I/O already polled). */
	constructor(
		private readonly later: (run: () => void) => void,
		private readonly failed: (error: unknown) => void,
	) {}

	/** A file opened a transaction that must commit before anything else leaves. */
	began(file: Committable): void {
		this.open.add(file);
		if (!this.scheduled) {
			this.scheduled = true;
			this.later(() => this.commit());
		}
	}

	/** Runs `send` now when nothing is waiting to commit, else right after the commit (in order). */
	afterCommit(send: () => void): void {
		if (this.open.size === 0 && this.gated.length === 0) send();
		else this.gated.push(send);
	}

	/** Resolves once everything written so far is on disk. */
	settled(): Promise<void> {
		if (this.open.size === 0 && this.gated.length === 0) return Promise.resolve();
		return new Promise((resolve) => this.afterCommit(resolve));
	}

	/** Commits every open transaction, then lets out what waited for it. */
	commit(): void {
		this.scheduled = false;
		const files = [...this.open];
		this.open.clear();
		try {
			for (const file of files) file.commit();
		} catch (error) {
			// Memory is ahead of the disk now (seq numbers handed out): only a restart from disk is safe.
			this.gated = [];
			this.failed(error);
			return;
		}
		this.counters.commits++;
		this.counters.files += files.length;
		const gated = this.gated;
		this.gated = [];
		for (const send of gated) send();
	}

	stats() {
		return { ...this.counters };
	}
}
