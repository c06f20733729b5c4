import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { jwtKeys, requireBackend } from "../auth/credentials";
import { signUserToken } from "../auth/jwt";
import { notFound } from "../errors";
import { AuthToken } from "../schemas/user";
import { type AppEnv, configOf, directoryOf, principalOf } from "./context";
import { callers, errors, json, security, UserIdParam } from "./openapi";

const issueToken = createRoute({
	method: "post",
	path: "/auth/{user_id}",
	tags: ["Auth"],
	summary: "Mint a JWT for one of your users (backend only)",
	description: "HS256, claims `sub` (user id), `cid` (client id), `iat`, `exp`, `iss`, `aud`. Lifetime `JWT_TTL_SECONDS` (default 1 hour).",
	security: security.backend,
	middleware: [callers.backend] as const,
	request: { params: UserIdParam },
	responses: { 200: json(AuthToken, "The token"), 401: errors[401], 403: errors[403], 404: errors[404], 503: errors[503] },
});

export const authRoutes = new OpenAPIHono<AppEnv>().openapi(issueToken, async (c) => {
	const backend = requireBackend(await principalOf(c));
	const { user_id } = c.req.valid("param");
	const user = await directoryOf(c).getUser(backend.clientId, user_id);
	if (!user) throw notFound("User");
	const { token, exp } = await signUserToken(jwtKeys(c.env), { userId: user.id, clientId: backend.clientId }, configOf(c).jwtTtlSeconds);
	return c.json({ token, expires_at: new Date(exp * 1000).toISOString() }, 200);
});
