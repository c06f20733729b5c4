import { describe, expect, it } from "vitest";
import { uuidv7 } from "../../src/ids";

describe("uuidv7", () => {
	it("is an RFC 9562 version 7 UUID whose first 48 bits are the timestamp", () => {
		for (const now of [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 1_764_590_000_123, 2 ** 48 - 1]) {
			const id = uuidv7(now);
			expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
			expect(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(now);
		}
	});

	it("sorts by creation time and never repeats, across refills of its random pool", () => {
		const ids = Array.from({ length: 5_000 }, (_, i) => uuidv7(1_764_590_000_000 + Math.floor(i / 7)));
		expect(new Set(ids).size).toBe(ids.length);
		const byTime = ids.map((id) => id.slice(0, 13));
		expect([...byTime].sort()).toEqual(byTime);
		// The random part varies: not a counter, not constant.
		expect(new Set(ids.map((id) => id.slice(-12))).size).toBe(ids.length);
	});
});
