// crash.test.ts against the Deno host: the same clients, kills and checks (0 acknowledged lost, 0 gaps).
process.env.CHAOS_RUNTIME = "deno";
await import("./crash.test");
