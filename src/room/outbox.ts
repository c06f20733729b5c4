/** Where a batch goes: one WebSocket, seen through the one call the outbox needs. */
export interface Sink {
	write(frame: string): void;
}

/** The clock and timer the outbox needs; injected so tests drive time by hand. */
export interface Scheduler {
	now(): number;
	after(ms: number, run: () => void): void;
}

/** The older shape: a function that runs `flush` later, with no clock (every flush is "quiet"). */
export type Schedule = (flush: () => void) => void;

/**
 * workerd's timers. A 0 ms timer runs after the current event and after every event already
 * queued for the object (incoming frames are delivered before timers), so one flush
 * carries everything that arrived back to back.
 */
export const workerdScheduler: Scheduler = {
	now: () => Date.now(),
	after: (ms, run) => {
		setTimeout(run, ms);
	},
};

export interface OutboxOptions {
	/** A socket's batch is written at once when it holds this many events (bounds frame size). */
	maxBatchEvents?: number;
	/** Minimum time between two flushes, per frame the previous flush wrote. */
	gapPerFrameMs?: number;
	/** Upper bound of that minimum time. */
	maxGapMs?: number;
}

export interface OutboxStats {
	flushes: number;
	frames: number;
	events: number;
	/** Batches written early because they reached `maxBatchEvents`. */
	capped: number;
}

/**
 * Coalesces the events each socket is owed into one frame (events joined by `\n`).
 * workerd's cost is per `send()`, not per byte, so one frame per socket per flush is
 * what makes fan-out to many sockets cheap. A socket's ack rides in the same batch as
 * the broadcasts around it, so it is never sent ahead of, or apart from, them.
 *
 * Flush policy (see BENCHMARKS.md): a flush costs one `send()` per socket however few
 * events it carries, so what matters is how many messages each flush carries.
 * - Quiet room (the previous flush is older than its gap): flush on a 0 ms timer, i.e. as
 *   soon as the current event and those already queued have run. No added latency.
 * - Busy room: at most one flush per gap, where the gap grows with the fan-out of the
 *   previous flush (`gapPerFrameMs` per frame, at most `maxGapMs`): 1 ms for 50 sockets,
 *   10 ms for 500. Sends then cost a bounded share of the CPU whatever the arrival pattern,
 *   so a trickle of single messages cannot turn into one 500-socket flush per message, which
 *   starves the senders (on a shared machine, the same CPUs) and keeps the trickle going.
 */
export class Outbox {
	private pending = new Map<Sink, string[]>();
	/** Callers of written() waiting for the next flush. */
	private waiting: Array<() => void> = [];
	private scheduled = false;
	private lastFlushAt = Number.NEGATIVE_INFINITY;
	private gapMs = 0;
	private readonly scheduler: Scheduler;
	private readonly maxBatchEvents: number;
	private readonly gapPerFrameMs: number;
	private readonly maxGapMs: number;
	private readonly counters: OutboxStats = { flushes: 0, frames: 0, events: 0, capped: 0 };

	constructor(scheduler: Scheduler | Schedule, options: OutboxOptions = {}) {
		this.scheduler = typeof scheduler === "function" ? { now: () => 0, after: (_ms, run) => scheduler(run) } : scheduler;
		this.maxBatchEvents = options.maxBatchEvents ?? 512;
		this.gapPerFrameMs = options.gapPerFrameMs ?? 0.02;
		this.maxGapMs = options.maxGapMs ?? 50;
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
			this.counters.capped++;
			this.write(sink, queue);
		}
		if (!this.scheduled) {
			this.scheduled = true;
			const wait = this.lastFlushAt + this.gapMs - this.scheduler.now();
			this.scheduler.after(wait > 0 ? Math.ceil(wait) : 0, () => this.flush());
		}
	}

	/** Sends everything pending, one frame per socket, in the order sockets were first owed something. */
	flush(): void {
		this.scheduled = false;
		const waiting = this.waiting;
		this.waiting = [];
		if (this.pending.size > 0) {
			const batches = this.pending;
			this.pending = new Map();
			this.counters.flushes++;
			this.lastFlushAt = this.scheduler.now();
			this.gapMs = Math.min(this.maxGapMs, batches.size * this.gapPerFrameMs);
			for (const [sink, events] of batches) this.write(sink, events);
		}
		for (const done of waiting) done();
	}

	/**
	 * Resolves once everything pushed so far is handed to its socket: at the flush already scheduled
	 * (batching is kept), at once when nothing waits.
	 */
	written(): Promise<void> {
		if (this.pending.size === 0) return Promise.resolve();
		return new Promise((resolve) => this.waiting.push(resolve));
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
