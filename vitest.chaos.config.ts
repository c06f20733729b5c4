import { defineConfig } from "vitest/config";

// `npm run test:chaos`: the long crash, recovery and soak runs against bare workerd on
// 127.0.0.1, one file at a time (they measure the server, so they must not compete), bounded
// to well under 15 minutes. Not part of `npm test`.
export default defineConfig({
	test: {
		name: "chaos",
		include: ["test/chaos/**/*.test.ts"],
		environment: "node",
		fileParallelism: false,
		testTimeout: 600_000,
		hookTimeout: 180_000,
		globalSetup: ["./test/chaos/global-setup.ts"],
	},
});
