/** A database file whose transaction the group commit owns (see sqlite-file.ts). */
export interface Committable {
	/** COMMIT: the turn's writes reach the WAL file (in the OS cache, not yet on disk). */
	commit(): void;
	/** fdatasync of the WAL file, off the JS thread: what was committed is on disk. */
	sync(): Promise<void>;
	/** The same on the JS thread, for a group of one file (no thread hop, no promise). */
	syncNow(): void;
}

interface Group {
	files: Set<Committable>;
	/** Output that may only leave once this group, and every group before it, is on disk. */
	outputs: Array<() => void>;
	synced: boolean;
}

/**
 * Acknowledged means on disk, with one fsync per file per turn of the event loop instead of one per
 * statement. The first write of a turn opens a transaction on its file; at the end of the turn every
 * open transaction commits. A turn that wrote one file (the usual case at everyday loads: one
 * message in one room) syncs it right there, on the JS thread, as SQLite's own synchronous=FULL
 * would: handing one fdatasync to a worker thread and back cost more CPU than the sync itself
 * (BENCHMARKS.md, "The Deno host's CPU"). A turn that wrote several syncs them in parallel off the JS thread while
 * the next turn already runs. Every frame, ack and HTTP response produced meanwhile waits for its
 * group (and the groups before it) to be on disk. This is workerd's output gate, done by hand: a
 * crash loses only what nobody was told about.
 */
export class GroupCommit {
	private open: Group | null = null;
	private readonly syncing: Group[] = [];
	private broken = false;
	private readonly counters = { groups: 0, files: 0 };

	/** `later` runs the commit after the current turn (setImmediate: after the I/O already polled). */
	constructor(
		private readonly later: (run: () => void) => void,
		private readonly failed: (error: unknown) => void,
	) {}

	/** A file opened a transaction that must be on disk before anything produced after it leaves. */
	began(file: Committable): void {
		if (!this.open) {
			this.open = { files: new Set(), outputs: [], synced: false };
			this.later(() => this.commit());
		}
		this.open.files.add(file);
	}

	/** Runs `send` now when nothing is waiting for the disk, else once everything written before it is there (in order). */
	afterCommit(send: () => void): void {
		if (this.broken) return;
		const group = this.open ?? this.syncing[this.syncing.length - 1];
		if (group) group.outputs.push(send);
		else send();
	}

	/** Nothing is waiting for the disk: output may leave at once (and `afterCommit` would send it now). */
	get idle(): boolean {
		return !this.broken && this.open === null && this.syncing.length === 0;
	}

	/** Resolves once everything written so far is on disk. */
	settled(): Promise<void> {
		return new Promise((resolve) => this.afterCommit(resolve));
	}

	/** Commits the open transactions, then fsyncs their files in parallel; their output leaves after. */
	commit(): void {
		const group = this.open;
		this.open = null;
		if (!group || this.broken) return;
		try {
			for (const file of group.files) file.commit();
		} catch (error) {
			this.fail(error);
			return;
		}
		this.counters.groups++;
		this.counters.files += group.files.size;
		if (group.files.size === 1 && this.syncing.length === 0) {
			try {
				for (const file of group.files) file.syncNow();
			} catch (error) {
				this.fail(error);
				return;
			}
			for (const send of group.outputs) send();
			return;
		}
		this.syncing.push(group);
		Promise.all([...group.files].map((file) => file.sync())).then(
			() => {
				group.synced = true;
				while (this.syncing[0]?.synced) {
					const done = this.syncing.shift() as Group;
					for (const send of done.outputs) send();
				}
			},
			(error) => this.fail(error),
		);
	}

	/** Resolves when nothing is left to commit or sync (shutdown). */
	async drain(): Promise<void> {
		this.commit();
		await this.settled();
	}

	stats() {
		return { ...this.counters };
	}

	// Memory is ahead of the disk now (seq numbers handed out): only a restart from disk is safe,
	// and nothing that waited for this group may leave.
	private fail(error: unknown): void {
		this.broken = true;
		this.syncing.length = 0;
		this.failed(error);
	}
}
