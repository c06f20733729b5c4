// `npm run selfhost`: the service on bare workerd (the binary npm installed), no Cloudflare
// account and no Docker. Builds dist/ when sources changed, reads settings from the environment
// and `.env` (created from .env.example with fresh secrets on first run), creates DATA_DIR and
// runs the same workerd command as the production image (selfhost/command.mjs).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { workerdArgs } from "../selfhost/command.mjs";
import { loadEnvFile } from "./env-file.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// ENV_FILE picks another settings file, e.g. /etc/roomkit.env on a server; the shell wins over it.
const { env, envPath } = loadEnvFile(root);

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
