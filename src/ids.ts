const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Random bytes drawn 4 KiB at a time: one `getRandomValues` call per 256 ids, not one per id. */
const POOL = new Uint8Array(4096);
let poolAt = POOL.length;

/**
 * UUID version 7 (RFC 9562): a millisecond timestamp then random bits, so ids sort
 * by creation time and keyset pagination over `id` follows creation order.
 */
export function uuidv7(now = Date.now()): string {
	if (poolAt + 10 > POOL.length) {
		crypto.getRandomValues(POOL);
		poolAt = 0;
	}
	const r = poolAt;
	poolAt += 10;
	// 48-bit timestamp: the high 16 bits and the low 32 bits (exact for any Date.now()).
	const high = Math.floor(now / 2 ** 32);
	const low = now >>> 0;
	const time = `${HEX[(high >>> 8) & 0xff]}${HEX[high & 0xff]}${HEX[low >>> 24]}${HEX[(low >>> 16) & 0xff]}-${HEX[(low >>> 8) & 0xff]}${HEX[low & 0xff]}`;
	const p = POOL;
	return `${time}-${HEX[0x70 | ((p[r] as number) & 0x0f)]}${HEX[p[r + 1] as number]}-${HEX[0x80 | ((p[r + 2] as number) & 0x3f)]}${HEX[p[r + 3] as number]}-${HEX[p[r + 4] as number]}${HEX[p[r + 5] as number]}${HEX[p[r + 6] as number]}${HEX[p[r + 7] as number]}${HEX[p[r + 8] as number]}${HEX[p[r + 9] as number]}`;
}
