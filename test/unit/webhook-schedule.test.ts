import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_SCHEDULE_SECONDS, parseSchedule, retryAfterMs, retryDelayMs } from "../../src/webhooks/schedule";

describe("retry schedule", () => {
	it("defaults to the Standard Webhooks schedule, more than 24 hours in all", () => {
		expect(parseSchedule(undefined)).toEqual([5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]);
		expect(parseSchedule(null)).toEqual([...DEFAULT_RETRY_SCHEDULE_SECONDS]);
		const total = DEFAULT_RETRY_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0) * 0.8;
		expect(total).toBeGreaterThan(24 * 3600);
	});

	it("lasts what the README and the schedule's comment say: 75.6 h in all, 60.5-90.7 h with jitter", () => {
		const seconds = DEFAULT_RETRY_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0);
		expect(seconds).toBe(272_105);
		const hours = (s: number) => `${(s / 3600).toFixed(1)} h`;
		const days = (s: number) => `${(s / 86400).toFixed(2)} days`;
		const figures = [hours(seconds), days(seconds), hours(seconds * 0.8), days(seconds * 0.8), hours(seconds * 1.2), days(seconds * 1.2)];
		expect(figures).toEqual(["75.6 h", "3.15 days", "60.5 h", "2.52 days", "90.7 h", "3.78 days"]);
		const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
		const webhooks = readme.slice(readme.indexOf("## Webhooks"), readme.indexOf("## Moderation"));
		const comment = readFileSync(new URL("../../src/webhooks/schedule.ts", import.meta.url), "utf8");
		for (const figure of figures) {
			expect(webhooks).toContain(figure);
			expect(comment).toContain(figure);
		}
	});

	it("parses a configured schedule and refuses nonsense with a message naming the setting", () => {
		expect(parseSchedule("0.1, 0.2,1")).toEqual([0.1, 0.2, 1]);
		expect(() => parseSchedule("5,soon")).toThrow(
			new Error('WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, e.g. "5,300,1800", got "5,soon"'),
		);
		expect(() => parseSchedule("-1")).toThrow(/WEBHOOK_RETRY_SCHEDULE/);
	});

	it("spreads each delay by +-20 % and gives up when the schedule runs out", () => {
		const schedule = [5, 300];
		expect(retryDelayMs(schedule, 1, 0)).toBe(4000);
		expect(retryDelayMs(schedule, 1, 0.5)).toBe(5000);
		expect(retryDelayMs(schedule, 1, 0.999999)).toBe(6000);
		expect(retryDelayMs(schedule, 2, 0.5)).toBe(300_000);
		expect(retryDelayMs(schedule, 3, 0.5)).toBeNull();
	});

	it("reads Retry-After as seconds or an HTTP date, clamped to 24 hours", () => {
		const now = Date.parse("2026-12-01T00:00:00Z");
		expect(retryAfterMs("7", now)).toBe(7000);
		expect(retryAfterMs("Tue, 01 Dec 2026 00:00:30 GMT", now)).toBe(30_000);
		expect(retryAfterMs("Mon, 30 Nov 2026 00:00:00 GMT", now)).toBe(0);
		expect(retryAfterMs("999999999", now)).toBe(24 * 3600 * 1000);
		expect(retryAfterMs("soon", now)).toBeNull();
		expect(retryAfterMs(null, now)).toBeNull();
	});
});
