import { defineConfig } from "vitest/config";

// `npm run test:chaos` (test/chaos/run.mjs) runs this: the long crash, recovery and soak runs against bare workerd on
// 127.0.0.1, one file at a time (they measure the server, so they must not compete), bounded
// to well under 15 minutes. Not part of `npm test`.
export default defineConfig({
	test: {
		name: "chaos",
		// The WebSocket fuzzer from `npm test` again, five times longer.
		include: ["test/chaos/**/*.test.ts", "test/e2e/abuse-fuzz-ws.test.ts"],
		env: { FUZZ_RUNS: process.env.FUZZ_RUNS ?? "25000", CHAOS_RUN: "1" },
		environment: "node",
		fileParallelism: false,
		testTimeout: 600_000,
		hookTimeout: 180_000,
		globalSetup: ["./test/chaos/global-setup.ts"],
	},
});
