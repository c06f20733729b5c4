// `npm run bench`: our service, a socket.io 4 server and a bare Durable Object on this
// machine, in one run, under the same loads (see BENCHMARKS.md).
// Options: --workload=fanout,typical --runs=3 --systems=ours,bare,socketio,socketio-sqlite
//   fan-out (one big room, closed loop): --sizes=50,500 --messages=2000 --inflight=64
//   typical (many small rooms, open loop): --rooms=100 --sockets-per-room=5
//     --rates=250,500,1000,2000 --seconds=5 --deflate=on (on,off runs both client offers)
//   memory: --idle=5000 (0 skips it) --hibernation-wait=60000
//   --out=bench/results/last-run.json; BENCH_LOGS=1 prints each server's last output at the end
// Systems: ours, ours-deflate (ours with WS_COMPRESSION=on), deno and deno-ws (ours on the Deno host), ours-ws (ours through the user
// socket GET /ws; typical only), bare, bare-microtask (experiment), deno-bare (the least a room does on Deno, bench/bare/deno.js), socketio, socketio-sqlite (WAL, synchronous=NORMAL),
// socketio-sqlite-full (WAL, synchronous=FULL). Fan-out runs every system but bare-microtask.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { arg, envArg, log, sleep } from "./cli.mjs";
import { call } from "./http.mjs";
import {
	killAllNow,
	ROOT,
	selfhostAvailable,
	spawnWithFds,
	startBareWorkerd,
	startDenoBare,
	startDenoHost,
	startSelfhost,
	startSocketio,
	startWrangler,
	stop,
	stopAll,
	treeRss,
	treeSchedMs,
	workerdVersion,
} from "./servers.mjs";
import { prepareRooms, printTypical, runTypical, summarizeTypical, TYPICAL_PROTOCOLS } from "./typical.mjs";

const RUNS = Number(arg("runs", "3"));
const SIZES = arg("sizes", "50,500").split(",").map(Number);
const MESSAGES = Number(arg("messages", "2000"));
const INFLIGHT = Number(arg("inflight", "64"));
const IDLE = Number(arg("idle", "5000"));
const SYSTEMS = arg("systems", "ours,bare,socketio,socketio-sqlite").split(",");
const WORKLOADS = arg("workload", "fanout,typical").split(",");
const ROOMS = Number(arg("rooms", "100"));
const SOCKETS_PER_ROOM = Number(arg("sockets-per-room", "5"));
const RATES = arg("rates", "250,500,1000,2000").split(",").map(Number);
const SECONDS = Number(arg("seconds", "5"));
// Fan-out with typing traffic (issue 10): each socket of ours also sends `typing` this often per second (0: none).
const TYPING = Number(arg("typing", "0"));
const DEFLATE = arg("deflate", "on")
	.split(",")
	.map((v) => v === "on");
for (const name of SYSTEMS)
	if (!(name in TYPICAL_PROTOCOLS)) throw new Error(`unknown system ${name}: one of ${Object.keys(TYPICAL_PROTOCOLS).join(", ")}`);
for (const w of WORKLOADS) if (w !== "fanout" && w !== "typical") throw new Error(`unknown workload ${w}: fanout or typical`);
/** The systems bench/load.mjs (fan-out, memory) knows. */
const FANOUT_SYSTEMS = SYSTEMS.filter((name) =>
	[
		"ours",
		"ours-deflate",
		"ours-ws",
		"deno",
		"deno-ws",
		"bare",
		"deno-bare",
		"socketio",
		"socketio-sqlite",
		"socketio-sqlite-full",
	].includes(name),
);
const OUT = arg("out", join(ROOT, "bench", "results", "last-run.json"));
// "workerd": the service as `npm run selfhost` runs it and the bare object on bare workerd;
// "wrangler": both under `wrangler dev` (which adds a proxy workerd in front of the worker).
const RUNTIME = arg("runtime", selfhostAvailable() ? "workerd" : "wrangler");
const HIBERNATION_WAIT_MS = Number(arg("hibernation-wait", "60000"));
// Whether the idle sockets offer permessage-deflate (--idle-deflate=on); ours declines it unless WS_COMPRESSION=on (system ours-deflate).
const IDLE_DEFLATE = arg("idle-deflate", "off") === "on";
// deno-bare with every room in one SQLite file (--deno-bare-files=one) instead of one file per room.
const BARE_FILES = arg("deno-bare-files", "");
// deno-bare on node:http and the `ws` package (--deno-bare-ws=node) instead of Deno.upgradeWebSocket.
const BARE_WS = arg("deno-bare-ws", "");
// Experiments on the bare object only, e.g. --bare-env=GAP_PER_FRAME_MS=0 (see bench/bare/worker.ts).
const BARE_ENV = envArg("bare-env");
const USERS = 50;
// The per-connection rate limit (20/s, burst 40) would throttle the load generator, and 50
// users hold up to 100 sockets each at 5,000 sockets: both raised for the benchmark only.
// Settings of our service for an experiment, e.g. --ours-env=GATEWAY_SHARDS=4 (see BENCHMARKS.md).
const OURS_ENV = envArg("ours-env");
const BENCH_VARS = { WS_RATE_PER_SECOND: "1000000", WS_RATE_BURST: "1000000", MAX_SOCKETS_PER_USER: "1000", ...OURS_ENV };

const tmp = mkdtempSync(join(tmpdir(), "roomkit-bench-"));

let cleaning = false;
/** The systems started, for BENCH_LOGS=1 (their output is printed at the end). */
let running = [];
async function cleanup() {
	if (cleaning) return;
	cleaning = true;
	if (process.env.BENCH_LOGS) for (const s of running) console.error(`[${s.name}]`, s.child?.logs().slice(-3000));
	await stopAll();
	rmSync(tmp, { recursive: true, force: true });
	rmSync(join(ROOT, "bench", "bare", ".wrangler"), { recursive: true, force: true });
}
process.on("exit", killAllNow);
for (const signal of ["SIGINT", "SIGTERM"]) {
	process.on(signal, async () => {
		await cleanup();
		process.exit(130);
	});
}
// The whole benchmark is bounded: 40 minutes at most.
setTimeout(async () => {
	log("benchmark exceeded 40 minutes, stopping");
	await cleanup();
	process.exit(2);
}, 40 * 60_000).unref();

/** One client, USERS users; sockets authenticate with `clientKey: <api_token>.<user_id>`. */
async function tenantOf(server) {
	const client = await call(server.base, "POST", "/admin/clients", { Authorization: `Bearer ${server.adminToken}` }, { name: "bench" });
	const key = client.api_token;
	const users = [];
	for (let i = 0; i < USERS; i++) users.push((await call(server.base, "POST", "/user", { clientKey: key }, { name: `bench-${i}` })).id);
	// JWTs, for the user socket (offered as a subprotocol beside roomkit.v1).
	const tokens = [];
	for (const u of users) tokens.push((await call(server.base, "POST", `/auth/${u}`, { clientKey: key })).token);
	return { key, users, headers: users.map((u) => `${key}.${u}`), tokens };
}

/** Our service, on workerd (ours*) or on Deno (deno*). */
const isOurs = (system) => system.name.startsWith("ours") || system.name === "deno" || system.name === "deno-ws";

async function newRoom(system) {
	if (!isOurs(system)) return randomUUID();
	const { key, users } = system.tenant;
	return (await call(system.base, "POST", "/room", { clientKey: `${key}.${users[0]}` }, { name: "bench" })).id;
}

function wsUrl(system, roomId) {
	// The user socket: one connection, the room joined on it (the load generator ignores `ready`).
	if (system.name === "ours-ws" || system.name === "deno-ws") return `${system.base.replace("http", "ws")}/ws`;
	if (isOurs(system)) return `${system.base.replace("http", "ws")}/room/${roomId}/ws`;
	if (system.kind === "bare") return `${system.base.replace("http", "ws")}/ws`;
	return system.base;
}

const runtimeComm = (system) => (system.name.startsWith("socketio") ? "node" : system.name.startsWith("deno") ? "deno" : "workerd");

/**
 * Runs the load generator in its own process; resolves with its JSON result plus the server's
 * CPU time during the load and the time its threads spent runnable but waiting for a CPU
 * (other processes on this shared machine): a run with a large wait was disturbed.
 */
function runGenerator(system, options, timeoutMs) {
	const child = spawnWithFds([process.execPath, join(ROOT, "bench", "load.mjs"), JSON.stringify(options)]);
	let before = null;
	const poll = setInterval(() => {
		if (before === null && child.logs().includes('{"connected"')) before = treeSchedMs(system.child.pid, runtimeComm(system));
	}, 5);
	return new Promise((resolve) => {
		const timer = setTimeout(() => stop(child, 1000), timeoutMs);
		child.on("exit", () => {
			clearTimeout(timer);
			clearInterval(poll);
			const after = treeSchedMs(system.child.pid, runtimeComm(system));
			const line = child
				.logs()
				.trim()
				.split("\n")
				.reverse()
				.find((l) => l.startsWith("{"));
			try {
				const result = JSON.parse(line);
				if (before) {
					result.serverCpuMs = Math.round(after[0] - before[0]);
					result.serverWaitMs = Math.round(after[1] - before[1]);
				}
				resolve(result);
			} catch {
				resolve({ error: `no result from the load generator:\n${child.logs().slice(-2000)}` });
			}
		});
	});
}

async function load(system, sockets, messages) {
	const roomId = await newRoom(system);
	const options = {
		system: system.kind,
		mode: "load",
		sockets,
		messages,
		inflight: INFLIGHT,
		url: wsUrl(system, roomId),
		roomId,
		timeoutMs: 240_000,
	};
	if (isOurs(system)) options.headers = system.tenant.headers;
	if (isOurs(system) && TYPING > 0) options.typingPerSecond = TYPING;
	const result = await runGenerator(system, options, 330_000);
	// The bare object reports its Outbox counters: how many flushes and frames the load took.
	if (system.name === "bare")
		result.outbox = await fetch(`${system.base}/stats?room=${roomId}`).then(
			(r) => r.json(),
			() => null,
		);
	return result;
}

/** RSS of a system's runtime: workerd processes under wrangler, the Deno process, or the socket.io node process. */
function runtimeRss(system) {
	return treeRss(system.child.pid)[runtimeComm(system)] ?? 0;
}

async function idleMemory(system, sockets) {
	const roomId = await newRoom(system);
	const before = runtimeRss(system);
	const options = { system: system.kind, mode: "idle", sockets, url: wsUrl(system, roomId), roomId, deflate: IDLE_DEFLATE };
	if (isOurs(system)) options.headers = system.tenant.headers;
	const child = spawnWithFds([process.execPath, join(ROOT, "bench", "load.mjs"), JSON.stringify(options)]);
	try {
		const started = Date.now();
		while (!child.logs().includes('"ready"')) {
			if (child.exitCode !== null || Date.now() - started > 300_000) throw new Error(`idle sockets failed: ${child.logs().slice(-2000)}`);
			await sleep(200);
		}
		const connected = runtimeRss(system);
		// Idle for longer than workerd's hibernation delay, so the room object is evicted.
		const series = [];
		for (let waited = 0; waited < HIBERNATION_WAIT_MS; waited += 5_000) {
			await sleep(5_000);
			series.push(round(runtimeRss(system)));
		}
		const idle = runtimeRss(system);
		return {
			sockets,
			beforeMiB: round(before),
			connectedMiB: round(connected),
			idleMiB: round(idle),
			everyFiveSecondsMiB: series,
			ready: JSON.parse(child.logs().match(/\{"ready".*\}/)[0]),
		};
	} finally {
		await stop(child, 1000);
	}
}

const round = (x) => Math.round(x * 10) / 10;

async function start(name) {
	if (isOurs({ name })) {
		const adminToken = randomBytes(18).toString("base64url");
		const vars = { ADMIN_TOKEN: adminToken, JWT_SECRET: randomBytes(24).toString("base64url"), ...BENCH_VARS };
		if (name === "ours-deflate") vars.WS_COMPRESSION = "on";
		const onDeno = name.startsWith("deno");
		const server = onDeno
			? await startDenoHost({ dataDir: join(tmp, name), env: vars })
			: RUNTIME === "workerd"
				? await startSelfhost({ dataDir: join(tmp, "ours"), env: vars })
				: await startWrangler({ stateDir: join(tmp, "ours"), vars, migrateD1: true });
		const runtime = onDeno
			? "Deno 2.9.6 as npm run start:deno runs it (src/runtimes/deno)"
			: RUNTIME === "workerd"
				? `${workerdVersion()} as npm run selfhost runs it (selfhost/)`
				: "wrangler dev";
		const system = { name, kind: "ours", ...server, adminToken, runtime };
		if (name === "ours-ws") {
			// Fails here, before any load, when the server has no user socket yet.
			const res = await fetch(`${server.base}/ws`);
			if (res.status === 404)
				throw new Error("system ours-ws needs the user socket (GET /ws), and this server answers 404: build a checkout that has it");
		}
		system.tenant = await tenantOf(system);
		return system;
	}
	if (name === "deno-bare") {
		const server = await startDenoBare({
			dir: join(tmp, name),
			env: { ...(BARE_FILES ? { BARE_FILES } : {}), ...(BARE_WS ? { BARE_WS } : {}) },
		});
		return {
			name,
			kind: "bare",
			...server,
			runtime: `Deno 2.9.6, bench/bare/deno.js${BARE_FILES ? ` (BARE_FILES=${BARE_FILES})` : ""}${BARE_WS ? ` (BARE_WS=${BARE_WS})` : ""}`,
		};
	}
	if (name.startsWith("bare")) {
		// bare-microtask: the experiment of flushing quiet rooms at the end of the event (BENCHMARKS.md).
		const env = name === "bare-microtask" ? { ...BARE_ENV, QUIET_FLUSH: "microtask" } : BARE_ENV;
		const server =
			RUNTIME === "workerd"
				? await startBareWorkerd({ dir: join(tmp, name), env })
				: await startWrangler({ config: join(ROOT, "bench", "bare", "wrangler.toml"), stateDir: join(tmp, name), vars: env });
		return { name, kind: "bare", ...server, runtime: RUNTIME === "workerd" ? workerdVersion() : "wrangler dev" };
	}
	if (name === "socketio") return { name, kind: "socketio", ...(await startSocketio()), runtime: `node ${process.version}` };
	const synchronous = name === "socketio-sqlite-full" ? "FULL" : "NORMAL";
	const sqlite = { file: join(tmp, `${name}.sqlite`), synchronous };
	return {
		name,
		kind: "socketio",
		...(await startSocketio({ sqlite })),
		runtime: `node ${process.version}, node:sqlite WAL synchronous=${synchronous}`,
	};
}

function summarize(results) {
	const table = [];
	for (const sockets of SIZES) {
		const row = { sockets };
		for (const name of FANOUT_SYSTEMS) {
			const runs = results.filter((r) => r.system === name && r.sockets === sockets);
			const ok = runs.filter((r) => !r.error);
			const slowest =
				ok.length === runs.length && ok.length > 0 ? ok.reduce((a, b) => (b.deliveriesPerSecond < a.deliveriesPerSecond ? b : a)) : null;
			row[name] = { slowest, all: runs.map((r) => (r.error ? "error" : r.deliveriesPerSecond)) };
		}
		table.push(row);
	}
	return table;
}

function print(table, memory) {
	const lines = [];
	if (table.length) printFanout(table, lines);
	if (memory.length) {
		if (lines.length) lines.push("");
		lines.push(
			"| system | idle sockets | client offers deflate | runtime RSS before (MiB) | just connected (MiB) | after idle wait (MiB) | KiB per idle socket |",
		);
		lines.push("|---|---:|---|---:|---:|---:|---:|");
		for (const m of memory)
			lines.push(
				`| ${m.system} | ${m.sockets} | ${IDLE_DEFLATE ? "yes" : "no"} | ${m.beforeMiB} | ${m.connectedMiB} | ${m.idleMiB} | ${Math.round(((m.idleMiB - m.beforeMiB) * 1024) / m.sockets)} |`,
			);
	}
	console.log(lines.join("\n"));
}

function printFanout(table, lines) {
	lines.push(
		"| sockets | system | deliveries/s (slowest run) | p50 ms | p99 ms | lost | server CPU ms | server waited for a CPU ms | all runs (deliveries/s) |",
	);
	lines.push("|---:|---|---:|---:|---:|---:|---:|---:|---|");
	for (const row of table) {
		for (const name of FANOUT_SYSTEMS) {
			const { slowest: s, all } = row[name];
			lines.push(
				s
					? `| ${row.sockets} | ${name} | ${s.deliveriesPerSecond} | ${s.p50} | ${s.p99} | ${s.lost} | ${s.serverCpuMs} | ${s.serverWaitMs} | ${all.join(", ")} |`
					: `| ${row.sockets} | ${name} | failed | | | | | | ${all.join(", ")} |`,
			);
		}
	}
	lines.push("");
	lines.push(
		"| sockets | ours/socket.io deliveries/s (target >= 1.0) | ours/bare (target >= 0.9) | p99 ours vs socket.io (target <=) | lost ours |",
	);
	lines.push("|---:|---:|---:|---|---:|");
	for (const row of table) {
		const o = row.ours?.slowest;
		const s = row.socketio?.slowest;
		const b = row.bare?.slowest;
		const ratio = (x, y) => (x && y ? (x.deliveriesPerSecond / y.deliveriesPerSecond).toFixed(2) : "n/a");
		lines.push(`| ${row.sockets} | ${ratio(o, s)} | ${ratio(o, b)} | ${o && s ? `${o.p99} vs ${s.p99}` : "n/a"} | ${o ? o.lost : "n/a"} |`);
	}
}

async function main() {
	const started = new Date();
	log(`machine: ${cpus().length} cpus, ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}`);
	const systems = [];
	running = systems;
	for (const name of SYSTEMS) {
		log(`starting ${name}`);
		systems.push(await start(name));
	}
	const fanoutSystems = systems.filter((s) => FANOUT_SYSTEMS.includes(s.name));
	const results = [];
	for (const sockets of RUNS > 0 && WORKLOADS.includes("fanout") ? SIZES : []) {
		for (const system of fanoutSystems) {
			log(`warm-up ${system.name} ${sockets} sockets`);
			const warm = await load(system, sockets, Math.min(MESSAGES, 400));
			if (warm.error) log(`warm-up failed: ${warm.error}`);
		}
		for (let run = 1; run <= RUNS; run++) {
			for (const system of fanoutSystems) {
				const result = await load(system, sockets, MESSAGES);
				result.system = system.name;
				result.sockets = sockets;
				result.run = run;
				results.push(result);
				log(
					result.error
						? `${system.name} ${sockets} run ${run}: ERROR ${result.error}`
						: `${system.name} ${sockets} run ${run}: ${result.deliveriesPerSecond}/s p50 ${result.p50} p99 ${result.p99} lost ${result.lost} dup ${result.duplicates} errors ${result.errors} (${result.outcome}) server cpu ${result.serverCpuMs} ms, waited ${result.serverWaitMs} ms, generator cpu ${result.generatorCpuMs} ms, wall ${Math.round(result.seconds * 1000)} ms${result.outbox ? `, outbox ${JSON.stringify(result.outbox)}` : ""}`,
				);
			}
		}
	}
	const typical = [];
	const typicalTables = [];
	if (WORKLOADS.includes("typical")) {
		const roomsOf = new Map();
		for (const system of systems) roomsOf.set(system, await prepareRooms(system, ROOMS, call, SOCKETS_PER_ROOM));
		for (const deflate of DEFLATE) {
			const runs = [];
			for (let run = 1; run <= RUNS; run++) {
				for (const system of systems) {
					log(
						`typical ${system.name} run ${run}, client ${deflate ? "offers" : "does not offer"} deflate: ${ROOMS} rooms x ${SOCKETS_PER_ROOM} sockets at ${RATES.join(", ")} msg/s`,
					);
					const result = await runTypical(system, {
						rooms: roomsOf.get(system),
						socketsPerRoom: SOCKETS_PER_ROOM,
						rates: RATES,
						seconds: SECONDS,
						deflate,
					});
					Object.assign(result, { system: system.name, run, deflate });
					runs.push(result);
					if (result.error) log(`typical ${system.name}: ERROR ${result.error}`);
					else log(`  connected ${JSON.stringify(result.connected)}`);
					for (const st of result.steps)
						log(
							`  ${system.name} ${st.rate}/s: p50 ${st.p50} p99 ${st.p99} max ${st.max} lost ${st.lost} dup ${st.duplicates} errors ${st.errors} server cpu ${st.serverCpuMs} ms (${st.serverCpuUsPerDelivery} µs/delivery), waited ${st.serverWaitMs} ms, generator cpu ${st.generatorCpuMs} ms, behind ${st.generatorMaxBehindMs} ms`,
						);
				}
			}
			typical.push(...runs);
			typicalTables.push(
				printTypical(summarizeTypical(runs, SYSTEMS, RATES), {
					deflate,
					roomCount: ROOMS,
					socketsPerRoom: SOCKETS_PER_ROOM,
					seconds: SECONDS,
				}),
			);
		}
	}
	const memory = [];
	if (IDLE > 0) {
		for (const system of fanoutSystems) {
			log(`memory: ${IDLE} idle sockets on ${system.name}`);
			try {
				memory.push({ system: system.name, ...(await idleMemory(system, IDLE)) });
			} catch (error) {
				log(`memory on ${system.name} failed: ${error.message}`);
			}
		}
	}
	if (results.length || memory.length) print(results.length ? summarize(results) : [], memory);
	for (const t of typicalTables) console.log(`\n${t}`);
	mkdirSync(join(OUT, ".."), { recursive: true });
	writeFileSync(
		OUT,
		`${JSON.stringify({ started: started.toISOString(), finished: new Date().toISOString(), options: { WORKLOADS, RUNS, SIZES, MESSAGES, INFLIGHT, IDLE, IDLE_DEFLATE, ROOMS, SOCKETS_PER_ROOM, RATES, SECONDS, DEFLATE, BENCH_VARS }, runtimes: Object.fromEntries(systems.map((s) => [s.name, s.runtime])), results, typical, memory }, null, "\t")}\n`,
	);
	log(`raw results in ${OUT}`);
}

try {
	await main();
} catch (error) {
	log(`failed: ${error.stack ?? error}`);
	process.exitCode = 1;
} finally {
	await cleanup();
}
