// abuse-unread.test.ts against the Deno host: the same MAX_UNREAD_BYTES cap and close code 4008.
process.env.E2E_RUNTIME = "deno";
await import("./abuse-unread.test");
