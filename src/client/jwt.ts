/** The claims the SDK reads from a JWT. It never verifies them: that is the server's job. */
export interface TokenClaims {
	/** The user id. */
	sub?: string;
	/** Issued at, seconds since the epoch. */
	iat?: number;
	/** Expiry, seconds since the epoch. */
	exp?: number;
}

/** Reads a JWT's payload (to schedule a refresh before `exp`); returns `{}` for anything malformed. */
export function readTokenClaims(token: string): TokenClaims {
	const payload = token.split(".")[1];
	if (!payload) return {};
	try {
		const base64 = payload
			.replace(/-/g, "+")
			.replace(/_/g, "/")
			.padEnd(Math.ceil(payload.length / 4) * 4, "=");
		const value: unknown = JSON.parse(atob(base64));
		if (typeof value !== "object" || value === null) return {};
		const { sub, iat, exp } = value as Record<string, unknown>;
		return {
			...(typeof sub === "string" ? { sub } : {}),
			...(typeof iat === "number" ? { iat } : {}),
			...(typeof exp === "number" ? { exp } : {}),
		};
	} catch {
		return {};
	}
}
