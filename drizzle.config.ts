import { defineConfig } from "drizzle-kit";

// `npx drizzle-kit generate` writes a new numbered SQL migration into migrations/
// from src/storage/schema.ts; D1 (wrangler d1 migrations apply) and the self-hosted
// directory object both apply those same files.
export default defineConfig({
	dialect: "sqlite",
	schema: "./src/storage/schema.ts",
	out: "./migrations",
});
