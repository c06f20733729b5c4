// Credentials: minting user JWTs, verifying them (algorithm, signature, expiry, issuer, audience, tenant),
// both clientKey forms, and secret rotation with JWT_SECRET_PREVIOUS.
import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { bearer, call, callWithEnv, JWT_SECRET, room, type Tenant, tenant } from "./helpers";

const ISSUER = "roomkit-chat";
const AUDIENCE = "roomkit-chat:user";
const secretKey = (secret: string) => new TextEncoder().encode(secret);
const b64url = (value: unknown) => btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
const now = () => Math.floor(Date.now() / 1000);

const invalidToken = { error: { code: "unauthorized", message: "Invalid token" } };
const expired = { error: { code: "token_expired", message: "Token expired; fetch a new one" } };

interface Forge {
	secret?: string;
	alg?: "HS256" | "HS384" | "HS512";
	sub?: string;
	cid?: string;
	iss?: string;
	aud?: string;
	iat?: number;
	exp?: number;
	kid?: string;
}

/** Signs a token the way an attacker (or an old server) might, with every claim under the test's control. */
async function forge(t: Tenant, f: Forge = {}): Promise<string> {
	const iat = f.iat ?? now();
	const jwt = new SignJWT({ ...(f.cid === "" ? {} : { cid: f.cid ?? t.clientId }) })
		.setProtectedHeader({ alg: f.alg ?? "HS256", typ: "JWT", ...(f.kid ? { kid: f.kid } : {}) })
		.setIssuedAt(iat)
		.setExpirationTime(f.exp ?? iat + 600)
		.setIssuer(f.iss ?? ISSUER)
		.setAudience(f.aud ?? AUDIENCE);
	if (f.sub !== "") jwt.setSubject(f.sub ?? (t.users[0] as Tenant["users"][number]).id);
	return jwt.sign(secretKey(f.secret ?? JWT_SECRET));
}

const me = (t: Tenant, i = 0) => t.users[i] as Tenant["users"][number];

describe("POST /auth/{user_id}", () => {
	it("mints an HS256 JWT with sub, cid, iat, exp = iat + 3600, iss, aud and a kid", async () => {
		const t = await tenant(1);
		const before = now();
		const res = await call("POST", `/auth/${me(t).id}`, t.backend);
		expect(res.status).toBe(200);
		expect(res.json).toEqual({ token: expect.any(String), expires_at: expect.any(String) });

		const header = decodeProtectedHeader(res.json.token);
		expect(header).toEqual({ alg: "HS256", typ: "JWT", kid: expect.stringMatching(/^[0-9a-f]{16}$/) });
		const claims = decodeJwt(res.json.token);
		expect(claims).toEqual({
			sub: me(t).id,
			cid: t.clientId,
			iat: expect.any(Number),
			exp: expect.any(Number),
			iss: ISSUER,
			aud: AUDIENCE,
		});
		expect(claims.iat).toBeGreaterThanOrEqual(before - 1);
		expect(claims.iat).toBeLessThanOrEqual(now() + 1);
		expect(claims.exp).toBe((claims.iat as number) + 3600);
		expect(res.json.expires_at).toBe(new Date((claims.exp as number) * 1000).toISOString());

		// The token acts as that user.
		const r = await room(t);
		const sent = await call("POST", `/room/${r.id}/message/send`, bearer(res.json.token), { text_message: "hi" });
		expect(sent.status).toBe(201);
		expect(sent.json.user_id).toBe(me(t).id);
	});

	it("takes the lifetime from JWT_TTL_SECONDS", async () => {
		const t = await tenant(1);
		const res = await callWithEnv({ JWT_TTL_SECONDS: "60" }, "POST", `/auth/${me(t).id}`, t.backend);
		expect(res.status).toBe(200);
		const claims = decodeJwt(res.json.token);
		expect(claims.exp).toBe((claims.iat as number) + 60);
	});

	it("answers 404 for an unknown user and for another client's user", async () => {
		const a = await tenant(1);
		const b = await tenant(1, "other");
		for (const id of ["01900000-0000-7000-8000-000000000000", me(b).id]) {
			const res = await call("POST", `/auth/${id}`, a.backend);
			expect(res.status).toBe(404);
			expect(res.json).toEqual({ error: { code: "not_found", message: "User not found" } });
		}
	});

	it("answers 403 to user credentials: only the backend mints tokens", async () => {
		const t = await tenant(2);
		for (const headers of [me(t).auth, me(t).asKey]) {
			for (const target of [me(t).id, me(t, 1).id]) {
				const res = await call("POST", `/auth/${target}`, headers);
				expect(res.status).toBe(403);
				expect(res.json).toEqual({
					error: { code: "forbidden", message: "This route is for the client's backend: use `clientKey: <api_token>`" },
				});
			}
		}
	});

	it("answers 401 without credentials and 400 for a user id that is not a UUID", async () => {
		const t = await tenant(1);
		const none = await call("POST", `/auth/${me(t).id}`);
		expect(none.status).toBe(401);
		expect(none.json).toEqual({
			error: {
				code: "unauthorized",
				message: "Send `clientKey: <api_token>`, `clientKey: <api_token>.<user_id>` or `Authorization: Bearer <jwt>`",
			},
		});
		const bad = await call("POST", "/auth/nope", t.backend);
		expect(bad.status).toBe(400);
		expect(bad.json).toEqual({
			error: { code: "validation_failed", message: "Invalid request", fields: [{ path: "user_id", message: "Invalid UUID" }] },
		});
	});

	it("answers 503 when JWT_SECRET is not configured", async () => {
		const t = await tenant(1);
		const res = await callWithEnv({ JWT_SECRET: undefined }, "POST", `/auth/${me(t).id}`, t.backend);
		expect(res.status).toBe(503);
		expect(res.json).toEqual({ error: { code: "not_configured", message: "JWT_SECRET is not set; see .dev.vars.example" } });
	});
});

describe("JWT verification", () => {
	const asUser = async (t: Tenant, token: string) => call("GET", `/user/${me(t).id}`, bearer(token));

	it("accepts a token it minted and one forged with the right secret and claims (control case)", async () => {
		const t = await tenant(1);
		expect((await asUser(t, me(t).token)).status).toBe(200);
		expect((await asUser(t, await forge(t))).status).toBe(200);
	});

	it("rejects a payload tampered after signing", async () => {
		const t = await tenant(2);
		const [header, , signature] = me(t).token.split(".");
		const claims = decodeJwt(me(t).token);
		const tampered = `${header}.${b64url({ ...claims, sub: me(t, 1).id })}.${signature}`;
		const res = await call("GET", `/user/${me(t, 1).id}/rooms`, bearer(tampered));
		expect(res.status).toBe(401);
		expect(res.json).toEqual(invalidToken);
		// A longer lifetime is tampering too.
		const longer = `${header}.${b64url({ ...claims, exp: (claims.exp as number) + 86_400 })}.${signature}`;
		expect((await asUser(t, longer)).json).toEqual(invalidToken);
	});

	it("rejects a token with a corrupted signature", async () => {
		const t = await tenant(1);
		const token = me(t).token;
		const last = token.at(-2) === "A" ? "B" : "A";
		const res = await asUser(t, `${token.slice(0, -2)}${last}${token.at(-1)}`);
		expect(res.status).toBe(401);
		expect(res.json).toEqual(invalidToken);
	});

	it("answers token_expired for an expired token", async () => {
		const t = await tenant(1);
		const token = await forge(t, { iat: now() - 7200, exp: now() - 60 });
		const res = await asUser(t, token);
		expect(res.status).toBe(401);
		expect(res.json).toEqual(expired);
	});

	it("rejects alg none, with or without a signature", async () => {
		const t = await tenant(1);
		const claims = decodeJwt(me(t).token);
		const unsigned = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims)}.`;
		const kept = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims)}.${me(t).token.split(".")[2]}`;
		for (const token of [unsigned, kept]) {
			const res = await asUser(t, token);
			expect(res.status).toBe(401);
			expect(res.json).toEqual(invalidToken);
		}
	});

	it("rejects other HMAC algorithms even with the right secret (the algorithm is pinned)", async () => {
		const t = await tenant(1);
		for (const alg of ["HS384", "HS512"] as const) {
			const res = await asUser(t, await forge(t, { alg }));
			expect(res.status).toBe(401);
			expect(res.json).toEqual(invalidToken);
		}
	});

	it("rejects a token signed with another secret, also when it claims the server's kid", async () => {
		const t = await tenant(1);
		const kid = decodeProtectedHeader(me(t).token).kid as string;
		for (const token of [await forge(t, { secret: "not-the-secret" }), await forge(t, { secret: "not-the-secret", kid })]) {
			const res = await asUser(t, token);
			expect(res.status).toBe(401);
			expect(res.json).toEqual(invalidToken);
		}
	});

	it("rejects a wrong issuer and a wrong audience", async () => {
		const t = await tenant(1);
		for (const token of [await forge(t, { iss: "someone-else" }), await forge(t, { aud: "roomkit-chat:admin" })]) {
			const res = await asUser(t, token);
			expect(res.status).toBe(401);
			expect(res.json).toEqual(invalidToken);
		}
	});

	it("rejects a token without sub or without cid", async () => {
		const t = await tenant(1);
		const noSub = await asUser(t, await forge(t, { sub: "" }));
		expect(noSub.status).toBe(401);
		expect(noSub.json).toEqual(invalidToken);
		const noCid = await asUser(t, await forge(t, { cid: "" }));
		expect(noCid.status).toBe(401);
		expect(noCid.json).toEqual({ error: { code: "unauthorized", message: "Token lacks its claims" } });
	});

	it("rejects a validly signed token whose user is not in the claimed client", async () => {
		const a = await tenant(1);
		const b = await tenant(1, "other");
		// Client A's id with client B's user: the pair does not exist.
		const res = await asUser(a, await forge(a, { sub: me(b).id }));
		expect(res.status).toBe(401);
		expect(res.json).toEqual({ error: { code: "unauthorized", message: "The token's user no longer exists" } });
	});

	it("rejects garbage and an API token offered as a bearer token", async () => {
		const t = await tenant(1);
		for (const token of ["garbage", "a.b.c", t.key]) {
			const res = await asUser(t, token);
			expect(res.status).toBe(401);
			expect(res.json.error.code).toBe("unauthorized");
		}
	});

	it("gives another client's user JWT 404 on this client's room", async () => {
		const a = await tenant(1);
		const b = await tenant(1, "other");
		const r = await room(a);
		for (const [method, path, body] of [
			["GET", `/room/${r.id}`],
			["GET", `/room/${r.id}/messages`],
			["POST", `/room/${r.id}/message/send`, { text_message: "in?" }],
			["POST", `/room/${r.id}/join`],
		] as const) {
			const res = await call(method, path, me(b).auth, body);
			expect(res.status).toBe(404);
			expect(res.json).toEqual({ error: { code: "not_found", message: "Room not found" } });
		}
	});
});

describe("clientKey", () => {
	it("acts as the backend with `<api_token>` and as the user with `<api_token>.<user_id>`", async () => {
		const t = await tenant(1);
		const backend = await call("POST", "/user", t.backend, { name: "by backend" });
		expect(backend.status).toBe(201);
		const r = await room(t);
		const asUser = await call("POST", `/room/${r.id}/message/send`, me(t).asKey, { text_message: "from the backend, as the user" });
		expect(asUser.status).toBe(201);
		expect(asUser.json.user_id).toBe(me(t).id);
		// The user form is a user: backend-only routes refuse it.
		const create = await call("POST", "/user", me(t).asKey, {});
		expect(create.status).toBe(403);
		// The backend form is not a user: user-only routes refuse it.
		const send = await call("POST", `/room/${r.id}/message/send`, t.backend, { text_message: "x" });
		expect(send.status).toBe(403);
	});

	it("answers 401 for malformed keys", async () => {
		const t = await tenant(1);
		for (const key of ["nope", "rk_short", `${t.key}.`, `x${t.key}`, `${t.key.slice(0, -1)}!`, `.${me(t).id}`]) {
			const res = await call("GET", "/user", { clientKey: key });
			expect(res.status).toBe(401);
			expect(res.json).toEqual({ error: { code: "unauthorized", message: "Malformed clientKey" } });
		}
	});

	it("answers 401 for a well-formed unknown token", async () => {
		const res = await call("GET", "/user", { clientKey: `rk_${"A".repeat(43)}` });
		expect(res.status).toBe(401);
		expect(res.json).toEqual({ error: { code: "unauthorized", message: "Unknown API token" } });
	});

	it("answers 401 for the user form with an unknown user or another client's user", async () => {
		const a = await tenant(1);
		const b = await tenant(1, "other");
		for (const userId of ["01900000-0000-7000-8000-000000000000", me(b).id, "not-a-uuid"]) {
			const res = await call("GET", `/user/${me(a).id}`, { clientKey: `${a.key}.${userId}` });
			expect(res.status).toBe(401);
			expect(res.json).toEqual({ error: { code: "unauthorized", message: "Unknown user for this API token" } });
		}
	});

	it("answers 401 to Authorization schemes other than Bearer, even beside a valid clientKey", async () => {
		const t = await tenant(1);
		for (const headers of [
			{ Authorization: `Basic ${btoa("user:pass")}` },
			{ Authorization: `Basic ${btoa("user:pass")}`, ...t.backend },
			{ Authorization: me(t).token },
		]) {
			const res = await call("GET", `/user/${me(t).id}`, headers);
			expect(res.status).toBe(401);
			expect(res.json).toEqual({ error: { code: "unauthorized", message: "Authorization must be `Bearer <jwt>`" } });
		}
	});

	it("lets an invalid JWT fail even beside a valid clientKey (no silent fallback)", async () => {
		const t = await tenant(1);
		const malformed = await call("GET", "/user", { ...t.backend, Authorization: "Bearer a.b.c" });
		expect(malformed.status).toBe(401);
		expect(malformed.json).toEqual({ error: { code: "unauthorized", message: "Malformed token" } });
		const wrongSecret = await call("GET", "/user", { ...t.backend, ...bearer(await forge(t, { secret: "nope" })) });
		expect(wrongSecret.status).toBe(401);
		expect(wrongSecret.json).toEqual(invalidToken);
	});
});

describe("JWT secret rotation", () => {
	const rotated = { JWT_SECRET: "new-jwt-secret", JWT_SECRET_PREVIOUS: JWT_SECRET };

	it("accepts tokens signed with JWT_SECRET_PREVIOUS and signs new ones with JWT_SECRET", async () => {
		const t = await tenant(1);
		const path = `/user/${me(t).id}`;
		// me(t).token was signed with the old secret (the test Worker's JWT_SECRET).
		const old = await callWithEnv(rotated, "GET", path, me(t).auth);
		expect(old.status).toBe(200);
		expect(old.json.id).toBe(me(t).id);

		const minted = await callWithEnv(rotated, "POST", `/auth/${me(t).id}`, t.backend);
		expect(minted.status).toBe(200);
		expect(decodeProtectedHeader(minted.json.token).kid).not.toBe(decodeProtectedHeader(me(t).token).kid);
		expect((await callWithEnv(rotated, "GET", path, bearer(minted.json.token))).status).toBe(200);
		// Without the new secret configured, the new token is worthless.
		expect((await call("GET", path, bearer(minted.json.token))).json).toEqual(invalidToken);
	});

	it("verifies a token without kid against JWT_SECRET (every minted token carries one)", async () => {
		const t = await tenant(1);
		const path = `/user/${me(t).id}`;
		expect((await callWithEnv(rotated, "GET", path, bearer(await forge(t, { secret: rotated.JWT_SECRET })))).status).toBe(200);
		const previous = await callWithEnv(rotated, "GET", path, bearer(await forge(t)));
		expect(previous.status).toBe(401);
		expect(previous.json).toEqual(invalidToken);
	});

	it("rejects tokens signed with the old secret once JWT_SECRET_PREVIOUS is removed", async () => {
		const t = await tenant(1);
		const res = await callWithEnv({ JWT_SECRET: "new-jwt-secret" }, "GET", `/user/${me(t).id}`, me(t).auth);
		expect(res.status).toBe(401);
		expect(res.json).toEqual(invalidToken);
	});

	it("still checks expiry for tokens signed with the previous secret", async () => {
		const t = await tenant(1);
		const kid = decodeProtectedHeader(me(t).token).kid as string;
		const token = await forge(t, { iat: now() - 7200, exp: now() - 1, kid });
		const res = await callWithEnv(rotated, "GET", `/user/${me(t).id}`, bearer(token));
		expect(res.status).toBe(401);
		expect(res.json).toEqual(expired);
	});
});
