import type { ChatMessage } from "../types";

/**
 * Turns what the socket delivers (replays after a reconnect, duplicates, anything out of
 * order) into each event exactly once, in `seq` order. `seq` is 1, 2, 3, ... per room, across
 * messages, edits, deletes and reactions.
 */
export class Sequencer<T extends { seq: number } = ChatMessage> {
	private readonly buffer = new Map<number, T>();

	/** The highest `seq` handed to the application; undefined until the room tells us where it is. */
	constructor(public last?: number) {}

	/** The first join: an application that gave no position starts after what the room already holds. */
	start(roomLastSeq: number): T[] {
		if (this.last !== undefined) return [];
		this.last = roomLastSeq;
		for (const seq of this.buffer.keys()) if (seq <= roomLastSeq) this.buffer.delete(seq);
		return this.drain();
	}

	/** Accepts one delivered event; returns the events now ready, in order. */
	accept(message: T): T[] {
		if ((this.last !== undefined && message.seq <= this.last) || this.buffer.has(message.seq)) return [];
		this.buffer.set(message.seq, message);
		return this.last === undefined ? [] : this.drain();
	}

	/** True while a later message waits for an earlier one. */
	get hasGap(): boolean {
		return this.buffer.size > 0;
	}

	private drain(): T[] {
		const ready: T[] = [];
		for (let next = this.buffer.get((this.last ?? 0) + 1); next; next = this.buffer.get((this.last ?? 0) + 1)) {
			this.buffer.delete(next.seq);
			this.last = next.seq;
			ready.push(next);
		}
		return ready;
	}
}
