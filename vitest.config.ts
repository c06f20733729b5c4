import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
	const migrations = await readD1Migrations("./migrations");
	return {
		test: {
			// vitest's default on 2 cores is one file at a time; most files wait on real servers over TCP,
			// so two at once take the suite from ~4.5 to ~3 minutes here (three were faster still, but
			// timing-sensitive browser and crash tests then failed now and then on a loaded machine).
			maxWorkers: 2,
			projects: [
				{
					// Inside workerd: the Worker, D1 and the room objects, through the plugin.
					plugins: [
						cloudflareTest({
							wrangler: { configPath: "./wrangler.toml" },
							miniflare: {
								bindings: {
									ADMIN_TOKEN: "test-admin-token",
									JWT_SECRET: "test-jwt-secret",
									// The request log would print ~26,000 lines; `LOG_LEVEL=info npm test` brings it back.
									LOG_LEVEL: process.env.LOG_LEVEL ?? "error",
									TEST_MIGRATIONS: migrations,
								},
								// The self-hosted directory driver, for test/workers/directory-contract.test.ts. The app
								// still uses D1 here: openDirectory prefers DB when both are bound.
								durableObjects: { DIRECTORY: { className: "DirectoryObject", useSQLite: true } },
							},
						}),
					],
					test: { name: "workers", include: ["test/workers/**/*.test.ts"], setupFiles: ["./test/workers/setup.ts"] },
				},
				{
					// Plain Node: pure logic, and real servers over real TCP.
					test: {
						name: "node",
						include: ["test/unit/**/*.test.ts", "test/e2e/**/*.test.ts", "test/browser/**/*.test.ts"],
						environment: "node",
						testTimeout: 60_000,
						// A shared 2-core machine: a poll waits up to 10 s (a passing one returns as soon as it holds).
						expect: { poll: { timeout: 10_000 } },
						hookTimeout: 180_000,
					},
				},
			],
		},
	};
});
