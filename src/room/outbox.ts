/** Where a batch goes: one WebSocket, seen through the one call the outbox needs. */
export interface Sink {
	write(frame: string): void;
}

/** The clock and timer the outbox needs; injected so tests drive time by hand. */
export interface Scheduler {
	now(): number;
	after(ms: number, run: () => void): void;
}

/** The older shape: a function that runs `flush` later. Kept for tests that drive flushes by hand. */
export type Schedule = (flush: () => void) => void;

export const workerdScheduler: Scheduler = {
	now: () => Date.now(),
	after: (ms, run) => {
		setTimeout(run, ms);
	},
};

export interface OutboxStats {
	flushes: number;
	frames: number;
	events: number;
	forced: number;
}

/**
 * Coalesces the events each socket is owed into one frame (events joined by `\n`).
 * workerd's cost is per `send()`, not per byte, so one frame per socket per flush is
 * what makes fan-out to many sockets cheap. A socket's ack rides in the same batch as
 * the broadcasts around it, so it is never sent ahead of, or apart from, them.
 */
export class Outbox {
	private pending = new Map<Sink, string[]>();
	private scheduled = false;
	private readonly counters: OutboxStats = { flushes: 0, frames: 0, events: 0, forced: 0 };

	private readonly scheduler: Scheduler;

	constructor(
		scheduler: Scheduler | Schedule,
		private readonly maxBatchEvents = 512,
	) {
		this.scheduler = typeof scheduler === "function" ? { now: () => 0, after: (_ms, run) => scheduler(run) } : scheduler;
	}

	push(sink: Sink, event: string): void {
		let queue = this.pending.get(sink);
		if (!queue) {
			queue = [];
			this.pending.set(sink, queue);
		}
		queue.push(event);
		if (queue.length >= this.maxBatchEvents) {
			this.pending.delete(sink);
			this.counters.forced++;
			this.write(sink, queue);
		}
		if (!this.scheduled) {
			this.scheduled = true;
			this.scheduler.after(0, () => this.flush());
		}
	}

	/** Sends everything pending, one frame per socket. */
	flush(): void {
		this.scheduled = false;
		if (this.pending.size === 0) return;
		const batches = this.pending;
		this.pending = new Map();
		this.counters.flushes++;
		for (const [sink, events] of batches) this.write(sink, events);
	}

	/** Drops what a closed socket was still owed. */
	forget(sink: Sink): void {
		this.pending.delete(sink);
	}

	stats(): OutboxStats {
		return { ...this.counters };
	}

	private write(sink: Sink, events: string[]): void {
		this.counters.frames++;
		this.counters.events += events.length;
		sink.write(events.length === 1 ? (events[0] as string) : events.join("\n"));
	}
}
