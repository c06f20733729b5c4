// What `npm run deploy` uploads: wrangler bundles the Worker for Cloudflare with the D1 directory
// and the room objects, without an account (--dry-run), as CI does on every run.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { ROOT } from "./harness";

const outdir = mkdtempSync(join(tmpdir(), "roomkit-deploy-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

it("wrangler deploy --dry-run bundles the Worker with D1 and the room objects", () => {
	const run = spawnSync(
		process.execPath,
		[join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "--outdir", outdir],
		{
			cwd: ROOT,
			encoding: "utf8",
			timeout: 120_000,
			env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_API_TOKEN: "", CLOUDFLARE_ACCOUNT_ID: "" },
		},
	);
	expect(run.stderr.replace(/.*update available.*\n?/g, "")).not.toMatch(/ERROR|✘/);
	expect(run.status).toBe(0);
	const bindings = run.stdout.split("\n").filter((l) => l.startsWith("env."));
	expect(bindings.filter((l) => / (Durable Object|D1 Database)\s*$/.test(l)).map((l) => l.replace(/\s+/g, " ").trim())).toEqual([
		"env.ROOMS (RoomObject) Durable Object",
		"env.GATEWAYS (GatewayObject) Durable Object",
		"env.WEBHOOKS (WebhookDispatcher) Durable Object",
		"env.DB (roomkit-chat) D1 Database",
	]);
	expect(run.stdout).toContain("--dry-run: exiting now.");

	const files = readdirSync(outdir).sort();
	// wrangler names extra modules `<sha1>-<file>`, so they sort by hash: compare them by file name.
	const modules = files.filter((f) => !f.endsWith(".map") && f !== "README.md");
	expect(modules.every((f) => f === "index.js" || /^[0-9a-f]{40}-/.test(f))).toBe(true);
	expect(modules.map((f) => f.replace(/^[0-9a-f]{40}-/, "")).sort()).toEqual([
		"0000_init.sql",
		"0001_webhooks.sql",
		"0002_message_flags.sql",
		"0003_moderation.sql",
		"index.js",
	]);
	const bundle = readFileSync(join(outdir, "index.js"), "utf8");
	// Every Durable Object class ships; Cloudflare binds ROOMS and WEBHOOKS and keeps the directory in D1.
	expect(bundle).toMatch(/export\s*\{[^}]*\bDirectoryObject\b[^}]*\}/);
	expect(bundle).toMatch(/export\s*\{[^}]*\bRoomObject\b[^}]*\}/);
	expect(bundle).toMatch(/export\s*\{[^}]*\bWebhookDispatcher\b[^}]*\}/);
});

it("npm run deploy applies the D1 migrations remotely before deploying", () => {
	const scripts = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts;
	expect(scripts.deploy).toBe("wrangler d1 migrations apply DB --remote && wrangler deploy");
	expect(scripts.build).toBe("node scripts/build.mjs");
	expect(scripts.selfhost).toBe("node scripts/selfhost.mjs");
});
