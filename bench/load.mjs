// Load generator of `npm run bench`, run in its own process (never inside a server).
// Usage: node bench/load.mjs '<json>' with
//   { system: "ours" | "bare" | "socketio", mode: "load" | "idle", sockets, messages?, inflight?,
//     url, roomId, headers?: string[] (one per socket, ours), timeoutMs? }
// "load": every socket joins, then `messages` are sent round-robin by the sockets with
// `inflight` awaiting their ack; each text carries its send time. Prints one JSON line.
// "idle": connects and joins, prints {"ready":true,...} and waits to be killed.
// typingPerSecond (ours): while loading, every socket also sends `typing` this often (spread
// evenly); `typing` events received are counted apart from the messages.
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";
import WebSocket from "ws";

const opts = JSON.parse(process.argv[2]);
const { system, mode, sockets: N, roomId } = opts;
const M = opts.messages ?? 0;
const INFLIGHT = opts.inflight ?? 64;
const TIMEOUT = opts.timeoutMs ?? 180_000;
const STALL = 15_000;
const CONNECT_CONCURRENCY = 50;

const fail = (message) => {
	console.log(JSON.stringify({ error: message }));
	process.exit(1);
};
setTimeout(() => fail(`load generator timed out after ${TIMEOUT} ms`), TIMEOUT + 60_000).unref();

// ---- measurement state ----
const latencies = new Float64Array(Math.max(1, N * M));
let delivered = 0;
let duplicates = 0;
let errors = 0;
let typingReceived = 0;
let typingSent = 0;
let acked = 0;
let sent = 0;
let firstSend = 0;
let lastDelivery = 0;
let lastProgress = performance.now();
let onDone = () => {};
const errorSamples = [];

/** Per socket: seq at join (only later ones count) and last seq seen. */
class Conn {
	constructor(index) {
		this.index = index;
		this.base = 0;
		this.last = 0;
	}
	delivery(seq, stamp) {
		const now = performance.now();
		if (seq <= this.base) return;
		if (seq <= this.last) {
			duplicates++;
			return;
		}
		this.last = seq;
		latencies[delivered++] = now - stamp;
		lastDelivery = now;
		lastProgress = now;
		if (delivered === N * M) onDone();
	}
}

const TEXT_MARK = '"text_message":"bench ';
const SEQ_MARK = '"seq":';

/** Reads one server event of ours / the bare object without a full JSON.parse. */
function onLine(conn, line) {
	if (line.startsWith('{"event":"new_message"')) {
		const s = line.indexOf(SEQ_MARK) + SEQ_MARK.length;
		const t = line.indexOf(TEXT_MARK) + TEXT_MARK.length;
		conn.delivery(Number.parseInt(line.slice(s, s + 16), 10), Number.parseFloat(line.slice(t, t + 24)));
	} else if (line.startsWith('{"event":"typing"')) {
		typingReceived++;
	} else if (line.startsWith('{"event":"ack"')) {
		const event = JSON.parse(line);
		conn.onAck?.(event);
	} else if (line.startsWith('{"event":"error"')) {
		const event = JSON.parse(line);
		errors++;
		if (errorSamples.length < 5) errorSamples.push(event.data);
		if (event.id !== undefined) conn.onAck?.(event);
	}
}

function connectWs(i) {
	const conn = new Conn(i);
	return new Promise((resolve, reject) => {
		const url = system === "bare" ? `${opts.url}?room=${roomId}&user=u${i % 50}` : opts.url;
		const ws = new WebSocket(url, {
			headers: opts.headers ? { clientKey: opts.headers[i % opts.headers.length] } : {},
			perMessageDeflate: opts.deflate ?? false,
		});
		conn.ws = ws;
		ws.on("error", (e) => reject(new Error(`socket ${i}: ${e.message}`)));
		ws.on("unexpected-response", (_req, res) => reject(new Error(`socket ${i}: HTTP ${res.statusCode}`)));
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
		ws.on("open", () => {
			conn.onAck = (event) => {
				if (event.event !== "ack") return reject(new Error(`join failed: ${JSON.stringify(event)}`));
				conn.base = event.data.last_seq;
				conn.last = conn.base;
				conn.onAck = (e) => ackOf(e.id);
				resolve(conn);
			};
			ws.send(JSON.stringify({ event: "join_room", id: "join", data: { room_id: roomId } }));
		});
	});
}

function connectSio(i) {
	const conn = new Conn(i);
	return new Promise((resolve, reject) => {
		const socket = io(opts.url, { transports: ["websocket"], forceNew: true, reconnection: false, query: { user: `u${i % 50}` } });
		conn.socket = socket;
		socket.on("connect_error", (e) => reject(new Error(`socket ${i}: ${e.message}`)));
		socket.on("new_message", (m) => conn.delivery(m.seq, Number.parseFloat(m.text_message.slice(6))));
		socket.on("connect", () => {
			socket.emit("join_room", { room_id: roomId }, (ack) => {
				conn.base = ack.last_seq;
				conn.last = conn.base;
				resolve(conn);
			});
		});
	});
}

async function connectAll() {
	const conns = new Array(N);
	let next = 0;
	const worker = async () => {
		while (next < N) {
			const i = next++;
			conns[i] = await (system === "socketio" ? connectSio(i) : connectWs(i));
		}
	};
	await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, N) }, worker));
	return conns;
}

// ---- load ----
let conns = [];
const inflightIds = new Set();

function sendNext() {
	if (sent >= M) return;
	const i = sent++;
	const conn = conns[i % N];
	const now = performance.now();
	if (firstSend === 0) firstSend = now;
	const text = `bench ${now.toFixed(3)}`;
	inflightIds.add(i);
	if (system === "socketio") {
		conn.socket.emit("send_message", { room_id: roomId, text_message: text }, (m) => ackOf(i, m));
	} else {
		conn.ws.send(JSON.stringify({ event: "send_message", id: i, data: { room_id: roomId, text_message: text } }));
	}
}

// Open loop (opts.rate messages/s, still at most INFLIGHT awaiting their ack) or closed loop (default).
const RATE = opts.rate ?? 0;
let due = 0;

function pace() {
	if (sent >= M) return;
	const now = performance.now();
	while (sent < M && inflightIds.size < INFLIGHT && due <= now) {
		sendNext();
		due += 1000 / RATE;
	}
	setTimeout(pace, Math.max(0, due - performance.now()));
}

function ackOf(id) {
	if (!inflightIds.delete(id)) return;
	acked++;
	lastProgress = performance.now();
	if (RATE === 0) sendNext();
}

const percentile = (sorted, p) =>
	sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function main() {
	const t0 = performance.now();
	try {
		conns = await connectAll();
	} catch (error) {
		fail(String(error?.message ?? error));
	}
	const connectMs = performance.now() - t0;
	if (mode === "idle") {
		console.log(JSON.stringify({ ready: true, sockets: conns.length, connectMs: Math.round(connectMs) }));
		await new Promise(() => {});
	}
	// Lets the runner sample the servers' CPU between connecting and loading.
	console.log(JSON.stringify({ connected: conns.length }));
	await new Promise((r) => setTimeout(r, opts.settleMs ?? 500));
	const finished = new Promise((resolve) => {
		onDone = () => resolve("complete");
		const watchdog = setInterval(() => {
			const idle = performance.now() - lastProgress;
			if (idle > STALL) resolve(`stalled ${Math.round(idle)} ms`);
			if (performance.now() - t0 > TIMEOUT) resolve("timeout");
		}, 250);
		watchdog.unref();
	});
	lastProgress = performance.now();
	const cpu0 = process.cpuUsage();
	const typers = [];
	if (opts.typingPerSecond > 0) {
		const every = 1000 / opts.typingPerSecond;
		const frame = JSON.stringify({ event: "typing", data: { room_id: roomId } });
		conns.forEach((conn, i) => {
			const start = setTimeout(
				() => {
					const tick = () => {
						if (conn.ws?.readyState === WebSocket.OPEN) {
							conn.ws.send(frame);
							typingSent++;
						}
					};
					tick();
					typers.push(setInterval(tick, every));
				},
				(i * every) / conns.length,
			);
			typers.push(start);
		});
	}
	if (RATE > 0) {
		due = performance.now();
		pace();
	} else for (let k = 0; k < Math.min(INFLIGHT, M); k++) sendNext();
	const outcome = await finished;
	for (const t of typers) clearTimeout(t);
	const cpu = process.cpuUsage(cpu0);
	const sorted = latencies.subarray(0, delivered).sort();
	const seconds = (lastDelivery - firstSend) / 1000;
	const result = {
		system,
		sockets: N,
		messages: M,
		inflight: INFLIGHT,
		outcome,
		delivered,
		expected: N * M,
		lost: N * M - delivered,
		duplicates,
		errors,
		errorSamples,
		typingSent,
		typingReceived,
		acked,
		seconds: Number(seconds.toFixed(3)),
		deliveriesPerSecond: Math.round(delivered / seconds),
		p50: Number(percentile(sorted, 50).toFixed(1)),
		p99: Number(percentile(sorted, 99).toFixed(1)),
		max: Number(percentile(sorted, 100).toFixed(1)),
		connectMs: Math.round(connectMs),
		generatorCpuMs: Math.round((cpu.user + cpu.system) / 1000),
	};
	console.log(JSON.stringify(result));
	for (const c of conns) c.ws ? c.ws.terminate() : c.socket.disconnect();
	process.exit(0);
}

main();
