// `npm run bench:handshake`: what a socket's handshake and an incoming frame cost on bare workerd,
// as `npm run selfhost` runs it (issue 13's last two levers; see BENCHMARKS.md, "Handshakes and
// incoming frames"):
//  1. reconnects: 100 rooms x 5 members, every member's socket opens, joins its room with its
//     `last_seq`, gets the ack and closes, over and over: server CPU per handshake and the time from
//     open to ack, for the room socket (`GET /room/{id}/ws`) and the user socket (`GET /ws`);
//  2. incoming frames: the same 500 sockets held open and joined, sending frames open-loop at a fixed
//     total rate: server CPU per frame for a heartbeat (`{"event":"ping"}`, answered by the runtime's
//     auto-response without waking the object), for a frame our code refuses at once
//     (`unknown_event`), and for `typing` (handled, nothing stored); idle CPU over as long subtracted.
// Options: --rooms=100 --members=5 --cycles=4 --concurrency=50 --rate=2000 --seconds=5
//          --sockets=room,user --ours-env=K=V,K=V --out=bench/results/handshake.json
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { arg, envArg, log, round, sleep } from "./cli.mjs";
import { call, pool } from "./http.mjs";
import { killAllNow, ROOT, startSelfhost, stopAll, treeSchedMs, workerdVersion } from "./servers.mjs";

const ROOMS = Number(arg("rooms", "100"));
const MEMBERS = Number(arg("members", "5"));
const CYCLES = Number(arg("cycles", "4"));
const CONCURRENCY = Number(arg("concurrency", "50"));
const RATE = Number(arg("rate", "2000"));
const SECONDS = Number(arg("seconds", "5"));
const KINDS = arg("sockets", "room,user").split(",");
const EXTRA_ENV = envArg("ours-env");
const OUT = arg("out", join(ROOT, "bench", "results", "handshake.json"));

const tmp = mkdtempSync(join(tmpdir(), "roomkit-bench-hs-"));
process.on("exit", killAllNow);
setTimeout(async () => {
	log("benchmark exceeded 15 minutes, stopping");
	await stopAll();
	process.exit(2);
}, 15 * 60_000).unref();

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];

/** Opens a socket with the JWT beside `roomkit.v1`, joins `roomId` from `lastSeq`, resolves on the ack. */
function openJoined(base, kind, token, roomId, lastSeq) {
	const path = kind === "room" ? `/room/${roomId}/ws` : "/ws";
	const ws = new WebSocket(`${base.replace("http", "ws")}${path}`, ["roomkit.v1", token], { perMessageDeflate: false });
	const started = performance.now();
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`${kind} socket: no ack within 30 s`)), 30_000);
		ws.on("error", reject);
		ws.on("open", () => ws.send(JSON.stringify({ event: "join_room", data: { room_id: roomId, last_seq: lastSeq }, id: "j" })));
		ws.on("message", (data) => {
			for (const line of data.toString().split("\n")) {
				if (!line) continue;
				const e = JSON.parse(line);
				if (e.event === "error") reject(new Error(`${kind} socket: ${line}`));
				if (e.event === "ack" && e.id === "j") {
					clearTimeout(timer);
					resolve({ ws, ms: performance.now() - started, lastSeq: e.data.last_seq });
				}
			}
		});
	});
}

const closeSocket = (ws) =>
	new Promise((resolve) => {
		if (ws.readyState === WebSocket.CLOSED) return resolve();
		ws.once("close", resolve);
		ws.close(1000);
	});

async function main() {
	const adminToken = randomBytes(18).toString("base64url");
	const vars = {
		ADMIN_TOKEN: adminToken,
		JWT_SECRET: randomBytes(24).toString("base64url"),
		WS_RATE_PER_SECOND: "1000000",
		WS_RATE_BURST: "1000000",
		REST_SEND_RATE_PER_SECOND: "1000000",
		REST_SEND_RATE_BURST: "1000000",
		MAX_SOCKETS_PER_USER: "1000",
		...EXTRA_ENV,
	};
	log("starting bare workerd", JSON.stringify(EXTRA_ENV));
	const server = await startSelfhost({ dataDir: join(tmp, "data"), env: vars });
	const cpuMs = () => treeSchedMs(server.child.pid, "workerd")[0];
	const base = server.base;
	const { api_token: key } = await call(base, "POST", "/admin/clients", { Authorization: `Bearer ${adminToken}` }, { name: "bench" });
	const backend = { clientKey: key };

	// Private rooms of MEMBERS users each, one message per room, a JWT per user.
	const users = await pool(Array.from({ length: ROOMS * MEMBERS }), 20, async (_, i) => {
		const id = (await call(base, "POST", "/user", backend, { name: `u${i}` })).id;
		const { token } = await call(base, "POST", `/auth/${id}`, backend, {});
		return { id, token };
	});
	const seats = [];
	await pool(Array.from({ length: ROOMS }), 10, async (_, r) => {
		const of = users.slice(r * MEMBERS, (r + 1) * MEMBERS);
		const room = await call(base, "POST", "/room", backend, { name: `r${r}`, private: true, members: of.map((u) => u.id) });
		await call(base, "POST", `/room/${room.id}/message/send`, { clientKey: `${key}.${of[0].id}` }, { text_message: "hello" });
		for (const u of of) seats.push({ roomId: room.id, token: u.token, lastSeq: 0 });
	});
	const result = {
		date: new Date().toISOString(),
		machine: { cpus: cpus().length, model: cpus()[0]?.model },
		runtime: workerdVersion(),
		env: EXTRA_ENV,
		rooms: ROOMS,
		members: MEMBERS,
		reconnects: {},
		frames: {},
	};

	// 1. Reconnect cycles. The first cycle of each kind warms the objects up and is not counted.
	for (const kind of KINDS) {
		const times = [];
		let cpu = 0;
		for (let cycle = 0; cycle <= CYCLES; cycle++) {
			const before = cpuMs();
			const ms = await pool(seats, CONCURRENCY, async (seat) => {
				const { ws, ms, lastSeq } = await openJoined(base, kind, seat.token, seat.roomId, seat.lastSeq);
				seat.lastSeq = lastSeq;
				await closeSocket(ws);
				return ms;
			});
			await sleep(500);
			if (cycle === 0) continue;
			cpu += cpuMs() - before;
			times.push(...ms);
		}
		times.sort((a, b) => a - b);
		result.reconnects[kind] = {
			handshakes: times.length,
			serverCpuPerHandshakeUs: round((cpu * 1000) / times.length, 0),
			openToAckP50Ms: round(percentile(times, 50)),
			openToAckP99Ms: round(percentile(times, 99)),
		};
		log("reconnects", kind, JSON.stringify(result.reconnects[kind]));
	}

	// 2. Incoming frames on 500 open room sockets, open loop.
	const open = await pool(seats, CONCURRENCY, (seat) => openJoined(base, "room", seat.token, seat.roomId, seat.lastSeq));
	const sockets = open.map((o) => o.ws);
	for (const ws of sockets) ws.on("message", () => {});
	await sleep(2_000);
	const idleBefore = cpuMs();
	await sleep(SECONDS * 1000);
	const idleMs = cpuMs() - idleBefore;
	const frames = {
		ping: () => '{"event":"ping"}',
		refused: (i) => `{"event":"nope","id":${i}}`,
		typing: (_, seat) => JSON.stringify({ event: "typing", data: { room_id: seat.roomId } }),
	};
	for (const [label, frame] of Object.entries(frames)) {
		const total = RATE * SECONDS;
		const before = cpuMs();
		const started = performance.now();
		for (let i = 0; i < total; i++) {
			const due = started + (i * 1000) / RATE;
			const wait = due - performance.now();
			if (wait > 1) await sleep(wait);
			const s = i % sockets.length;
			sockets[s].send(frame(i, seats[s]));
		}
		await sleep(1_000);
		const used = cpuMs() - before - (idleMs * (performance.now() - started)) / (SECONDS * 1000);
		result.frames[label] = { frames: total, serverCpuPerFrameUs: round((used * 1000) / total, 1) };
		log("frames", label, JSON.stringify(result.frames[label]));
		await sleep(1_500);
	}
	result.idleCpuMsPerSecond = round(idleMs / SECONDS);
	await Promise.all(sockets.map(closeSocket));
	await stopAll();
	mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
	writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
	log("wrote", OUT);
	console.log(JSON.stringify(result, null, 2));
}

main()
	.catch(async (error) => {
		console.error(error);
		await stopAll();
		process.exitCode = 1;
	})
	.finally(() => rmSync(tmp, { recursive: true, force: true }));
