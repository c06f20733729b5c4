import { describe, expect, it } from "vitest";
import { KeyedLimiter, TokenBucket } from "../../src/room/rate-limit";

const takes = (bucket: { take(now: number): boolean }, count: number, now: number) =>
	Array.from({ length: count }, () => bucket.take(now)).filter(Boolean).length;

describe("TokenBucket", () => {
	it("starts full: exactly `burst` takes succeed at one instant", () => {
		const bucket = new TokenBucket(20, 40, 1_000);
		expect(takes(bucket, 100, 1_000)).toBe(40);
		expect(bucket.take(1_000)).toBe(false);
	});

	it("refills at `rate` per second, one whole token at a time", () => {
		const bucket = new TokenBucket(20, 40, 0);
		takes(bucket, 40, 0);
		expect(bucket.take(49)).toBe(false);
		expect(bucket.take(50)).toBe(true);
		expect(bucket.take(50)).toBe(false);
		// Half a second is ten tokens.
		expect(takes(bucket, 100, 550)).toBe(10);
	});

	it("never holds more than `burst`, however long it idles", () => {
		const bucket = new TokenBucket(20, 40, 0);
		takes(bucket, 40, 0);
		expect(takes(bucket, 1_000, 3_600_000)).toBe(40);
	});

	it("a clock that goes backwards adds nothing", () => {
		const bucket = new TokenBucket(20, 40, 10_000);
		takes(bucket, 40, 10_000);
		expect(bucket.take(0)).toBe(false);
		expect(bucket.take(10_000)).toBe(false);
		expect(bucket.take(10_049)).toBe(false);
		expect(bucket.take(10_050)).toBe(true);
	});

	it("a sustained 20/s stream is never limited; 21/s is", () => {
		const fine = new TokenBucket(20, 40, 0);
		const ok = Array.from({ length: 2_000 }, (_, i) => fine.take(i * 50)).every(Boolean);
		expect(ok).toBe(true);
		const fast = new TokenBucket(20, 40, 0);
		const passed = Array.from({ length: 2_100 }, (_, i) => fast.take((i * 1000) / 21)).filter(Boolean).length;
		// 100 s at 20/s plus the initial burst.
		expect(passed).toBeGreaterThanOrEqual(2_039);
		expect(passed).toBeLessThanOrEqual(2_041);
	});
});

describe("KeyedLimiter", () => {
	it("keeps one bucket per key", () => {
		const limiter = new KeyedLimiter<string>(1, 2);
		expect([limiter.take("a", 0), limiter.take("a", 0), limiter.take("a", 0)]).toEqual([true, true, false]);
		expect([limiter.take("b", 0), limiter.take("b", 0), limiter.take("b", 0)]).toEqual([true, true, false]);
	});

	it("forget gives a key a fresh, full bucket", () => {
		const limiter = new KeyedLimiter<object>(1, 2);
		const key = {};
		limiter.take(key, 0);
		limiter.take(key, 0);
		expect(limiter.take(key, 0)).toBe(false);
		limiter.forget(key);
		expect([limiter.take(key, 0), limiter.take(key, 0), limiter.take(key, 0)]).toEqual([true, true, false]);
	});

	it("past maxKeys forgets only full buckets: many new keys cannot hand a spent key a fresh burst", () => {
		const limiter = new KeyedLimiter<string>(1, 2, 3);
		expect([limiter.take("spent", 0), limiter.take("spent", 0), limiter.take("spent", 0)]).toEqual([true, true, false]);
		for (let i = 0; i < 50; i++) limiter.take(`key${i}`, 0);
		expect(limiter.take("spent", 0)).toBe(false);
		// Once it refilled (2 s at 1/s), it is full again and may be forgotten without changing anything.
		expect([limiter.take("spent", 2000), limiter.take("spent", 2000), limiter.take("spent", 2000)]).toEqual([true, true, false]);
	});
});
