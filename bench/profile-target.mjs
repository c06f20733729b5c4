// Starts one system of the benchmark and loads it at one rate for a while, printing the server's
// pid first, so a profiler can attach (see BENCHMARKS.md, "Profile"):
//   node bench/profile-target.mjs --system=ours|ours-ws|deno|deno-ws|bare|socketio* --rate=800 --seconds=20 [--deflate=on]
// then e.g. `perf record -F 499 -g -p <pid> -- sleep 10` or `strace -c -f -p <pid> -- sleep 10`.
// Deno: DENO_V8_FLAGS=--perf-basic-prof names the JIT frames for perf; BENCH_DENO_INSPECT=host:port
// opens the inspector for bench/deno-cpu-profile.mjs. BENCH_LOGS=1 prints the server's output at the end.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { arg } from "./cli.mjs";
import { call } from "./http.mjs";
import { startBareWorkerd, startDenoHost, startSelfhost, startSocketio, stopAll } from "./servers.mjs";
import { prepareRooms, runTypical } from "./typical.mjs";

const name = arg("system", "ours");
const rate = Number(arg("rate", "800"));
const seconds = Number(arg("seconds", "20"));
const deflate = arg("deflate", "on") === "on";
const tmp = mkdtempSync(join(tmpdir(), "roomkit-profile-"));

let system;
if (name.startsWith("ours") || name.startsWith("deno")) {
	const adminToken = randomBytes(18).toString("base64url");
	const env = {
		ADMIN_TOKEN: adminToken,
		JWT_SECRET: randomBytes(24).toString("base64url"),
		WS_RATE_PER_SECOND: "1000000",
		WS_RATE_BURST: "1000000",
		MAX_SOCKETS_PER_USER: "1000",
	};
	if (name === "ours-deflate") env.WS_COMPRESSION = "on";
	const start = name.startsWith("deno") ? startDenoHost : startSelfhost;
	system = { name, ...(await start({ dataDir: join(tmp, "ours"), env })) };
	const client = await call(system.base, "POST", "/admin/clients", { Authorization: `Bearer ${adminToken}` }, { name: "p" });
	const users = [];
	for (let i = 0; i < 50; i++)
		users.push((await call(system.base, "POST", "/user", { clientKey: client.api_token }, { name: `p${i}` })).id);
	const tokens = [];
	for (const u of users) tokens.push((await call(system.base, "POST", `/auth/${u}`, { clientKey: client.api_token })).token);
	system.tenant = { key: client.api_token, users, headers: users.map((u) => `${client.api_token}.${u}`), tokens };
} else if (name === "bare") system = { name, ...(await startBareWorkerd({ dir: join(tmp, "bare") })) };
else
	system = {
		name,
		...(await startSocketio(
			name === "socketio"
				? {}
				: { sqlite: { file: join(tmp, "s.sqlite"), synchronous: name === "socketio-sqlite-full" ? "FULL" : "NORMAL" } },
		)),
	};
const rooms = await prepareRooms(system, 100, call, 5);
console.log(JSON.stringify({ pid: system.child.pid, base: system.base }));
const result = await runTypical(system, { rooms, socketsPerRoom: 5, rates: [rate], seconds, deflate });
console.log(JSON.stringify(result.steps ?? result));
if (process.env.BENCH_LOGS) console.error(system.child.logs().slice(-20_000));
await stopAll();
rmSync(tmp, { recursive: true, force: true });
