// `node bench/deno-open-loop.mjs`: the Deno host's commit policy under the typical load, next to
// bare workerd. 100 rooms x 5 sockets (room sockets), open loop at fixed rates: each message is
// sent at its scheduled time whatever the server does, and its latency is send -> delivery to each
// of the room's 5 sockets (the sender's too). Server CPU comes from /proc (utime + stime of the server process).
// Writes bench/results/deno-open-loop.json. Separate from bench/run.mjs on purpose.
// Run it with the project's Node 22 (`npm run bench:deno`): the workerd bundle is built by npm run build.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { denoArgs, denoBinary } from "../scripts/deno-command.mjs";
import { workerdArgs } from "../selfhost/command.mjs";

const ROOT = join(import.meta.dirname, "..");
const ROOMS = Number(process.env.ROOMS ?? 100);
const PER_ROOM = Number(process.env.PER_ROOM ?? 5);
const RATES = (process.env.RATES ?? "250,500,1000,2000").split(",").map(Number);
const SECONDS = Number(process.env.SECONDS ?? 8);
const SYSTEMS = (process.env.SYSTEMS ?? "deno-group,deno-statement,workerd").split(",");
const TICK = Math.max(1, Number(process.env.CLK_TCK ?? 100));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
	const { createServer } = await import("node:net");
	return new Promise((resolve) => {
		const s = createServer();
		s.listen(0, "127.0.0.1", () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

async function start(system) {
	const port = await freePort();
	const dataDir = mkdtempSync(join(tmpdir(), `roomkit-bench-${system}-`));
	const limits = { WS_RATE_PER_SECOND: "1000", WS_RATE_BURST: "1000", MAX_SOCKETS_PER_USER: "1000" };
	const env = { PATH: process.env.PATH, ADMIN_TOKEN: "bench-admin", JWT_SECRET: "bench-secret", ...limits };
	let child;
	if (system === "workerd") {
		const workerd = createRequire(import.meta.url)("workerd").default;
		child = spawn(workerd, workerdArgs({ address: `127.0.0.1:${port}`, dataDir }), { cwd: ROOT, env, stdio: "ignore" });
	} else {
		const commit = system === "deno-statement" ? "statement" : "group";
		child = spawn(denoBinary(), denoArgs({ dataDir }), {
			cwd: ROOT,
			env: { ...env, PORT: String(port), DATA_DIR: dataDir, DENO_COMMIT: commit },
			stdio: "ignore",
		});
	}
	const base = `http://127.0.0.1:${port}`;
	for (let i = 0; i < 300; i++) {
		try {
			if ((await fetch(`${base}/health`)).ok) return { child, base };
		} catch {}
		await sleep(100);
	}
	throw new Error(`${system} did not start`);
}

const cpuMs = (pid) => {
	const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
	return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICK;
};

async function call(base, method, path, headers, body) {
	const res = await fetch(`${base}${path}`, {
		method,
		headers: { "content-type": "application/json", ...headers },
		body: body ? JSON.stringify(body) : undefined,
	});
	return res.json();
}

const setup = (base) => setupRooms(base, ROOMS);

async function setupRooms(base, roomCount) {
	const client = await call(base, "POST", "/admin/clients", { Authorization: "Bearer bench-admin" }, { name: "bench" });
	const key = client.api_token;
	const users = [];
	for (let i = 0; i < PER_ROOM; i++) {
		const user = await call(base, "POST", "/user", { clientKey: key }, { name: `u${i}` });
		users.push({ id: user.id, token: (await call(base, "POST", `/auth/${user.id}`, { clientKey: key })).token });
	}
	const rooms = [];
	for (let r = 0; r < roomCount; r++) {
		const room = await call(base, "POST", "/room", { clientKey: `${key}.${users[0].id}` }, { members: users.slice(1).map((u) => u.id) });
		rooms.push(room.id);
	}
	return { users, rooms };
}

async function connect(base, { users, rooms }) {
	const sockets = [];
	const onEvent = { fn: () => {} };
	const opens = [];
	for (const roomId of rooms) {
		for (const user of users) {
			const ws = new WebSocket(`${base.replace("http", "ws")}/room/${roomId}/ws`, ["roomkit.v1", user.token], { perMessageDeflate: false });
			const socket = { ws, roomId };
			ws.on("message", (payload) => {
				const now = performance.now();
				for (const line of payload.toString().split("\n")) onEvent.fn(socket, line, now);
			});
			opens.push(
				new Promise((resolve, reject) => {
					ws.once("open", () => {
						ws.send(JSON.stringify({ event: "join_room", id: "j", data: { room_id: roomId } }));
						resolve();
					});
					ws.once("error", reject);
				}),
			);
			sockets.push(socket);
			if (opens.length % 50 === 0) await Promise.all(opens);
		}
	}
	await Promise.all(opens);
	await sleep(500);
	return { sockets, onEvent };
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null);

async function runRate(server, conn, rate, seconds = SECONDS) {
	const latencies = [];
	let acks = 0;
	// Every joined socket of the room gets the message, the sender's included.
	const expected = rate * seconds * PER_ROOM;
	conn.onEvent.fn = (_socket, line, now) => {
		if (line.startsWith('{"event":"new_message"')) {
			const sentAt = Number(/"text_message":"t(\d+(?:\.\d+)?)"/.exec(line)?.[1]);
			if (sentAt) latencies.push(now - sentAt);
		} else if (line.startsWith('{"event":"ack"')) acks++;
	};
	const cpuBefore = cpuMs(server.child.pid);
	const started = performance.now();
	const total = rate * seconds;
	let n = 0;
	// Open loop: send whatever is due every millisecond, never waiting for the server.
	while (n < total) {
		const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
		for (; n < due; n++) {
			const socket = conn.sockets[(n * 7) % conn.sockets.length];
			socket.ws.send(
				JSON.stringify({ event: "send_message", id: n, data: { room_id: socket.roomId, text_message: `t${performance.now()}` } }),
			);
		}
		await sleep(1);
	}
	const deadline = performance.now() + 20_000;
	while ((latencies.length < expected || acks < total) && performance.now() < deadline) await sleep(50);
	const cpu = cpuMs(server.child.pid) - cpuBefore;
	latencies.sort((a, b) => a - b);
	return {
		rate,
		sent: total,
		acked: acks,
		deliveries: latencies.length,
		expected_deliveries: expected,
		p50_ms: Math.round(percentile(latencies, 50) * 10) / 10,
		p99_ms: Math.round(percentile(latencies, 99) * 10) / 10,
		server_cpu_ms_per_delivery: Math.round((cpu / Math.max(1, latencies.length)) * 1000) / 1000,
	};
}

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);

/** IDLE_SOCKETS=n: resident memory per idle room socket instead (n sockets over n/5 rooms, joined, then quiet). */
async function idleMemory(system, count) {
	const server = await start(system);
	try {
		const rooms = Math.ceil(count / PER_ROOM);
		const fixture = await setupRooms(server.base, rooms);
		await sleep(2_000);
		const before = rssKiB(server.child.pid);
		const conn = await connect(server.base, fixture);
		await sleep(5_000);
		const after = rssKiB(server.child.pid);
		for (const s of conn.sockets) s.ws.terminate();
		return {
			sockets: conn.sockets.length,
			rss_before_mib: Math.round(before / 102.4) / 10,
			rss_after_mib: Math.round(after / 102.4) / 10,
			kib_per_socket: Math.round(((after - before) / conn.sockets.length) * 10) / 10,
		};
	} finally {
		server.child.kill("SIGKILL");
	}
}

if (process.env.IDLE_SOCKETS) {
	const idle = { when: new Date().toISOString(), systems: {} };
	for (const system of SYSTEMS) {
		idle.systems[system] = await idleMemory(system, Number(process.env.IDLE_SOCKETS));
		console.log(system, JSON.stringify(idle.systems[system]));
	}
	mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
	writeFileSync(join(ROOT, "bench", "results", "deno-idle-memory.json"), `${JSON.stringify(idle, null, 2)}\n`);
	process.exit(0);
}

const results = { when: new Date().toISOString(), rooms: ROOMS, sockets_per_room: PER_ROOM, seconds_per_rate: SECONDS, systems: {} };
for (const system of SYSTEMS) {
	const server = await start(system);
	try {
		const conn = await connect(server.base, await setup(server.base));
		const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.child.pid}/status`, "utf8"))?.[1] ?? 0);
		results.systems[system] = { rss_mib_with_sockets: Math.round(rss / 102.4) / 10, rates: [] };
		// Warm-up, not recorded: every room and gateway object loaded, the JIT warm.
		await runRate(server, conn, 250, 3);
		for (const rate of RATES) {
			const row = await runRate(server, conn, rate);
			results.systems[system].rates.push(row);
			console.log(system, JSON.stringify(row));
			await sleep(1_000);
		}
		for (const s of conn.sockets) s.ws.terminate();
	} finally {
		server.child.kill("SIGKILL");
	}
}
mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
writeFileSync(join(ROOT, "bench", "results", "deno-open-loop.json"), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
