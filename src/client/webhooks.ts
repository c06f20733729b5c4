// Verifying a webhook delivery on the receiving side (Standard Webhooks 1.0), with WebCrypto
// only, so it runs in Node >= 22, Deno, Bun, Workers and browsers.
import type { z } from "zod";
import type { EventData, EventTypeT } from "../webhooks/events";

/** One delivered event, typed by its `type`. */
export type WebhookEvent = {
	[T in EventTypeT]: { type: T; timestamp: string; data: z.infer<(typeof EventData)[T]> };
}[EventTypeT];

export type WebhookVerificationErrorCode =
	| "missing_headers"
	| "invalid_secret"
	| "timestamp_out_of_range"
	| "invalid_signature"
	| "invalid_payload";

/** Why a delivery was refused: answer it with a 4xx and do not act on it. */
export class WebhookVerificationError extends Error {
	override readonly name = "WebhookVerificationError";

	constructor(
		readonly code: WebhookVerificationErrorCode,
		message: string,
	) {
		super(message);
	}
}

export interface VerifyWebhookOptions {
	/** How far `webhook-timestamp` may be from now, in seconds (default 300, as the reference libraries). */
	toleranceSeconds?: number;
	/** Milliseconds since the epoch (default `Date.now`), for tests. */
	now?: () => number;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

const header = (headers: HeaderSource, name: string): string | undefined => {
	if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
	const record = headers as Record<string, string | string[] | undefined>;
	const key = Object.keys(record).find((k) => k.toLowerCase() === name);
	const value = key === undefined ? undefined : record[key];
	return Array.isArray(value) ? value[0] : value;
};

const encoder = new TextEncoder();

const base64 = (bytes: Uint8Array): string => {
	let binary = "";
	for (const b of bytes) binary += String.fromCharCode(b);
	return btoa(binary);
};

function equalInConstantTime(a: string, b: string): boolean {
	if (a.length !== b.length) return false;
	let diff = 0;
	for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
	return diff === 0;
}

const bytesOf = (body: string | Uint8Array): Uint8Array => (typeof body === "string" ? encoder.encode(body) : body);

/**
 * Checks a delivery's headers, `webhook-timestamp` against the clock and `webhook-signature`
 * against `secret` (the `whsec_…` value from POST /webhooks), without reading the body as an
 * event; resolves when they are valid and throws a {@link WebhookVerificationError} otherwise.
 * The HMAC covers the body's bytes exactly as given: bytes are signed as they are, never decoded
 * and encoded again.
 */
export async function verifyWebhookSignature(
	secret: string,
	headers: HeaderSource,
	rawBody: string | Uint8Array,
	options: VerifyWebhookOptions = {},
): Promise<void> {
	const id = header(headers, "webhook-id");
	const timestamp = header(headers, "webhook-timestamp");
	const signatures = header(headers, "webhook-signature");
	if (!id || !timestamp || !signatures) {
		throw new WebhookVerificationError("missing_headers", "Expected webhook-id, webhook-timestamp and webhook-signature headers");
	}
	const seconds = Number(timestamp);
	const now = (options.now ?? Date.now)() / 1000;
	if (!/^\d+$/.test(timestamp) || Math.abs(now - seconds) > (options.toleranceSeconds ?? 300)) {
		throw new WebhookVerificationError("timestamp_out_of_range", "webhook-timestamp is missing, malformed or too far from now");
	}
	let keyBytes: Uint8Array;
	try {
		keyBytes = Uint8Array.from(atob(secret.replace(/^whsec_/, "")), (c) => c.charCodeAt(0));
	} catch {
		throw new WebhookVerificationError("invalid_secret", "The secret is not a whsec_ value");
	}
	const prefix = encoder.encode(`${id}.${timestamp}.`);
	const body = bytesOf(rawBody);
	const signed = new Uint8Array(prefix.length + body.length);
	signed.set(prefix);
	signed.set(body, prefix.length);
	const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	const expected = base64(new Uint8Array(await crypto.subtle.sign("HMAC", key, signed)));
	const valid = signatures
		.split(" ")
		.map((s) => s.split(","))
		.some(([version, signature]) => version === "v1" && signature !== undefined && equalInConstantTime(signature, expected));
	if (!valid) throw new WebhookVerificationError("invalid_signature", "No v1 signature matches this secret");
}

/**
 * Checks a delivery as {@link verifyWebhookSignature} does, then returns the parsed event.
 *
 * Pass the body exactly as received (a string or, better, the bytes): a framework that parses
 * JSON and serialises it again changes the bytes, and the signature no longer matches. Use the
 * event's `webhook-id` header to de-duplicate: it is the same on every attempt.
 */
export async function verifyWebhook(
	secret: string,
	headers: HeaderSource,
	rawBody: string | Uint8Array,
	options: VerifyWebhookOptions = {},
): Promise<WebhookEvent> {
	await verifyWebhookSignature(secret, headers, rawBody, options);
	const body = typeof rawBody === "string" ? rawBody : new TextDecoder().decode(rawBody);
	let event: unknown;
	try {
		event = JSON.parse(body);
	} catch {
		throw new WebhookVerificationError("invalid_payload", "The body is not JSON");
	}
	const shape = event as { type?: unknown; timestamp?: unknown; data?: unknown } | null;
	if (
		typeof shape !== "object" ||
		shape === null ||
		typeof shape.type !== "string" ||
		typeof shape.timestamp !== "string" ||
		!("data" in shape)
	) {
		throw new WebhookVerificationError("invalid_payload", "Expected {type, timestamp, data}");
	}
	return event as WebhookEvent;
}
