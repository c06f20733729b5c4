// JavaScript-level CPU profile of the Deno host under load, through its inspector (Deno has no
// --cpu-prof). With a target started by
//   BENCH_DENO_INSPECT=127.0.0.1:9339 node bench/profile-target.mjs --system=deno --rate=500 --seconds=30
// run, once the load is on:
//   node bench/deno-cpu-profile.mjs 127.0.0.1:9339 12 /tmp/deno.cpuprofile
// It samples for 12 s, writes the profile (Chrome DevTools opens it) and prints the functions with
// the most inclusive time, as a share of the time the JS thread was not idle.
import { writeFileSync } from "node:fs";
import { connectInspector } from "./inspector.mjs";

const [inspector, seconds = "10", out = "deno.cpuprofile"] = process.argv.slice(2);
const { send, close } = await connectInspector(inspector);
await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 200 });
await send("Profiler.start");
await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
const { profile } = await send("Profiler.stop");
writeFileSync(out, JSON.stringify(profile));
close();

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map();
let active = 0;
profile.samples.forEach((sample, i) => {
	const dt = profile.timeDeltas[i] ?? 0;
	if (byId.get(sample).callFrame.functionName === "(idle)") return;
	active += dt;
	const seen = new Set();
	for (let id = sample; id !== undefined; id = parent.get(id)) {
		const { functionName, url, lineNumber } = byId.get(id).callFrame;
		const key = `${functionName || "(anonymous)"} ${url.replace(/^file:\/\/.*?\/(src|node_modules)\//, "$1/")}:${lineNumber + 1}`;
		if (seen.has(key)) continue;
		seen.add(key);
		inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
	}
});
console.log(`JS thread busy ${Math.round(active / 1000)} ms of ${seconds} s; inclusive share of that:`);
for (const [key, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(1, 41))
	console.log(`${((100 * us) / active).toFixed(1).padStart(5)}%  ${key}`);
