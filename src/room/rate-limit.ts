/** A token bucket: `rate` tokens per second, holding at most `burst`. Pure, clock injected. */
export class TokenBucket {
	private tokens: number;
	private last: number;

	constructor(
		private readonly rate: number,
		private readonly burst: number,
		now: number,
	) {
		this.tokens = burst;
		this.last = now;
	}

	/** Takes one token if there is one; `now` is in milliseconds. */
	take(now: number): boolean {
		// A clock that steps back must not earn the same interval twice when it steps forward again.
		const elapsed = Math.max(0, now - this.last) / 1000;
		this.last = Math.max(this.last, now);
		this.tokens = Math.min(this.burst, this.tokens + elapsed * this.rate);
		if (this.tokens < 1) return false;
		this.tokens -= 1;
		return true;
	}

	/** Whether the bucket would be full at `now`: forgetting it then changes nothing. */
	isFull(now: number): boolean {
		return this.tokens + (Math.max(0, now - this.last) / 1000) * this.rate >= this.burst;
	}
}

/** One bucket per key, created on first use. Past `maxKeys` it forgets the buckets that are full again. */
export class KeyedLimiter<K> {
	private readonly buckets = new Map<K, TokenBucket>();

	constructor(
		private readonly rate: number,
		private readonly burst: number,
		private readonly maxKeys = 10_000,
	) {}

	take(key: K, now: number): boolean {
		let bucket = this.buckets.get(key);
		if (!bucket) {
			// Only full buckets go: dropping a spent one would hand its key a fresh burst.
			if (this.buckets.size >= this.maxKeys) for (const [k, b] of this.buckets) if (b.isFull(now)) this.buckets.delete(k);
			bucket = new TokenBucket(this.rate, this.burst, now);
			this.buckets.set(key, bucket);
		}
		return bucket.take(now);
	}

	forget(key: K): void {
		this.buckets.delete(key);
	}
}
