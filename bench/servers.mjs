// Starting and stopping the three systems of the benchmark, on free ports of 127.0.0.1.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const children = new Set();

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

export async function startSocketio() {
	const port = await freePort();
	const child = spawnWithFds([process.execPath, join(ROOT, "bench", "socketio-server.mjs"), port]);
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
