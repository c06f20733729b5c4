/**
 * When a failed delivery is tried again: each entry is the wait after one failed attempt (the
 * first attempt, then 9 retries). The default follows the Standard Webhooks guidance: 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h, 272,105 s in all, so the last attempt comes about
 * 75.6 h (3.15 days) after the first; with +-20 % jitter on each wait, between 60.5 h (2.52 days)
 * and 90.7 h (3.78 days), plus the time the attempts themselves take. The jitter spreads retries
 * so an endpoint that comes back is not hit by every room at the same instant.
 */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400];

/** Spread of each delay: a delay d waits between d * (1 - JITTER) and d * (1 + JITTER). */
export const JITTER = 0.2;

/** Longest Retry-After we honour; a longer one is clamped to it. */
export const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

/** Parses `WEBHOOK_RETRY_SCHEDULE` ("5,300,1800" seconds, decimals allowed); unset gives the default. */
export function parseSchedule(raw: string | null | undefined): number[] {
	if (raw == null || raw.trim() === "") return [...DEFAULT_RETRY_SCHEDULE_SECONDS];
	const delays = raw.split(",").map((part) => Number(part.trim()));
	if (delays.length === 0 || delays.some((d) => !Number.isFinite(d) || d < 0)) {
		throw new Error(`WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, e.g. "5,300,1800", got ${JSON.stringify(raw)}`);
	}
	return delays;
}

/**
 * Milliseconds to wait after failed attempt number `attempts` (1 = the first attempt failed),
 * or null when the schedule is exhausted and the delivery gives up. `random` is in [0, 1).
 */
export function retryDelayMs(schedule: readonly number[], attempts: number, random: number): number | null {
	const seconds = schedule[attempts - 1];
	if (seconds === undefined) return null;
	return Math.round(seconds * 1000 * (1 - JITTER + 2 * JITTER * random));
}

/** A `Retry-After` header (seconds or an HTTP date) in milliseconds from `now`, or null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | null {
	if (header === null) return null;
	const text = header.trim();
	if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
	const at = Date.parse(text);
	if (Number.isNaN(at)) return null;
	return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}
