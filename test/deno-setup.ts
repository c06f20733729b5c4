// Setup of vitest.deno.config.ts: these runs must really be on Deno, not on a Node fallback.
if (typeof (globalThis as { Deno?: { version?: { deno?: string } } }).Deno?.version?.deno !== "string") {
	throw new Error(`vitest.deno.config.ts must run under Deno (npm run test:deno), not ${process.execPath}`);
}
