/**
 * Characters sent to each socket since it last showed life (a frame or a heartbeat). workerd
 * buffers whatever a peer does not read without bound and exposes no `bufferedAmount`, so this
 * is the only handle on a client that stopped reading: past the cap, `owe` says close it.
 */
export class SocketBudget<S extends object = WebSocket> {
	private readonly unread = new WeakMap<S, { chars: number; since: number }>();

	/** `heartbeatAt`: when the runtime last answered a heartbeat of this socket (ms), 0 if never. */
	constructor(
		private readonly max: number,
		private readonly heartbeatAt: (socket: S) => number,
	) {}

	/** The socket sent a frame: it reads. */
	alive(socket: S): void {
		this.unread.delete(socket);
	}

	/** Counts what a socket is sent; false once it is owed too much without a sign of life (close it). */
	owe(socket: S, chars: number, now: number): boolean {
		const account = this.unread.get(socket) ?? { chars: 0, since: now };
		this.unread.set(socket, account);
		// The first frame after a sign of life always goes, so even a catch-up batch larger than the cap makes progress.
		if (account.chars === 0 || account.chars + chars <= this.max) {
			account.chars += chars;
			return true;
		}
		// Heartbeats are answered by the runtime without waking the object; it keeps when the last one came.
		if (this.heartbeatAt(socket) >= account.since) {
			this.unread.set(socket, { chars, since: now });
			return true;
		}
		return false;
	}
}
