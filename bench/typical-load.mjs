// Load generator of `npm run bench -- --workload=typical`, run in its own process.
// Usage: node bench/typical-load.mjs '<json>' with
//   { system, protocol: "room" | "bare" | "user" | "socketio", base, rooms: string[], socketsPerRoom,
//     rates: number[], seconds, deflate: boolean, auth?: { headers?: string[], tokens?: string[] },
//     serverPid, serverComm, drainMs? }
// Opens rooms x socketsPerRoom sockets, each joined to its room; then for each rate, sends
// `rate` messages per second in total for `seconds`, open loop, each from a socket picked at
// random. The text carries the time the message was due (not when it was sent), so a late
// sender counts against latency. Every socket of the room, the sender included, must receive it.
// Between the steps it reads the server's CPU from /proc. Prints one JSON line per step, then
// {"done":true}.
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { treeSchedMs } from "./servers.mjs";

const opts = JSON.parse(process.argv[2]);
const { protocol, rooms, socketsPerRoom: S } = opts;
const DRAIN_MS = opts.drainMs ?? 3_000;
const CONNECT_CONCURRENCY = 25;
const USERS = 50;

const fail = (message) => {
	console.log(JSON.stringify({ error: message }));
	process.exit(1);
};
setTimeout(() => fail("typical load generator timed out after 15 minutes"), 15 * 60_000).unref();

/** Per step: latencies of the deliveries that arrived, keyed by nothing (order does not matter). */
let latencies = [];
let delivered = 0;
let duplicates = 0;
let errors = 0;
const errorSamples = [];

/** One socket joined to one room: counts seqs above the room's seq at join, in order. */
class Conn {
	constructor(index, roomId) {
		this.index = index;
		this.roomId = roomId;
		this.last = 0;
		this.nextId = 1;
	}
	delivery(seq, due) {
		if (seq <= this.last) {
			if (seq > 0) duplicates++;
			return;
		}
		this.last = seq;
		latencies.push(performance.now() - due);
		delivered++;
	}
}

const TEXT_MARK = '"text_message":"bench ';
const SEQ_MARK = '"seq":';

/** Events of our room socket, the bare object and the user socket: `{"event":...}` lines. */
function onLine(conn, line) {
	if (line.startsWith('{"event":"new_message"')) {
		const s = line.indexOf(SEQ_MARK) + SEQ_MARK.length;
		const t = line.indexOf(TEXT_MARK) + TEXT_MARK.length;
		conn.delivery(Number.parseInt(line.slice(s, s + 16), 10), Number.parseFloat(line.slice(t, t + 24)));
		return;
	}
	if (!line) return;
	const event = JSON.parse(line);
	if (event.event === "error") {
		errors++;
		if (errorSamples.length < 5) errorSamples.push(event.data);
	}
	conn.onEvent?.(event);
}

const wsBase = () => opts.base.replace(/^http/, "ws");

function connectWs(i, roomId) {
	const conn = new Conn(i, roomId);
	const user = i % USERS;
	let url;
	let protocols = [];
	const headers = {};
	if (protocol === "room") {
		url = `${wsBase()}/room/${roomId}/ws`;
		headers.clientKey = opts.auth.headers[user];
	} else if (protocol === "bare") {
		url = `${wsBase()}/ws?room=${roomId}&user=u${user}`;
	} else {
		url = `${wsBase()}/ws`;
		protocols = ["roomkit.v1", opts.auth.tokens[user]];
	}
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url, protocols, { headers, perMessageDeflate: opts.deflate });
		conn.ws = ws;
		ws.on("error", (e) => reject(new Error(`socket ${i}: ${e.message}`)));
		ws.on("unexpected-response", (_req, res) =>
			reject(
				new Error(
					protocol === "user" && res.statusCode === 404
						? `GET /ws answered 404: this server has no user socket yet (system ours-ws needs the /ws route)`
						: `socket ${i}: HTTP ${res.statusCode}`,
				),
			),
		);
		ws.on("message", (data) => {
			const frame = data.toString();
			let start = 0;
			for (;;) {
				const nl = frame.indexOf("\n", start);
				onLine(conn, nl < 0 ? (start === 0 ? frame : frame.slice(start)) : frame.slice(start, nl));
				if (nl < 0) break;
				start = nl + 1;
			}
		});
		const join = () => {
			const id = conn.nextId++;
			conn.onEvent = (event) => {
				if (event.id !== id) return;
				if (event.event === "error") return reject(new Error(`join failed: ${JSON.stringify(event)}`));
				conn.last = event.data?.last_seq ?? 0;
				conn.onEvent = null;
				resolve(conn);
			};
			ws.send(JSON.stringify({ event: "join_room", data: { room_id: roomId }, id }));
		};
		ws.on("open", () => {
			conn.extensions = ws.extensions;
			if (protocol !== "user") return join();
			// The user socket greets with {"event":"ready",...} before it takes frames.
			conn.onEvent = (event) => {
				if (event.event === "ready") join();
			};
		});
	});
}

function connectSio(i, roomId) {
	const conn = new Conn(i, roomId);
	return new Promise((resolve, reject) => {
		const socket = io(opts.base, {
			transports: ["websocket"],
			forceNew: true,
			reconnection: false,
			query: { user: `u${i % USERS}` },
			perMessageDeflate: opts.deflate ? { threshold: 0 } : false,
		});
		conn.socket = socket;
		socket.on("connect_error", (e) => reject(new Error(`socket ${i}: ${e.message}`)));
		socket.on("new_message", (m) => conn.delivery(m.seq, Number.parseFloat(m.text_message.slice(6))));
		socket.on("connect", () => {
			socket.emit("join_room", { room_id: roomId }, (ack) => {
				conn.last = ack.last_seq;
				resolve(conn);
			});
		});
	});
}

async function connectAll() {
	const total = rooms.length * S;
	const conns = new Array(total);
	let next = 0;
	const worker = async () => {
		while (next < total) {
			const i = next++;
			const roomId = rooms[Math.floor(i / S)];
			conns[i] = await (protocol === "socketio" ? connectSio(i, roomId) : connectWs(i, roomId));
		}
	};
	await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, total) }, worker));
	return conns;
}

function send(conn, due) {
	const text = `bench ${due.toFixed(3)}`;
	if (conn.socket) {
		conn.socket.emit("send_message", { room_id: conn.roomId, text_message: text });
		return;
	}
	conn.ws.send(JSON.stringify({ event: "send_message", data: { room_id: conn.roomId, text_message: text }, id: conn.nextId++ }));
}

const percentile = (sorted, p) =>
	sorted.length === 0 ? null : Number(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)].toFixed(1));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cpu = () => treeSchedMs(opts.serverPid, opts.serverComm);

/** Sends `rate` msg/s for `seconds`, waits for the deliveries, reports. */
async function step(conns, rate, seconds) {
	latencies = [];
	delivered = 0;
	duplicates = 0;
	errors = 0;
	const total = Math.round(rate * seconds);
	const expected = total * S;
	const cpu0 = cpu();
	const gen0 = process.cpuUsage();
	const t0 = performance.now();
	let sent = 0;
	let maxBehindMs = 0;
	await new Promise((resolve) => {
		const tick = () => {
			const now = performance.now();
			while (sent < total) {
				const due = t0 + (sent * 1000) / rate;
				if (due > now) break;
				maxBehindMs = Math.max(maxBehindMs, now - due);
				send(conns[Math.floor(Math.random() * conns.length)], due);
				sent++;
			}
			if (sent >= total) return resolve();
			setTimeout(tick, Math.max(0, t0 + (sent * 1000) / rate - performance.now()));
		};
		tick();
	});
	const sendEnd = performance.now();
	while (delivered < expected && performance.now() - sendEnd < DRAIN_MS) await sleep(5);
	const cpu1 = cpu();
	const gen = process.cpuUsage(gen0);
	const sorted = Float64Array.from(latencies).sort();
	const serverCpuMs = cpu1[0] - cpu0[0];
	return {
		rate,
		seconds,
		sent,
		expected,
		delivered,
		lost: expected - delivered,
		duplicates,
		errors,
		errorSamples: errorSamples.splice(0),
		p50: percentile(sorted, 50),
		p99: percentile(sorted, 99),
		max: percentile(sorted, 100),
		serverCpuMs: Math.round(serverCpuMs),
		serverWaitMs: Math.round(cpu1[1] - cpu0[1]),
		serverCpuUsPerDelivery: delivered ? Number(((serverCpuMs * 1000) / delivered).toFixed(1)) : null,
		serverCpuUsPerMessage: sent ? Number(((serverCpuMs * 1000) / sent).toFixed(1)) : null,
		generatorCpuMs: Math.round((gen.user + gen.system) / 1000),
		generatorMaxBehindMs: Number(maxBehindMs.toFixed(1)),
	};
}

async function main() {
	const t0 = performance.now();
	let conns;
	try {
		conns = await connectAll();
	} catch (error) {
		fail(String(error?.message ?? error));
	}
	const extensions = [...new Set(conns.map((c) => c.extensions ?? (c.socket ? "socket.io" : "")))];
	console.log(JSON.stringify({ connected: conns.length, connectMs: Math.round(performance.now() - t0), extensions }));
	await sleep(500);
	// Uncounted warm-up at the lowest rate.
	await step(conns, opts.rates[0], opts.warmupSeconds ?? 1);
	await sleep(500);
	for (const rate of opts.rates) {
		console.log(JSON.stringify({ step: await step(conns, rate, opts.seconds) }));
		await sleep(1000);
	}
	console.log(JSON.stringify({ done: true }));
	for (const c of conns) c.ws ? c.ws.terminate() : c.socket.disconnect();
	process.exit(0);
}

main();
