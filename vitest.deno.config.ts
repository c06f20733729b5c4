import { defineConfig } from "vitest/config";

// The core's unit tests under Deno (`npm run test:deno`, and test/e2e/deno-unit.test.ts in `npm test`):
// vitest itself runs on the Deno binary, resolving everything from node_modules.
export default defineConfig({
	test: {
		name: "deno",
		include: ["test/unit/**/*.test.ts"],
		environment: "node",
		setupFiles: ["./test/deno-setup.ts"],
		// Forks are Deno processes too; Deno's worker_threads lack what vitest's thread pool tears down with.
		pool: "forks",
	},
});
