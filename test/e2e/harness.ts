// Starts real servers for black-box tests over TCP on 127.0.0.1, bounded in time.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { denoArgs, denoBinary } from "../../scripts/deno-command.mjs";
import { workerdArgs } from "../../selfhost/command.mjs";

export const ROOT = join(import.meta.dirname, "..", "..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
/** The workerd binary npm installed (what `npm run selfhost` runs). */
export const WORKERD: string = createRequire(import.meta.url)("workerd").default;

export interface RunningServer {
	base: string;
	adminToken: string;
	jwtSecret: string;
	/** Directory holding the server's state (kept between restart() calls). */
	stateDir: string;
	logs: () => string;
	stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.unref();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
		});
	});
}

export async function waitForHealth(base: string, child: ChildProcess, timeoutMs = 90_000): Promise<void> {
	const started = Date.now();
	while (Date.now() - started < timeoutMs) {
		if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before answering`);
		try {
			const res = await fetch(`${base}/health`);
			if (res.ok) return;
		} catch {}
		await new Promise((r) => setTimeout(r, 200));
	}
	throw new Error(`server at ${base} did not answer /health within ${timeoutMs} ms`);
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 5_000): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
	return new Promise((resolve) => {
		const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
		child.once("exit", () => {
			clearTimeout(timer);
			resolve();
		});
		child.kill(signal);
	});
}

/** Servers started for tests log only errors unless the run asks for more (`LOG_LEVEL=info npm test`). */
const TEST_LOG_LEVEL = process.env.LOG_LEVEL ?? "error";

export interface StartOptions {
	stateDir?: string;
	adminToken?: string;
	jwtSecret?: string;
	vars?: Record<string, string>;
}

/** `wrangler dev` (what `npm start` runs) on a free port with its own state directory. */
export async function startWranglerDev(options: StartOptions = {}): Promise<RunningServer> {
	// A port found free can be taken by a parallel test file before wrangler binds it: try again on new ports.
	for (let attempt = 0; ; attempt++) {
		try {
			return await startWranglerDevOnce(options);
		} catch (error) {
			if (attempt >= 2 || !/Address already in use/.test((error as Error).message)) throw error;
		}
	}
}

async function startWranglerDevOnce(options: StartOptions): Promise<RunningServer> {
	const port = await freePort();
	const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "roomkit-wrangler-"));
	const adminToken = options.adminToken ?? randomBytes(18).toString("base64url");
	const jwtSecret = options.jwtSecret ?? randomBytes(24).toString("base64url");
	const vars = { ADMIN_TOKEN: adminToken, JWT_SECRET: jwtSecret, LOG_LEVEL: TEST_LOG_LEVEL, ...options.vars };
	const migrate = spawnSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir], {
		cwd: ROOT,
		encoding: "utf8",
		timeout: 120_000,
	});
	if (migrate.status !== 0) throw new Error(`migrations failed: ${migrate.stderr}${migrate.stdout}`);
	const args = [
		WRANGLER,
		"dev",
		"--ip",
		"127.0.0.1",
		"--port",
		String(port),
		"--persist-to",
		stateDir,
		"--show-interactive-dev-session=false",
		"--inspector-port",
		String(await freePort()),
	];
	for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
	const child = spawn(process.execPath, args, {
		cwd: ROOT,
		stdio: ["ignore", "pipe", "pipe"],
		env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
	});
	let output = "";
	child.stdout?.on("data", (d) => (output += d));
	child.stderr?.on("data", (d) => (output += d));
	const base = `http://127.0.0.1:${port}`;
	try {
		await waitForHealth(base, child);
	} catch (error) {
		await stopChild(child, "SIGKILL");
		throw new Error(`${(error as Error).message}\n${output}`);
	}
	return { base, adminToken, jwtSecret, stateDir, logs: () => output, stop: (signal) => stopChild(child, signal) };
}

/** Builds dist/ unless it is newer than its sources; parallel test files share one build. */
export function ensureBuilt(): void {
	const build = spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs"), "--if-stale"], {
		cwd: ROOT,
		encoding: "utf8",
		timeout: 300_000,
	});
	if (build.status !== 0) throw new Error(`npm run build failed: ${build.stderr}${build.stdout}`);
}

/**
 * Bare workerd (what `npm run selfhost` and the production image run) on a free port, with the
 * exact arguments of selfhost/command.mjs. Pass `stateDir` (and the same secrets) to restart on
 * the data of a stopped server. The child sees only PATH and the given settings.
 */
export async function startSelfhost(options: StartOptions = {}): Promise<RunningServer> {
	ensureBuilt();
	const port = await freePort();
	const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "roomkit-workerd-"));
	const adminToken = options.adminToken ?? randomBytes(18).toString("base64url");
	const jwtSecret = options.jwtSecret ?? randomBytes(24).toString("base64url");
	const env = { PATH: process.env.PATH ?? "", ADMIN_TOKEN: adminToken, JWT_SECRET: jwtSecret, LOG_LEVEL: TEST_LOG_LEVEL, ...options.vars };
	const child = spawn(WORKERD, workerdArgs({ address: `127.0.0.1:${port}`, dataDir: stateDir }), {
		cwd: ROOT,
		stdio: ["ignore", "pipe", "pipe"],
		env,
	});
	let output = "";
	child.stdout?.on("data", (d) => (output += d));
	child.stderr?.on("data", (d) => (output += d));
	const base = `http://127.0.0.1:${port}`;
	try {
		await waitForHealth(base, child, 30_000);
	} catch (error) {
		await stopChild(child, "SIGKILL");
		throw new Error(`${(error as Error).message}\n${output}`);
	}
	return { base, adminToken, jwtSecret, stateDir, logs: () => output, stop: (signal) => stopChild(child, signal) };
}

/**
 * The Deno host (what `npm run start:deno` runs) on a free port, with the exact arguments of
 * scripts/deno-command.mjs. Like startSelfhost: pass `stateDir` to restart on a stopped server's data.
 */
export async function startDeno(options: StartOptions = {}): Promise<RunningServer> {
	const port = await freePort();
	const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "roomkit-deno-"));
	const adminToken = options.adminToken ?? randomBytes(18).toString("base64url");
	const jwtSecret = options.jwtSecret ?? randomBytes(24).toString("base64url");
	const env = {
		PATH: process.env.PATH ?? "",
		ADMIN_TOKEN: adminToken,
		JWT_SECRET: jwtSecret,
		PORT: String(port),
		DATA_DIR: stateDir,
		...options.vars,
	};
	const child = spawn(denoBinary(), denoArgs({ dataDir: stateDir }), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env });
	let output = "";
	child.stdout?.on("data", (d) => (output += d));
	child.stderr?.on("data", (d) => (output += d));
	const base = `http://127.0.0.1:${port}`;
	try {
		await waitForHealth(base, child, 30_000);
	} catch (error) {
		await stopChild(child, "SIGKILL");
		throw new Error(`${(error as Error).message}\n${output}`);
	}
	return { base, adminToken, jwtSecret, stateDir, logs: () => output, stop: (signal) => stopChild(child, signal) };
}

/** The three runtimes the black-box suites run against, for `describe.each`. */
export const RUNTIMES = [
	{ runtime: "wrangler dev (npm start)", start: startWranglerDev },
	{ runtime: "bare workerd (npm run selfhost)", start: startSelfhost },
	{ runtime: "Deno (npm run start:deno)", start: startDeno },
];
