// Types for `env` and `exports` from "cloudflare:workers" inside the tests: the Worker's own
// bindings and main module (what `wrangler types` would generate, written once by hand).
declare namespace Cloudflare {
	interface Env extends Omit<import("../../src/env").Env, "DB"> {
		DB: D1Database;
		TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
	}
	interface GlobalProps {
		mainModule: typeof import("../../src/runtimes/cloudflare/index");
		durableNamespaces: "RoomObject" | "DirectoryObject";
	}
}
