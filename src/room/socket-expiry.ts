/**
 * The alarm's JWT pass, the same for every socket holder on every runtime: closes (via `expire`)
 * the sockets whose token expired by `now` (exp in seconds, 0 = never) and returns when the next
 * one expires, in ms, or +Infinity.
 */
export function expireTokens<S>(sockets: Iterable<[socket: S, exp: number]>, now: number, expire: (socket: S) => void): number {
	let next = Number.POSITIVE_INFINITY;
	for (const [socket, exp] of sockets) {
		if (exp === 0) continue;
		if (exp * 1000 <= now) expire(socket);
		else next = Math.min(next, exp * 1000);
	}
	return next;
}

/** The code to echo back for a peer's Close (browsers wait in CLOSING until it is echoed); reserved codes become 1000. */
export const echoCode = (code: number) => (code === 1005 || code === 1006 || code === 1015 ? 1000 : code);
