import { PING, PONG } from "../../protocol/frames";
import type { GroupCommit } from "./group-commit";

export interface SocketEvents {
	message(data: string | ArrayBuffer): void;
	closed(code: number, reason: string): void;
}

/**
 * A socket from `Deno.upgradeWebSocket`, as the room and gateway hosts use it: frames leave only
 * after the group commit (write before send), frames written before the handshake completed wait
 * for it, and heartbeats are answered here (Deno has no auto-response), remembering when.
 */
export class HostedSocket {
	private opened = false;
	private closed = false;
	private early: Array<() => void> = [];
	/** When the last heartbeat came (ms), for the unread-bytes budget; 0 if never. */
	heartbeatAt = 0;
	/** Resolves when the socket is closed (the closing handshake done, or the connection gone). */
	readonly done: Promise<void>;
	private finished!: () => void;

	constructor(
		private readonly ws: WebSocket,
		readonly tag: string,
		private readonly group: GroupCommit,
		events: SocketEvents,
	) {
		this.done = new Promise((resolve) => {
			this.finished = resolve;
		});
		ws.binaryType = "arraybuffer";
		ws.addEventListener("open", () => {
			this.opened = true;
			const early = this.early;
			this.early = [];
			for (const run of early) run();
		});
		ws.addEventListener("message", (event) => {
			if (this.closed) return;
			const data = (event as MessageEvent).data as string | ArrayBuffer;
			if (data === PING) {
				this.heartbeatAt = Date.now();
				this.ws.send(PONG);
				return;
			}
			events.message(data);
		});
		ws.addEventListener("close", (event) => {
			this.finished();
			const wasClosed = this.closed;
			this.closed = true;
			if (!wasClosed) events.closed((event as CloseEvent).code, (event as CloseEvent).reason);
		});
	}

	get isClosed(): boolean {
		return this.closed;
	}

	/** Queues a frame; it leaves once everything written before it is on disk. */
	send(frame: string): void {
		if (this.closed) return;
		// The usual case (the outboxes flush after the turn's commit): nothing to wait for, no closures.
		if (this.opened && this.group.idle) {
			try {
				this.ws.send(frame);
			} catch {
				// Closed by the peer meanwhile; the close event detaches it.
			}
			return;
		}
		this.group.afterCommit(() => this.whenOpen(() => this.ws.send(frame)));
	}

	/** Closes after the frames already queued (a close is output too). */
	close(code: number, reason: string): void {
		if (this.closed) return;
		this.closed = true;
		this.group.afterCommit(() => this.whenOpen(() => this.ws.close(code, reason)));
	}

	/** Closes now, for shutdown (the group commit has just run); resolves once closed. */
	closeNow(code: number, reason: string): Promise<void> {
		this.closed = true;
		if (!this.opened) {
			this.finished();
			return this.done;
		}
		this.whenOpen(() => this.ws.close(code, reason));
		return this.done;
	}

	private whenOpen(run: () => void): void {
		const guarded = () => {
			try {
				run();
			} catch {
				// Closed by the peer meanwhile; the close event detaches it.
			}
		};
		if (this.opened) guarded();
		else this.early.push(guarded);
	}
}
