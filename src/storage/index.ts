import { drizzle } from "drizzle-orm/d1";
import type { Env } from "../env";
import type { Directory } from "./directory";
import { DrizzleDirectory } from "./drizzle-directory";
import * as schema from "./schema";

export type { Directory, Page } from "./directory";

/** Picks the directory by the binding that exists: D1 on Cloudflare, the directory object on bare workerd. */
export function openDirectory(env: Env): Directory {
	if (env.DB) {
		const db = drizzle(env.DB, { schema });
		return new DrizzleDirectory(db, (writes) => db.batch(writes));
	}
	if (env.DIRECTORY) return env.DIRECTORY.get(env.DIRECTORY.idFromName("directory")) as unknown as Directory;
	throw new Error("No directory storage: bind a D1 database as DB, or a DirectoryObject namespace as DIRECTORY");
}
