// The typical-load workload of `npm run bench` (--workload=typical): many small rooms, open-loop
// traffic at fixed total rates, server CPU per delivery and latency (see BENCHMARKS.md).
import { join } from "node:path";
import { ROOT, spawnWithFds } from "./servers.mjs";

/**
 * How the load generator talks to each system: `protocol` picks the framing in
 * bench/typical-load.mjs, `comm` the server processes whose CPU counts. A system that is not
 * here cannot run this workload.
 */
export const TYPICAL_PROTOCOLS = {
	ours: "room",
	"ours-deflate": "room",
	"ours-ws": "user",
	deno: "room",
	"deno-ws": "user",
	bare: "bare",
	"bare-microtask": "bare",
	"deno-bare": "bare",
	socketio: "socketio",
	"socketio-sqlite": "socketio",
	"socketio-sqlite-full": "socketio",
};

/**
 * The rooms a run needs, made once per system. Ours: over REST, room *r* created by the user of its
 * first socket with the users of its other sockets as members (socket *i* is user *i* mod 50, as in
 * bench/typical-load.mjs), so the user socket, which serves only a member's rooms, can join them too.
 */
export async function prepareRooms(system, count, call, socketsPerRoom = 5) {
	if (!system.tenant) return Array.from({ length: count }, (_, i) => `typical-${i}-${crypto.randomUUID()}`);
	const { key, users } = system.tenant;
	const rooms = [];
	for (let r = 0; r < count; r++) {
		const of = Array.from({ length: socketsPerRoom }, (_, s) => users[(r * socketsPerRoom + s) % users.length]);
		const members = [...new Set(of.slice(1))].filter((u) => u !== of[0]);
		rooms.push((await call(system.base, "POST", "/room", { clientKey: `${key}.${of[0]}` }, { name: `typical-${r}`, members })).id);
	}
	return rooms;
}

/** Runs one generator over every rate; resolves with its steps, or with an error. */
export function runTypical(system, { rooms, socketsPerRoom, rates, seconds, deflate }) {
	const protocol = TYPICAL_PROTOCOLS[system.name];
	const options = {
		system: system.name,
		protocol,
		base: system.base,
		rooms,
		socketsPerRoom,
		rates,
		seconds,
		deflate,
		serverPid: system.child.pid,
		serverComm: protocol === "socketio" ? "node" : system.name.startsWith("deno") ? "deno" : "workerd",
	};
	if (system.tenant) options.auth = { headers: system.tenant.headers, tokens: system.tenant.tokens };
	const child = spawnWithFds([process.execPath, join(ROOT, "bench", "typical-load.mjs"), JSON.stringify(options)]);
	const timeoutMs = 120_000 + rates.length * (seconds * 1000 + 5_000);
	return new Promise((resolve) => {
		const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
		child.on("exit", () => {
			clearTimeout(timer);
			const lines = child
				.logs()
				.split("\n")
				.filter((l) => l.startsWith("{"))
				.map((l) => JSON.parse(l));
			const error = lines.find((l) => l.error)?.error;
			const connected = lines.find((l) => l.connected !== undefined);
			const steps = lines.filter((l) => l.step).map((l) => l.step);
			if (error || !lines.some((l) => l.done))
				resolve({ error: error ?? `no result from the generator:\n${child.logs().slice(-2000)}`, steps });
			else resolve({ connected, steps });
		});
	});
}

const median = (xs) => {
	if (xs.length === 0) return null;
	const sorted = [...xs].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[mid] : Number(((sorted[mid - 1] + sorted[mid]) / 2).toFixed(1));
};

/** The slowest run per system and rate (highest p99), and the knee: the highest rate whose slowest run has p99 < 100 ms and nothing lost. */
export function summarizeTypical(results, systems, rates) {
	const rows = [];
	const knees = {};
	const medianKnees = {};
	for (const name of systems) {
		let knee = null;
		let medianKnee = null;
		for (const rate of rates) {
			const runs = results.filter((r) => r.system === name).map((r) => r.steps?.find((s) => s.rate === rate));
			const ok = runs.filter(Boolean);
			const slowest =
				ok.length === runs.length && ok.length > 0 ? ok.reduce((a, b) => ((b.p99 ?? Infinity) > (a.p99 ?? Infinity) ? b : a)) : null;
			rows.push({
				system: name,
				rate,
				slowest,
				runs: ok.length,
				allP99: runs.map((s) => s?.p99 ?? "failed"),
				allCpu: runs.map((s) => s?.serverCpuUsPerDelivery ?? "failed"),
				medianCpu: median(ok.map((s) => s.serverCpuUsPerDelivery).filter((x) => x !== null)),
				medianP99: median(ok.map((s) => s.p99).filter((x) => x !== null)),
			});
			if (slowest && slowest.lost === 0 && slowest.p99 !== null && slowest.p99 < 100) knee = rate;
			const row = rows[rows.length - 1];
			if (slowest && ok.every((s) => s.lost === 0) && row.medianP99 !== null && row.medianP99 < 100) medianKnee = rate;
		}
		knees[name] = knee;
		medianKnees[name] = medianKnee;
	}
	return { rows, knees, medianKnees };
}

export function printTypical({ rows, knees, medianKnees }, { deflate, roomCount, socketsPerRoom, seconds }) {
	const lines = [];
	lines.push(
		`Typical load: ${roomCount} rooms x ${socketsPerRoom} sockets, ${seconds} s per rate, client ${deflate ? "offers" : "does not offer"} permessage-deflate`,
	);
	lines.push("");
	lines.push(
		"| system | offered msg/s | p50 ms | p99 ms | lost | server CPU µs per delivery | per message | server CPU ms | waited ms | p99 of every run (median) | CPU µs per delivery of every run (median) |",
	);
	lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
	for (const r of rows) {
		const s = r.slowest;
		lines.push(
			s
				? `| ${r.system} | ${r.rate} | ${s.p50} | ${s.p99} | ${s.lost} | ${s.serverCpuUsPerDelivery} | ${s.serverCpuUsPerMessage} | ${s.serverCpuMs} | ${s.serverWaitMs} | ${r.allP99.join(", ")} (${r.medianP99}) | ${r.allCpu.join(", ")} (${r.medianCpu}) |`
				: `| ${r.system} | ${r.rate} | failed | | | | | | | ${r.allP99.join(", ")} | ${r.allCpu.join(", ")} |`,
		);
	}
	lines.push("");
	lines.push("| system | knee: highest offered msg/s with p99 < 100 ms and 0 lost, slowest run | same, median p99 of the runs |");
	lines.push("|---|---:|---:|");
	const below = (k) => k ?? "below the lowest rate";
	for (const [name, knee] of Object.entries(knees)) lines.push(`| ${name} | ${below(knee)} | ${below(medianKnees[name])} |`);
	return lines.join("\n");
}
