import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from "jose";
import { ApiError, unauthorized } from "../errors";
import { sha256Hex } from "./crypto";

export const JWT_ISSUER = "roomkit-chat";
export const JWT_AUDIENCE = "roomkit-chat:user";
const ALG = "HS256";

export interface UserClaims {
	userId: string;
	clientId: string;
	/** Expiry, seconds since the epoch. */
	exp: number;
}

export interface JwtKeys {
	/** Signs new tokens. */
	current: string;
	/** Still accepted for verification during a rotation. */
	previous?: string;
}

const encoder = new TextEncoder();

/** The key id is derived from the secret, so rotating needs no extra setting. */
const keyId = async (secret: string) => (await sha256Hex(`kid:${secret}`)).slice(0, 16);

export async function signUserToken(keys: JwtKeys, claims: { userId: string; clientId: string }, ttlSeconds: number, now = Date.now()) {
	const iat = Math.floor(now / 1000);
	const exp = iat + ttlSeconds;
	const token = await new SignJWT({ cid: claims.clientId })
		.setProtectedHeader({ alg: ALG, typ: "JWT", kid: await keyId(keys.current) })
		.setSubject(claims.userId)
		.setIssuer(JWT_ISSUER)
		.setAudience(JWT_AUDIENCE)
		.setIssuedAt(iat)
		.setExpirationTime(exp)
		.sign(encoder.encode(keys.current));
	return { token, exp };
}

/**
 * Verifies a user JWT: HS256 only (no `none`, no algorithm from the token), signature by
 * the current or previous secret (picked by `kid`), expiry, issuer and audience.
 */
export async function verifyUserToken(keys: JwtKeys, token: string, now = Date.now()): Promise<UserClaims> {
	let kid: string | undefined;
	try {
		kid = decodeProtectedHeader(token).kid;
	} catch {
		throw unauthorized("Malformed token");
	}
	const candidates = [keys.current, ...(keys.previous ? [keys.previous] : [])];
	let secret = candidates[0] as string;
	for (const candidate of candidates) if ((await keyId(candidate)) === kid) secret = candidate;
	try {
		const { payload } = await jwtVerify(token, encoder.encode(secret), {
			algorithms: [ALG],
			issuer: JWT_ISSUER,
			audience: JWT_AUDIENCE,
			requiredClaims: ["sub", "exp", "iat"],
			currentDate: new Date(now),
		});
		if (typeof payload.sub !== "string" || typeof payload.cid !== "string" || typeof payload.exp !== "number") {
			throw unauthorized("Token lacks its claims");
		}
		return { userId: payload.sub, clientId: payload.cid, exp: payload.exp };
	} catch (error) {
		if (error instanceof ApiError) throw error;
		if (error instanceof errors.JWTExpired) throw new ApiError(401, "token_expired", "Token expired; fetch a new one");
		throw unauthorized("Invalid token");
	}
}
