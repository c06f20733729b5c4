import type { ChatMessage } from "../types";

/**
 * Turns what the socket delivers (replays after a reconnect, duplicates, anything out of
 * order) into each message exactly once, in `seq` order. `seq` is 1, 2, 3, ... per room.
 */
export class Sequencer {
	private readonly buffer = new Map<number, ChatMessage>();

	/** The highest `seq` handed to the application; undefined until the room tells us where it is. */
	constructor(public last?: number) {}

	/** The first join: an application that gave no position starts after what the room already holds. */
	start(roomLastSeq: number): ChatMessage[] {
		if (this.last !== undefined) return [];
		this.last = roomLastSeq;
		for (const seq of this.buffer.keys()) if (seq <= roomLastSeq) this.buffer.delete(seq);
		return this.drain();
	}

	/** Accepts one delivered message; returns the messages now ready, in order. */
	accept(message: ChatMessage): ChatMessage[] {
		if ((this.last !== undefined && message.seq <= this.last) || this.buffer.has(message.seq)) return [];
		this.buffer.set(message.seq, message);
		return this.last === undefined ? [] : this.drain();
	}

	/** True while a later message waits for an earlier one. */
	get hasGap(): boolean {
		return this.buffer.size > 0;
	}

	private drain(): ChatMessage[] {
		const ready: ChatMessage[] = [];
		for (let next = this.buffer.get((this.last ?? 0) + 1); next; next = this.buffer.get((this.last ?? 0) + 1)) {
			this.buffer.delete(next.seq);
			this.last = next.seq;
			ready.push(next);
		}
		return ready;
	}
}
