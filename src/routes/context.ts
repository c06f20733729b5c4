import type { Context } from "hono";
import { authenticate } from "../auth/credentials";
import type { Principal } from "../auth/principal";
import { type Config, loadConfig } from "../config";
import type { Env } from "../env";
import { type Directory, openDirectory } from "../storage";

export type AppEnv = {
	Bindings: Env;
	Variables: {
		principal: Principal | null;
		directory: Directory;
		/** Set once credentials are checked, for the request log line. */
		clientId: string;
	};
};

export type AppContext = Context<AppEnv>;

export const configOf = (c: AppContext): Config => loadConfig(c.env);

/** The page size a list route serves: the asked `limit` or the default, clamped to the maximum. */
export const pageSizeOf = (c: AppContext, limit: number | undefined): number => {
	const config = configOf(c);
	return Math.min(limit ?? config.defaultPageSize, config.maxPageSize);
};

export function directoryOf(c: AppContext): Directory {
	let directory = c.get("directory");
	if (!directory) {
		directory = openDirectory(c.env);
		c.set("directory", directory);
	}
	return directory;
}

/** The caller, from `clientKey` or `Authorization: Bearer`; null when no credentials were sent. */
export async function principalOf(c: AppContext): Promise<Principal | null> {
	const cached = c.get("principal");
	if (cached !== undefined) return cached;
	const principal = await authenticate(c.env, directoryOf(c), {
		clientKey: c.req.header("clientKey"),
		authorization: c.req.header("Authorization"),
	});
	c.set("principal", principal);
	if (principal) c.set("clientId", principal.clientId);
	return principal;
}
