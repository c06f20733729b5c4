// `npm run bench:user-socket`: what the user socket (`GET /ws`) costs on bare workerd, as
// `npm run selfhost` runs it (see BENCHMARKS.md, "User socket"):
//  1. connect: time to `ready` and server CPU for a user in 0 and in 200 rooms;
//  2. a reconnect storm: 1,000 users in 3 rooms each (300 rooms of 10 members) drop together while
//     the rooms get messages, then reconnect at once and resume every room from `last_seq`:
//     time until all resumed, messages lost and duplicated, server CPU;
//  3. idle memory and hibernation: the same sockets idle past the hibernation delay, against as
//     many room sockets, and what the gateway objects hold afterwards.
// Options: --users=1000 --rooms-per-user=3 --members=10 --ready-rooms=200 --idle-wait=15000
//          --out=bench/results/user-socket.json
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { arg, log, round, sleep } from "./cli.mjs";
import { call, pool } from "./http.mjs";
import { killAllNow, ROOT, startSelfhost, stopAll, treeRss, treeSchedMs, workerdVersion } from "./servers.mjs";

const USERS = Number(arg("users", "1000"));
const ROOMS_PER_USER = Number(arg("rooms-per-user", "3"));
const MEMBERS = Number(arg("members", "10"));
const READY_ROOMS = Number(arg("ready-rooms", "200"));
const IDLE_WAIT_MS = Number(arg("idle-wait", "15000"));
const OUT = arg("out", join(ROOT, "bench", "results", "user-socket.json"));

const tmp = mkdtempSync(join(tmpdir(), "roomkit-bench-us-"));
process.on("exit", killAllNow);
setTimeout(async () => {
	log("benchmark exceeded 20 minutes, stopping");
	await stopAll();
	process.exit(2);
}, 20 * 60_000).unref();

/** A user socket that records events; `joined(room)` resolves with the join's ack. */
function userSocket(base, header, path = "/ws") {
	const ws = new WebSocket(`${base.replace("http", "ws")}${path}`, { headers: { clientKey: header }, perMessageDeflate: false });
	const state = { ws, ready: null, readyAt: 0, acks: new Map(), seen: new Map(), dup: 0, waiters: new Set(), instance: null };
	// With EXPOSE_INSTANCE=1 the 101 names the gateway instance that took the socket.
	ws.once("upgrade", (res) => (state.instance = res.headers["x-roomkit-instance"] ?? null));
	const opened = performance.now();
	ws.on("message", (data) => {
		for (const line of data.toString().split("\n")) {
			if (!line) continue;
			const e = JSON.parse(line);
			if (e.event === "ready") {
				state.ready = e.data;
				state.readyAt = performance.now() - opened;
			} else if (e.event === "ack" && typeof e.id === "string") state.acks.set(e.id, e.data);
			else if (e.event === "new_message") {
				const list = state.seen.get(e.data.room_id) ?? [];
				if (list.includes(e.data.seq)) state.dup++;
				else list.push(e.data.seq);
				state.seen.set(e.data.room_id, list);
			}
		}
		for (const wake of state.waiters) wake();
	});
	state.until = (check, timeoutMs = 60_000) =>
		new Promise((resolve, reject) => {
			const attempt = () => {
				if (!check()) return;
				clearTimeout(timer);
				state.waiters.delete(attempt);
				resolve();
			};
			const timer = setTimeout(() => {
				state.waiters.delete(attempt);
				reject(new Error("timed out"));
			}, timeoutMs);
			state.waiters.add(attempt);
			attempt();
		});
	state.open = new Promise((resolve, reject) => {
		ws.once("open", resolve);
		ws.once("error", reject);
	});
	state.close = () =>
		new Promise((resolve) => {
			if (ws.readyState === WebSocket.CLOSED) return resolve();
			ws.once("close", resolve);
			ws.close(1000);
		});
	return state;
}

const cpuMs = (server) => treeSchedMs(server.child.pid, "workerd")[0];
const rssMiB = (server) => treeRss(server.child.pid).workerd ?? 0;

async function main() {
	const adminToken = randomBytes(18).toString("base64url");
	const vars = {
		ADMIN_TOKEN: adminToken,
		JWT_SECRET: randomBytes(24).toString("base64url"),
		WS_RATE_PER_SECOND: "1000000",
		WS_RATE_BURST: "1000000",
		REST_SEND_RATE_PER_SECOND: "1000000",
		REST_SEND_RATE_BURST: "1000000",
		EXPOSE_INSTANCE: "1",
	};
	log("starting bare workerd");
	const server = await startSelfhost({ dataDir: join(tmp, "data"), env: vars });
	const base = server.base;
	const client = await call(base, "POST", "/admin/clients", { Authorization: `Bearer ${adminToken}` }, { name: "bench" });
	const key = client.api_token;
	const backend = { clientKey: key };
	const result = {
		date: new Date().toISOString(),
		machine: { cpus: cpus().length, model: cpus()[0]?.model },
		runtime: workerdVersion(),
		gatewayShards: 16,
	};

	// 1. Connect: a user in 0 and in READY_ROOMS rooms.
	log(`connect: a user in ${READY_ROOMS} rooms`);
	const lonely = (await call(base, "POST", "/user", backend, { name: "lonely" })).id;
	const busy = (await call(base, "POST", "/user", backend, { name: "busy" })).id;
	const other = (await call(base, "POST", "/user", backend, { name: "other" })).id;
	const busyRooms = await pool(Array.from({ length: READY_ROOMS }), 10, async (_, i) => {
		const room = await call(base, "POST", "/room", backend, { name: `r${i}`, members: [busy, other] });
		if (i % 2 === 0) await call(base, "POST", `/room/${room.id}/message/send`, { clientKey: `${key}.${other}` }, { text_message: "news" });
		return room.id;
	});
	await sleep(2_000);
	const connects = {};
	for (const [label, userId, rooms] of [
		["0 rooms", lonely, 0],
		[`${READY_ROOMS} rooms`, busy, busyRooms.length],
	]) {
		const times = [];
		const cpu = [];
		for (let i = 0; i < 20; i++) {
			const before = cpuMs(server);
			const s = userSocket(base, `${key}.${userId}`);
			await s.open;
			await s.until(() => s.ready !== null);
			cpu.push(cpuMs(server) - before);
			times.push(s.readyAt);
			if (s.ready.rooms.length !== rooms) throw new Error(`ready listed ${s.ready.rooms.length} rooms, expected ${rooms}`);
			await s.close();
		}
		// The first connection wakes every room that stopped sending the user's state while they were away.
		const [firstMs, firstCpuMs] = [times[0], cpu[0]];
		times.sort((a, b) => a - b);
		cpu.sort((a, b) => a - b);
		connects[label] = {
			firstReadyMs: round(firstMs),
			firstServerCpuMs: round(firstCpuMs),
			readyMedianMs: round(times[10]),
			readyP95Ms: round(times[18]),
			serverCpuMedianMs: round(cpu[10]),
			unreadTotal: label === "0 rooms" ? 0 : READY_ROOMS / 2,
		};
	}
	result.connect = connects;
	log("connect", JSON.stringify(connects));

	// 2. Reconnect storm.
	const roomCount = (USERS * ROOMS_PER_USER) / MEMBERS;
	log(`storm: ${USERS} users, ${roomCount} rooms of ${MEMBERS}`);
	const users = await pool(
		Array.from({ length: USERS }),
		20,
		async (_, i) => (await call(base, "POST", "/user", backend, { name: `u${i}` })).id,
	);
	// Room r of layer k holds the users whose index is congruent to r modulo roomCount/ROOMS_PER_USER, shifted per layer.
	const perLayer = roomCount / ROOMS_PER_USER;
	const layout = [];
	for (let k = 0; k < ROOMS_PER_USER; k++) {
		for (let r = 0; r < perLayer; r++) {
			const members = users.filter((_, i) => (i + k * 7) % perLayer === r);
			layout.push(members);
		}
	}
	const rooms = await pool(layout, 10, async (members) => (await call(base, "POST", "/room", backend, { members })).id);
	const roomsOf = new Map(users.map((u) => [u, []]));
	layout.forEach((members, r) => {
		for (const u of members) roomsOf.get(u).push(rooms[r]);
	});
	const sendRound = (text) =>
		pool(rooms, 20, (roomId, r) =>
			call(base, "POST", `/room/${roomId}/message/send`, { clientKey: `${key}.${layout[r][0]}` }, { text_message: text }),
		);

	const connectAll = async (lastSeqs) => {
		const sockets = await pool(users, 100, async (u) => {
			const s = userSocket(base, `${key}.${u}`);
			s.user = u;
			await s.open;
			await s.until(() => s.ready !== null);
			for (const roomId of roomsOf.get(u))
				s.ws.send(
					JSON.stringify({
						event: "join_room",
						data: { room_id: roomId, last_seq: lastSeqs?.get(`${u}/${roomId}`) ?? 0 },
						id: `j:${roomId}`,
					}),
				);
			return s;
		});
		await Promise.all(sockets.map((s) => s.until(() => roomsOf.get(s.user).every((r) => s.acks.has(`j:${r}`)), 120_000)));
		return sockets;
	};
	let sockets = await connectAll();
	await sendRound("one");
	await sendRound("two");
	// Every socket has both messages of each of its rooms.
	await Promise.all(sockets.map((s) => s.until(() => roomsOf.get(s.user).every((r) => (s.seen.get(r)?.length ?? 0) === 2), 120_000)));
	const lastSeqs = new Map();
	for (const s of sockets) for (const r of roomsOf.get(s.user)) lastSeqs.set(`${s.user}/${r}`, Math.max(...(s.seen.get(r) ?? [0])));
	const stormDup = sockets.reduce((n, s) => n + s.dup, 0);
	await Promise.all(sockets.map((s) => s.close()));
	// Traffic while everyone is away.
	await sendRound("three");
	await sendRound("four");
	await sendRound("five");
	log("storm: everyone reconnects at once");
	const cpuBefore = cpuMs(server);
	const started = performance.now();
	sockets = await connectAll(lastSeqs);
	await Promise.all(sockets.map((s) => s.until(() => roomsOf.get(s.user).every((r) => (s.seen.get(r)?.length ?? 0) === 3), 120_000)));
	const resumedMs = performance.now() - started;
	const stormCpu = cpuMs(server) - cpuBefore;
	let lost = 0;
	let dup = stormDup;
	for (const s of sockets) {
		dup += s.dup;
		for (const r of roomsOf.get(s.user)) {
			const got = s.seen.get(r) ?? [];
			const expected = [3, 4, 5];
			lost += expected.filter((seq) => !got.includes(seq)).length;
			if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`room ${r} for ${s.user}: got ${JSON.stringify(got)}`);
		}
	}
	result.storm = {
		users: USERS,
		rooms: roomCount,
		membersPerRoom: MEMBERS,
		missedPerRoom: 3,
		allResumedMs: Math.round(resumedMs),
		serverCpuMs: Math.round(stormCpu),
		lost,
		duplicated: dup,
	};
	log("storm", JSON.stringify(result.storm));

	// 3. Idle memory, each kind on a fresh server (RSS does not shrink after sockets close): USERS
	// user sockets joined to their rooms, against USERS room sockets, past the hibernation delay.
	await Promise.all(sockets.map((s) => s.close()));
	const idle = {};
	const measureIdle = async (label, open, probe) => {
		const fresh = await startSelfhost({ dataDir: join(tmp, `idle-${label}`), env: vars });
		try {
			const c = await call(fresh.base, "POST", "/admin/clients", { Authorization: `Bearer ${adminToken}` }, { name: "idle" });
			const ids = await pool(
				Array.from({ length: USERS }),
				20,
				async () => (await call(fresh.base, "POST", "/user", { clientKey: c.api_token }, {})).id,
			);
			const groups = [];
			for (let i = 0; i < ids.length; i += MEMBERS) groups.push(ids.slice(i, i + MEMBERS));
			const roomIds = await pool(
				groups,
				10,
				async (members) => (await call(fresh.base, "POST", "/room", { clientKey: c.api_token }, { members })).id,
			);
			const roomOf = (i) => roomIds[Math.floor(i / MEMBERS)];
			await sleep(3_000);
			const baseline = rssMiB(fresh);
			const opened = await pool(ids, 100, async (u, i) => open(fresh.base, `${c.api_token}.${u}`, roomOf(i)));
			const connected = rssMiB(fresh);
			await sleep(IDLE_WAIT_MS);
			const idleNow = rssMiB(fresh);
			const after = probe ? await probe({ base: fresh.base, key: c.api_token, ids, opened, roomOf }) : undefined;
			await Promise.all(opened.map((s) => s.close()));
			return {
				sockets: opened.length,
				baselineMiB: round(baseline),
				connectedMiB: round(connected),
				idleMiB: round(idleNow),
				perSocketKiB: Math.round(((idleNow - baseline) * 1024) / opened.length),
				...after,
			};
		} finally {
			fresh.child.kill("SIGKILL");
		}
	};
	const joinOn = async (s, roomId) => {
		await s.open;
		s.ws.send(JSON.stringify({ event: "join_room", data: { room_id: roomId }, id: "j" }));
		await s.until(() => s.acks.has("j"));
		return s;
	};
	// After the idle wait: a new socket of the first user reaches the same gateway object. A newer
	// instance than the one that took the idle socket means the object was evicted (hibernated) while
	// its sockets stayed open; a message then reaches the idle socket, which the new instance serves
	// from the socket's attachment and its storage.
	const hibernation = async ({ base: b, key: k, ids, opened, roomOf }) => {
		const idleSocket = opened[0];
		const fresh = userSocket(b, `${k}.${ids[0]}`);
		await fresh.open;
		await fresh.until(() => fresh.ready !== null);
		const sent = await call(b, "POST", `/room/${roomOf(0)}/message/send`, { clientKey: `${k}.${ids[1]}` }, { text_message: "wake" });
		await idleSocket.until(() => (idleSocket.seen.get(roomOf(0)) ?? []).includes(sent.seq), 30_000);
		await fresh.close();
		return {
			instanceBefore: Number(idleSocket.instance),
			instanceAfter: Number(fresh.instance),
			gatewayHibernated: Number(fresh.instance) > Number(idleSocket.instance),
			idleSocketGotMessageAfterWake: true,
		};
	};
	idle.userSockets = await measureIdle("user", (b, header, roomId) => joinOn(userSocket(b, header), roomId), hibernation);
	idle.roomSockets = await measureIdle("room", (b, header, roomId) => joinOn(userSocket(b, header, `/room/${roomId}/ws`), roomId));
	// An idle gateway hibernated: it answers a new connection after the wait with state from storage.
	const check = userSocket(base, `${key}.${users[0]}`);
	await check.open;
	await check.until(() => check.ready !== null);
	idle.afterIdleReadyRooms = check.ready.rooms.length;
	await check.close();
	result.idle = idle;
	log("idle", JSON.stringify(idle));

	mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
	writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
	console.log(JSON.stringify(result, null, 2));
	await stopAll();
	rmSync(tmp, { recursive: true, force: true });
}

main().catch(async (error) => {
	console.error(error);
	await stopAll();
	process.exit(1);
});
