// `npm run start:deno` (and `deno task start`): the service on Deno in one process, SQLite files
// in DATA_DIR (default ./data-deno). Same settings file as `npm run selfhost` (.env or ENV_FILE).
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { denoArgs, denoBinary } from "./deno-command.mjs";
import { loadEnvFile } from "./env-file.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { env, envPath } = loadEnvFile(root);
// Not workerd's ./data: the two runtimes keep different files.
const dataDir = resolve(root, env.DATA_DIR_DENO || "data-deno");
mkdirSync(dataDir, { recursive: true });

const child = spawn(denoBinary(), denoArgs({ dataDir }), {
	cwd: root,
	stdio: "inherit",
	env: { ...env, DATA_DIR: dataDir, ROOMKIT_ADMIN_TOKEN_IN: process.env.ADMIN_TOKEN ? "your environment" : envPath },
});
// The host closes its sockets with 1001 and its databases cleanly on SIGTERM or SIGINT.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
