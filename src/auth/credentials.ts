import type { Env } from "../env";
import { ApiError, notConfigured, unauthorized } from "../errors";
import type { Directory } from "../storage";
import type { UserRow } from "../storage/schema";
import { hashApiToken, parseClientKey } from "./api-token";
import { verifyUserToken } from "./jwt";
import type { Principal } from "./principal";

export interface Credentials {
	clientKey?: string | null;
	authorization?: string | null;
	/** A JWT from the WebSocket handshake (subprotocol or `?token=`). */
	token?: string | null;
}

export const jwtKeys = (env: Env) => {
	if (!env.JWT_SECRET) throw notConfigured("JWT_SECRET is not set; see .dev.vars.example");
	return { current: env.JWT_SECRET, previous: env.JWT_SECRET_PREVIOUS || undefined };
};

/** The token of an `Authorization: Bearer <token>` header, if that is what it holds. */
export const bearerOf = (header: string | null | undefined): string | undefined => header?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();

/**
 * Resolves credentials to a principal, or throws 401. Returns null when none were offered.
 * A user principal is only returned for a user that exists in that client.
 */
export async function authenticate(env: Env, directory: Directory, creds: Credentials): Promise<Principal | null> {
	const bearer = bearerOf(creds.authorization);
	const jwt = creds.token ?? bearer;
	if (jwt) {
		const claims = await verifyUserToken(jwtKeys(env), jwt);
		const user = await directory.getUser(claims.clientId, claims.userId);
		if (!user) throw unauthorized("The token's user no longer exists");
		refuseBanned(user);
		return { kind: "user", clientId: claims.clientId, userId: claims.userId, exp: claims.exp, via: "jwt" };
	}
	if (creds.authorization) throw unauthorized("Authorization must be `Bearer <jwt>`");
	if (creds.clientKey) {
		const parsed = parseClientKey(creds.clientKey.trim());
		if (!parsed) throw unauthorized("Malformed clientKey");
		const client = await directory.findClientByTokenHash(await hashApiToken(parsed.token));
		if (!client) throw unauthorized("Unknown API token");
		if (parsed.userId === undefined) return { kind: "backend", clientId: client.id };
		const user = await directory.getUser(client.id, parsed.userId);
		if (!user) throw unauthorized("Unknown user for this API token");
		refuseBanned(user);
		return { kind: "user", clientId: client.id, userId: user.id, exp: 0, via: "clientKey" };
	}
	return null;
}

/**
 * A user banned client-wide (POST /user/{user_id}/ban) is refused with 403 `banned` on every REST
 * call and handshake, until the ban is lifted or its `expires_at` passes (checked against the clock
 * here). The ban is on the user row already read, so this costs no query.
 */
export function refuseBanned(user: UserRow, now = Date.now()): void {
	if (user.bannedAt !== null && (user.banExpiresAt === null || user.banExpiresAt > now)) {
		throw new ApiError(403, "banned", "This user is banned");
	}
}

export function requirePrincipal(principal: Principal | undefined | null): Principal {
	if (!principal) throw unauthorized("Send `clientKey: <api_token>`, `clientKey: <api_token>.<user_id>` or `Authorization: Bearer <jwt>`");
	return principal;
}

export function requireBackend(principal: Principal | undefined | null): Extract<Principal, { kind: "backend" }> {
	const p = requirePrincipal(principal);
	if (p.kind !== "backend") throw new ApiError(403, "forbidden", "This route is for the client's backend: use `clientKey: <api_token>`");
	return p;
}

export function requireUser(principal: Principal | undefined | null): Extract<Principal, { kind: "user" }> {
	const p = requirePrincipal(principal);
	if (p.kind !== "user") {
		throw new ApiError(403, "forbidden", "This route acts as a user: use a JWT or `clientKey: <api_token>.<user_id>`");
	}
	return p;
}
