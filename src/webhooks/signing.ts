/**
 * Standard Webhooks 1.0 signatures (standardwebhooks.com): `v1,<base64 HMAC-SHA256>` over
 * `"{webhook-id}.{webhook-timestamp}.{raw body}"`, keyed by the bytes of the secret's base64 part.
 */
const encoder = new TextEncoder();

export const SECRET_PREFIX = "whsec_";

const toBase64 = (bytes: Uint8Array): string => {
	let binary = "";
	for (const b of bytes) binary += String.fromCharCode(b);
	return btoa(binary);
};

const fromBase64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes (the spec allows 24 to 64). */
export function generateSecret(): string {
	return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

/** The key bytes of a `whsec_` secret; throws on anything else (our secrets are always well formed). */
export function secretKeyBytes(secret: string): Uint8Array {
	if (!secret.startsWith(SECRET_PREFIX)) throw new Error("webhook secrets start with whsec_");
	return fromBase64(secret.slice(SECRET_PREFIX.length));
}

/** One `v1,<base64>` signature of a delivery. */
export async function sign(secret: string, id: string, timestamp: number, body: string): Promise<string> {
	const key = await crypto.subtle.importKey("raw", secretKeyBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${id}.${timestamp}.${body}`));
	return `v1,${toBase64(new Uint8Array(mac))}`;
}

/** The three Standard Webhooks headers; one signature per secret, space separated (rotation). */
export async function signedHeaders(secrets: string[], id: string, timestamp: number, body: string): Promise<Record<string, string>> {
	const signatures = await Promise.all(secrets.map((secret) => sign(secret, id, timestamp, body)));
	return {
		"webhook-id": id,
		"webhook-timestamp": String(timestamp),
		"webhook-signature": signatures.join(" "),
	};
}
