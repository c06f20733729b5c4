// Starting and stopping the three systems of the benchmark, on free ports of 127.0.0.1.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const children = new Set();
const WORKERD = createRequire(import.meta.url)("workerd").default;

/** True once the self-hosting config (selfhost/, scripts/build.mjs) is in the checkout. */
export const selfhostAvailable = () => existsSync(join(ROOT, "selfhost", "command.mjs")) && existsSync(join(ROOT, "scripts", "build.mjs"));

export function workerdVersion() {
	return spawnSync(WORKERD, ["--version"], { encoding: "utf8" }).stdout.trim();
}

function run(argv, what) {
	const result = spawnSync(argv[0], argv.slice(1), {
		cwd: ROOT,
		encoding: "utf8",
		timeout: 300_000,
		env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
	});
	if (result.status !== 0) throw new Error(`${what} failed: ${result.stderr}${result.stdout}`);
}

/** The service on bare workerd, exactly as `npm run selfhost` runs it (selfhost/command.mjs), from a fresh dist/. */
export async function startSelfhost({ dataDir, env }) {
	run([process.execPath, join(ROOT, "scripts", "build.mjs"), "--if-stale"], "npm run build");
	const { workerdArgs } = await import(join(ROOT, "selfhost", "command.mjs"));
	const port = await freePort();
	mkdirSync(dataDir, { recursive: true });
	const child = spawnWithFds([WORKERD, ...workerdArgs({ address: `127.0.0.1:${port}`, dataDir })], { env: { ...process.env, ...env } });
	const base = `http://127.0.0.1:${port}`;
	await waitForHealth(base, child);
	return { child, base, port };
}

/** The service on Deno, as `npm run start:deno` runs it (one process, SQLite files, group commit). */
export async function startDenoHost({ dataDir, env }) {
	const { denoArgs, denoBinary } = await import(join(ROOT, "scripts", "deno-command.mjs"));
	const port = await freePort();
	mkdirSync(dataDir, { recursive: true });
	const args = denoArgs({ dataDir });
	if (process.env.BENCH_DENO_INSPECT) args.splice(1, 0, `--inspect=${process.env.BENCH_DENO_INSPECT}`);
	const child = spawnWithFds([denoBinary(), ...args], {
		env: { ...process.env, ...env, HOST: "127.0.0.1", PORT: String(port), DATA_DIR: dataDir },
	});
	const base = `http://127.0.0.1:${port}`;
	await waitForHealth(base, child);
	return { child, base, port };
}

/** The bare room on Deno (bench/bare/deno.js): Deno's own cost per socket and message, with SQLite files as the Deno host keeps them. */
export async function startDenoBare({ dir, env = {} }) {
	const { denoBinary } = await import(join(ROOT, "scripts", "deno-command.mjs"));
	const port = await freePort();
	mkdirSync(dir, { recursive: true });
	const child = spawnWithFds(
		[
			denoBinary(),
			"run",
			...(env.BARE_WS ? [`--config=${join(ROOT, "deno.json")}`, "--allow-read"] : ["--no-config", `--allow-read=${dir}`]),
			"--allow-net",
			"--allow-env",
			`--allow-write=${dir}`,
			join(ROOT, "bench", "bare", "deno.js"),
		],
		{ env: { ...process.env, ...env, PORT: String(port), DATA_DIR: dir } },
	);
	const base = `http://127.0.0.1:${port}`;
	await waitForHealth(base, child);
	return { child, base, port };
}

/** The bare object on bare workerd: bundled by wrangler (no dev server), served by a generated config. */
export async function startBareWorkerd({ dir, env = {} }) {
	const dist = join(dir, "dist");
	run(
		[process.execPath, WRANGLER, "deploy", "--dry-run", "--outdir", dist, "-c", join(ROOT, "bench", "bare", "wrangler.toml")],
		"bundling bench/bare",
	);
	// wrangler leaves its scratch directory beside the config, where the linter would read it.
	rmSync(join(ROOT, "bench", "bare", ".wrangler"), { recursive: true, force: true });
	const bindings = Object.keys(env).map((name) => `(name = "${name}", fromEnvironment = "${name}")`);
	writeFileSync(
		join(dist, "workerd.capnp"),
		`using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "bare", worker = .bare), (name = "data", disk = (path = "data", writable = true))],
  sockets = [(name = "http", address = "*:8787", http = (), service = "bare")],
);
const bare :Workerd.Worker = (
  compatibilityDate = "2026-10-01",
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  durableObjectNamespaces = [(className = "BareRoom", uniqueKey = "roomkit-bench-bare", enableSql = true)],
  durableObjectStorage = (localDisk = "data"),
  bindings = [(name = "ROOMS", durableObjectNamespace = "BareRoom")${bindings.map((b) => `, ${b}`).join("")}],
);
`,
	);
	const dataDir = join(dir, "data");
	mkdirSync(dataDir, { recursive: true });
	const port = await freePort();
	const argv = [
		WORKERD,
		"serve",
		join(dist, "workerd.capnp"),
		"--experimental",
		"--socket-addr",
		`http=127.0.0.1:${port}`,
		"--directory-path",
		`data=${dataDir}`,
	];
	const child = spawnWithFds(argv, { env: { ...process.env, ...env } });
	const base = `http://127.0.0.1:${port}`;
	await waitForHealth(base, child);
	return { child, base, port };
}

export async function freePort() {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.unref();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

/** Runs `argv` under a shell that first raises the soft file-descriptor limit to the hard one. */
export function spawnWithFds(argv, options = {}) {
	const quoted = argv.map((a) => `'${String(a).replaceAll("'", "'\\''")}'`).join(" ");
	const child = spawn("/bin/sh", ["-c", `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${quoted}`], {
		cwd: ROOT,
		stdio: ["ignore", "pipe", "pipe"],
		detached: true,
		...options,
	});
	children.add(child);
	child.on("exit", () => children.delete(child));
	let output = "";
	child.stdout.on("data", (d) => {
		output += d;
		if (output.length > 200_000) output = output.slice(-100_000);
	});
	child.stderr.on("data", (d) => {
		output += d;
		if (output.length > 200_000) output = output.slice(-100_000);
	});
	child.logs = () => output;
	return child;
}

/** Stops a child and everything it started (it leads its own process group). */
export function stop(child, graceMs = 5_000) {
	if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
	return new Promise((resolve) => {
		const kill = (signal) => {
			try {
				process.kill(-child.pid, signal);
			} catch {}
		};
		const timer = setTimeout(() => kill("SIGKILL"), graceMs);
		child.once("exit", () => {
			clearTimeout(timer);
			// Grandchildren (workerd) may outlive wrangler by a moment.
			kill("SIGKILL");
			resolve();
		});
		kill("SIGTERM");
	});
}

export function stopAll() {
	return Promise.all([...children].map((c) => stop(c)));
}

/** Synchronous last resort on exit: kill every process group we started. */
export function killAllNow() {
	for (const child of children) {
		try {
			process.kill(-child.pid, "SIGKILL");
		} catch {}
	}
}

export async function waitForHealth(base, child, timeoutMs = 120_000) {
	const started = Date.now();
	while (Date.now() - started < timeoutMs) {
		if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${child.logs()}`);
		try {
			const res = await fetch(`${base}/health`);
			if (res.ok) return;
		} catch {}
		await new Promise((r) => setTimeout(r, 250));
	}
	throw new Error(`${base} did not answer /health within ${timeoutMs} ms:\n${child.logs()}`);
}

/** `wrangler dev` of a config on a free port with its own state directory. */
export async function startWrangler({ config, stateDir, vars = {}, migrateD1 = false }) {
	const port = await freePort();
	const configArgs = config ? ["-c", config] : [];
	if (migrateD1) {
		const migrate = spawnSync(
			process.execPath,
			[WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", stateDir, ...configArgs],
			{
				cwd: ROOT,
				encoding: "utf8",
				timeout: 120_000,
				env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
			},
		);
		if (migrate.status !== 0) throw new Error(`migrations failed: ${migrate.stderr}${migrate.stdout}`);
	}
	const argv = [process.execPath, WRANGLER, "dev", ...configArgs, "--ip", "127.0.0.1", "--port", port, "--persist-to", stateDir];
	argv.push("--show-interactive-dev-session=false", "--inspector-port", await freePort(), "--log-level", "warn");
	for (const [k, v] of Object.entries(vars)) argv.push("--var", `${k}:${v}`);
	const child = spawnWithFds(argv, { env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
	const base = `http://127.0.0.1:${port}`;
	await waitForHealth(base, child);
	return { child, base, port };
}

/** socket.io in memory, or with `sqlite: { file, synchronous }` writing each message to SQLite first. */
export async function startSocketio({ sqlite } = {}) {
	const port = await freePort();
	const storage = sqlite ? [sqlite.file, sqlite.synchronous] : [];
	const child = spawnWithFds([
		process.execPath,
		"--no-warnings=ExperimentalWarning",
		join(ROOT, "bench", "socketio-server.mjs"),
		port,
		...storage,
	]);
	const base = `http://127.0.0.1:${port}`;
	await waitForHealth(base, child);
	return { child, base, port };
}

/** pid -> [ppid, comm, rss KiB] for every process we can read. */
function processTable() {
	const table = new Map();
	for (const name of readdirSync("/proc")) {
		if (!/^\d+$/.test(name)) continue;
		try {
			const status = readFileSync(`/proc/${name}/status`, "utf8");
			const ppid = Number(status.match(/^PPid:\s+(\d+)/m)?.[1]);
			const comm = status.match(/^Name:\s+(.*)$/m)?.[1] ?? "";
			const rss = Number(status.match(/^VmRSS:\s+(\d+)/m)?.[1] ?? 0);
			table.set(Number(name), { ppid, comm, rss });
		} catch {}
	}
	return table;
}

/** RSS in MiB of the processes under `pid` (itself included), split by command name. */
export function treeRss(pid) {
	const table = processTable();
	const byName = {};
	const visit = (p) => {
		const entry = table.get(p);
		if (!entry) return;
		byName[entry.comm] = (byName[entry.comm] ?? 0) + entry.rss / 1024;
		for (const [child, e] of table) if (e.ppid === p) visit(child);
	};
	visit(pid);
	return byName;
}

/** CPU time in ms (user + system) of the processes under `pid` whose command is `comm`. */
export function treeCpuMs(pid, comm) {
	const table = processTable();
	let ticks = 0;
	const visit = (p) => {
		const entry = table.get(p);
		if (!entry) return;
		if (entry.comm === comm) {
			try {
				const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ");
				ticks += Number(fields[11]) + Number(fields[12]);
			} catch {}
		}
		for (const [child, e] of table) if (e.ppid === p) visit(child);
	};
	visit(pid);
	return ticks * 10;
}

/** [on-CPU ms, runnable-but-waiting ms] summed over the threads of the processes under `pid` named `comm`. */
export function treeSchedMs(pid, comm) {
	const table = processTable();
	let run = 0;
	let wait = 0;
	const visit = (p) => {
		const entry = table.get(p);
		if (!entry) return;
		if (entry.comm === comm) {
			try {
				for (const task of readdirSync(`/proc/${p}/task`)) {
					const [r, w] = readFileSync(`/proc/${p}/task/${task}/schedstat`, "utf8").split(" ").map(Number);
					run += r / 1e6;
					wait += w / 1e6;
				}
			} catch {}
		}
		for (const [child, e] of table) if (e.ppid === p) visit(child);
	};
	visit(pid);
	return [run, wait];
}
