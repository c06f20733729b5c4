// `npm run selfhost`: the service on bare workerd (the binary npm installed), no Cloudflare
// account and no Docker. Builds dist/ when sources changed, reads settings from the environment
// and `.env` (created from .env.example with fresh secrets on first run), creates DATA_DIR and
// runs the same workerd command as the production image (selfhost/command.mjs).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { workerdArgs } from "../selfhost/command.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// ENV_FILE picks another settings file, e.g. /etc/roomkit.env on a server.
const envPath = resolve(root, process.env.ENV_FILE || ".env");

if (!existsSync(envPath)) {
	const example = readFileSync(join(root, ".env.example"), "utf8");
	writeFileSync(
		envPath,
		example.replace(/=generate$/gm, () => `=${randomBytes(24).toString("base64url")}`),
		{ mode: 0o600 },
	);
	console.log(`Created ${envPath} with fresh secrets (ADMIN_TOKEN, JWT_SECRET).`);
}

// The shell wins over .env, as with docker-compose.
const fromFile = {};
for (const line of readFileSync(envPath, "utf8").split(/\r?\n/)) {
	const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
	if (match?.[1]) fromFile[match[1]] = match[2].trim();
}
const env = { ...fromFile, ...process.env };
for (const name of ["ADMIN_TOKEN", "JWT_SECRET"]) {
	if (!env[name] || env[name] === "generate") {
		console.error(`${name} is not set: set it in ${envPath} (see .env.example) or in the environment.`);
		process.exit(1);
	}
}

const built = spawnSync(process.execPath, [join(root, "scripts", "build.mjs"), "--if-stale"], { cwd: root, stdio: "inherit" });
if (built.status !== 0) process.exit(built.status ?? 1);

const host = env.HOST || "127.0.0.1";
const port = env.PORT || "8787";
const dataDir = resolve(root, env.DATA_DIR || "data");
mkdirSync(dataDir, { recursive: true });

const workerd = createRequire(import.meta.url)("workerd").default;
const child = spawn(workerd, workerdArgs({ address: `${host}:${port}`, dataDir }), { cwd: root, stdio: "inherit", env });
// On SIGTERM workerd waits for every open WebSocket to close, which for a chat may be never.
// Nothing acknowledged is lost by a kill (each write is committed before it is acknowledged),
// so stop it outright after a short wait, or at once on a second Ctrl-C.
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
	process.on(signal, () => {
		if (stopping) return child.kill("SIGKILL");
		stopping = true;
		child.kill("SIGTERM");
		setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
		console.log("Stopping workerd (open WebSockets are cut after 5 s; Ctrl-C again to stop now).");
	});
}
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

const local = `http://${host === "0.0.0.0" || host === "*" ? "127.0.0.1" : host}:${port}`;
const started = Date.now();
let healthy = false;
while (!healthy && Date.now() - started < 60_000) {
	try {
		healthy = (await fetch(`${local}/health`)).ok;
	} catch {}
	if (!healthy) await new Promise((r) => setTimeout(r, 200));
}
if (!healthy) console.error(`workerd did not answer ${local}/health within a minute; see its output above.`);
else
	console.log(`
  Roomkit chat is running on workerd
    API      ${local}
    Docs     ${local}/docs
    Demo     ${local}/demo
    Data     ${dataDir}
    Admin    ADMIN_TOKEN is in ${process.env.ADMIN_TOKEN ? "your environment" : envPath}
`);
