export interface BackoffOptions {
	/** Cap of the first retry's delay (default 500 ms). */
	minDelayMs?: number;
	/** Cap of any delay (default 15 s). */
	maxDelayMs?: number;
}

/**
 * Exponential backoff with "equal jitter": half the window is fixed, half random, so
 * clients dropped together by one outage do not come back together.
 */
export function backoffDelay(
	attempt: number,
	{ minDelayMs = 500, maxDelayMs = 15_000 }: BackoffOptions = {},
	random = Math.random,
): number {
	const window = Math.min(maxDelayMs, minDelayMs * 2 ** Math.max(0, attempt));
	return window / 2 + random() * (window / 2);
}
