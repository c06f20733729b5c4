// `npm start`: local development on wrangler dev (local D1 and Durable Objects, state in .wrangler/).
// Creates .dev.vars from .dev.vars.example when missing, applies D1 migrations, starts the
// server on 127.0.0.1:$PORT (default 8787) and prints where everything is.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const port = process.env.PORT || "8787";
// HOST=0.0.0.0 inside a container (docker-compose-local.yml), so the published port reaches it.
const host = process.env.HOST || "127.0.0.1";
const base = `http://${host}:${port}`;
const varsPath = join(root, ".dev.vars");

if (!existsSync(varsPath)) {
	const example = readFileSync(join(root, ".dev.vars.example"), "utf8");
	writeFileSync(
		varsPath,
		example.replace(/=generate$/gm, () => `=${randomBytes(24).toString("base64url")}`),
		{ mode: 0o600 },
	);
	console.log("Created .dev.vars with fresh local secrets.");
}

const run = (args) => spawnSync(process.execPath, [wrangler, ...args], { cwd: root, stdio: "inherit", env: process.env });

const migrate = run(["d1", "migrations", "apply", "DB", "--local"]);
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const child = spawn(process.execPath, [wrangler, "dev", "--ip", host, "--port", port, "--show-interactive-dev-session=false"], {
	cwd: root,
	stdio: "inherit",
	env: process.env,
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

// Print the banner once the server answers.
const started = Date.now();
while (Date.now() - started < 120_000) {
	try {
		const res = await fetch(`${base}/health`);
		if (res.ok) break;
	} catch {}
	await new Promise((r) => setTimeout(r, 300));
}
console.log(`
  Roomkit chat is running
    API      ${base}
    Docs     ${base}/docs
    Demo     ${base}/demo
    Admin    ADMIN_TOKEN is in ${varsPath}
`);
