import { randomToken, sha256Hex, timingSafeEqual } from "./crypto";

/**
 * API tokens look like `rk_<43 base64url chars>`: no `.`, so `clientKey: <token>.<user_id>`
 * splits unambiguously. Only the SHA-256 of a token is stored.
 */
export const API_TOKEN_PREFIX = "rk_";
const TOKEN_SHAPE = /^rk_[A-Za-z0-9_-]{43}$/;

export const newApiToken = (): string => `${API_TOKEN_PREFIX}${randomToken(32)}`;

export const hashApiToken = (token: string): Promise<string> => sha256Hex(token);

export const looksLikeApiToken = (value: string): boolean => TOKEN_SHAPE.test(value);

/** Splits a `clientKey` header into the token and, in its user form, the user id. */
export function parseClientKey(header: string): { token: string; userId?: string } | null {
	const dot = header.indexOf(".");
	const token = dot === -1 ? header : header.slice(0, dot);
	if (!looksLikeApiToken(token)) return null;
	if (dot === -1) return { token };
	const userId = header.slice(dot + 1);
	return userId ? { token, userId } : null;
}

/** Checks the admin bearer token against the configured one, in constant time. */
export async function isAdminToken(offered: string, configured: string): Promise<boolean> {
	const [a, b] = await Promise.all([sha256Hex(offered), sha256Hex(configured)]);
	return timingSafeEqual(a, b);
}
