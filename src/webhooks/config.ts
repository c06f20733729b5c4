import type { Env } from "../env";
import { parseSchedule } from "./schedule";

/** Webhook settings resolved from the environment, with the defaults the README documents. */
export interface WebhookConfig {
	/** `http://` and private/loopback targets allowed (WEBHOOK_ALLOW_INSECURE=1). */
	allowInsecure: boolean;
	/** Seconds to wait after each failed attempt; the delivery gives up once they run out. */
	retrySchedule: number[];
	/** Milliseconds an attempt may take before it counts as failed. */
	timeoutMs: number;
	/** A dispatcher with endpoints checks the directory outbox at least this often (a kick lost in a crash). */
	sweepMs: number;
	/** How long the previous secret keeps signing beside the new one after a rotation. */
	secretOverlapMs: number;
	/** Most endpoints per client. */
	maxEndpoints: number;
}

const cache = new WeakMap<object, WebhookConfig>();

const positive = (raw: string | null | undefined, fallback: number, name: string): number => {
	if (raw == null || raw.trim() === "") return fallback;
	const value = Number(raw);
	if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
	return value;
};

export function loadWebhookConfig(env: Env): WebhookConfig {
	const hit = cache.get(env);
	if (hit) return hit;
	const config: WebhookConfig = {
		allowInsecure: env.WEBHOOK_ALLOW_INSECURE === "1",
		retrySchedule: parseSchedule(env.WEBHOOK_RETRY_SCHEDULE),
		timeoutMs: positive(env.WEBHOOK_TIMEOUT_MS, 15_000, "WEBHOOK_TIMEOUT_MS"),
		sweepMs: positive(env.WEBHOOK_SWEEP_SECONDS, 300, "WEBHOOK_SWEEP_SECONDS") * 1000,
		secretOverlapMs: positive(env.WEBHOOK_SECRET_OVERLAP_SECONDS, 86_400, "WEBHOOK_SECRET_OVERLAP_SECONDS") * 1000,
		maxEndpoints: 20,
	};
	cache.set(env, config);
	return config;
}

/** The operator secret endpoint secrets are encrypted under: WEBHOOK_ENCRYPTION_KEY, else JWT_SECRET. */
export const encryptionSecretOf = (env: Env): string | null => env.WEBHOOK_ENCRYPTION_KEY || env.JWT_SECRET || null;
