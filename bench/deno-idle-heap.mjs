// `node bench/deno-idle-heap.mjs`: memory per idle room socket on the Deno host, after a forced
// garbage collection (through the inspector), so the handshakes' garbage does not count. 40 rooms,
// one socket each first (the rooms' own memory is in the baseline), then 49 more users per room.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { denoBinary } from "../scripts/deno-command.mjs";
import { connectInspector } from "./inspector.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
	new Promise((resolve) => {
		const s = createServer();
		s.listen(0, "127.0.0.1", () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
const ROOT = join(import.meta.dirname, "..");
const [port, inspectPort] = [await freePort(), await freePort()];
const dataDir = mkdtempSync(join(tmpdir(), "roomkit-idle-heap-"));
const child = spawn(
	denoBinary(),
	[
		"run",
		`--inspect=127.0.0.1:${inspectPort}`,
		"--config",
		join(ROOT, "deno.json"),
		"--allow-all",
		join(ROOT, "src/runtimes/deno/main.ts"),
	],
	{
		env: { PATH: process.env.PATH, ADMIN_TOKEN: "a", JWT_SECRET: "b", PORT: String(port), DATA_DIR: dataDir, MAX_SOCKETS_PER_USER: "1000" },
		stdio: "ignore",
	},
);
const base = `http://127.0.0.1:${port}`;
const inspector = `127.0.0.1:${inspectPort}`;
const pid = child.pid;
for (let i = 0; i < 100; i++) {
	try {
		if ((await fetch(`${base}/health`)).ok) break;
	} catch {}
	await sleep(100);
}
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
const call = async (m, p, h, b) =>
	(
		await fetch(base + p, { method: m, headers: { "content-type": "application/json", ...h }, body: b ? JSON.stringify(b) : undefined })
	).json();
const { send } = await connectInspector(inspector);
const heap = async () => {
	await send("HeapProfiler.collectGarbage");
	await sleep(300);
	const r = await send("Runtime.getHeapUsage");
	return { rss: rss(), used: Math.round(r.usedSize / 1024) };
};
const c = await call("POST", "/admin/clients", { Authorization: "Bearer a" }, { name: "x" });
const key = c.api_token;
const users = [];
for (let i = 0; i < 50; i++) {
	const u = await call("POST", "/user", { clientKey: key }, { name: "u" + i });
	users.push({ id: u.id, token: (await call("POST", `/auth/${u.id}`, { clientKey: key })).token });
}
const rooms = [];
for (let r = 0; r < 40; r++)
	rooms.push((await call("POST", "/room", { clientKey: `${key}.${users[0].id}` }, { members: users.slice(1).map((u) => u.id) })).id);
// one socket per room first, so room objects are loaded before the baseline
const socks = [];
const open = async (roomId, u) => {
	const ws = new WebSocket(`${base.replace("http", "ws")}/room/${roomId}/ws`, ["roomkit.v1", u.token], { perMessageDeflate: false });
	await new Promise((r) => ws.once("open", r));
	ws.send(JSON.stringify({ event: "join_room", id: "j", data: { room_id: roomId } }));
	socks.push(ws);
};
for (const r of rooms) await open(r, users[0]);
await sleep(1000);
const before = await heap();
for (const r of rooms) for (const u of users.slice(1)) await open(r, u);
await sleep(2000);
const after = await heap();
const n = socks.length - rooms.length;
console.log(
	JSON.stringify({
		sockets: n,
		rss_kib_per_socket: ((after.rss - before.rss) / n).toFixed(1),
		js_heap_kib_per_socket: ((after.used - before.used) / n).toFixed(2),
		before,
		after,
	}),
);
child.kill("SIGKILL");
process.exit(0);
