// recovery.test.ts against the Deno host: connection resets under load and an offline client's catch-up.
process.env.CHAOS_RUNTIME = "deno";
await import("./recovery.test");
