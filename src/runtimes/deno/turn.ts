import { type Scheduler, workerdScheduler } from "../../room/outbox";

/**
 * Work for the end of the current turn of the event loop, all of it in one callback: the outboxes'
 * quiet flushes and the group commit. On workerd a 0 ms timer per room does this; on Deno each
 * timer is an op and a timer-heap entry (measured: ~13% of the JS thread at 500 msg/s, and a
 * 1 ms floor on latency), where one `setImmediate` per turn serves every room and gateway.
 * Callbacks queued while the turn's work runs go to the next turn.
 */
export class EndOfTurn {
	private queue: Array<() => void> = [];

	/** `schedule` runs its callback after the current turn (setImmediate: after the I/O already polled). */
	constructor(private readonly schedule: (run: () => void) => void) {}

	run(work: () => void): void {
		if (this.queue.length === 0) this.schedule(() => this.drain());
		this.queue.push(work);
	}

	/** The outboxes' scheduler: 0 ms means "at the end of this turn", longer waits are timers. */
	scheduler(): Scheduler {
		return {
			now: workerdScheduler.now,
			after: (ms, run) => {
				if (ms > 0) workerdScheduler.after(ms, run);
				else this.run(run);
			},
		};
	}

	private drain(): void {
		const work = this.queue;
		this.queue = [];
		let failure: { error: unknown } | undefined;
		for (const run of work) {
			try {
				run();
			} catch (error) {
				failure ??= { error };
			}
		}
		// The rest of the turn's work ran; the error stays uncaught, as a failing timer's would.
		if (failure) throw failure.error;
	}
}
