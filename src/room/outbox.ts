/** Where a batch goes: one WebSocket, seen through the one call the outbox needs. */
export interface Sink {
	write(frame: string): void;
}

export type Schedule = (flush: () => void) => void;

/**
 * Coalesces the events each socket is owed into one frame (events joined by `\n`).
 * workerd's cost is per `send()`, not per byte, so one frame per socket per flush is
 * what makes fan-out to many sockets cheap. A socket's ack rides in the same batch as
 * the broadcasts around it, so it is never sent ahead of, or apart from, them.
 */
export class Outbox {
	private pending = new Map<Sink, string[]>();
	private scheduled = false;

	constructor(
		private readonly schedule: Schedule,
		private readonly maxBatchEvents = 512,
	) {}

	push(sink: Sink, event: string): void {
		let queue = this.pending.get(sink);
		if (!queue) {
			queue = [];
			this.pending.set(sink, queue);
		}
		queue.push(event);
		if (queue.length >= this.maxBatchEvents) {
			this.pending.delete(sink);
			sink.write(queue.join("\n"));
		}
		if (!this.scheduled) {
			this.scheduled = true;
			this.schedule(() => this.flush());
		}
	}

	/** Sends everything pending, one frame per socket. */
	flush(): void {
		this.scheduled = false;
		if (this.pending.size === 0) return;
		const batches = this.pending;
		this.pending = new Map();
		for (const [sink, events] of batches) sink.write(events.length === 1 ? (events[0] as string) : events.join("\n"));
	}

	/** Drops what a closed socket was still owed. */
	forget(sink: Sink): void {
		this.pending.delete(sink);
	}
}
