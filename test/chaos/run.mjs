// `npm run test:chaos`: the long runs in one go, then every figure together.
// 1. vitest.chaos.config.ts: crash durability, recovery, backpressure and the WebSocket fuzzer
//    (bare workerd on 127.0.0.1), one file at a time.
// 2. The REST fuzzer inside workerd, four times longer than in `npm test`.
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");
const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
const figures = join(root, "test-artifacts", "chaos", "figures.jsonl");
const started = Date.now();

const chaos = spawnSync(process.execPath, [vitest, "run", "--config", "vitest.chaos.config.ts"], { cwd: root, stdio: "inherit" });

const restRuns = process.env.REST_FUZZ_RUNS ?? "20000";
const rest = spawnSync(process.execPath, [vitest, "run", "test/workers/fuzz-rest.test.ts"], {
	cwd: root,
	encoding: "utf8",
	env: { ...process.env, VITE_FUZZ_RUNS: restRuns },
	maxBuffer: 512 * 1024 * 1024,
});
// The request log is one line per request; keep the verdict and the figures.
const restLines = `${rest.stdout}${rest.stderr}`
	.split("\n")
	.filter((l) => /REST fuzz:|verbatim:|Test Files|Tests |\bFAIL\b|^\s*\w*Error:/.test(l));
console.log(restLines.join("\n"));
const figure = (prefix) => restLines.find((l) => l.includes(prefix))?.replace(/^.*?(REST fuzz:|verbatim:)\s*/, "") ?? "missing";
appendFileSync(
	figures,
	`${JSON.stringify({ scenario: `REST fuzzing inside workerd (${restRuns} requests)`, requests: figure("REST fuzz:"), verbatim: figure("verbatim:"), passed: rest.status === 0 })}\n`,
);

console.log(`\n==== chaos figures (${new Date().toISOString()}, ${Math.round((Date.now() - started) / 1000)} s) ====`);
if (existsSync(figures)) {
	for (const line of readFileSync(figures, "utf8").trim().split("\n").filter(Boolean)) {
		const { scenario, ...values } = JSON.parse(line);
		console.log(`\n${scenario}`);
		for (const [k, v] of Object.entries(values)) console.log(`  ${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
	}
}
// The run must have been as long as asked (the count reaches workerd through Vite).
const restCount = Number(
	/REST fuzz: (\d+) requests/.exec(figure("REST fuzz:") === "missing" ? "" : `REST fuzz: ${figure("REST fuzz:")}`)?.[1] ?? 0,
);
if (restCount < Number(restRuns)) console.log(`REST fuzz ran ${restCount} requests, fewer than the ${restRuns} asked for`);
const ok = chaos.status === 0 && rest.status === 0 && restCount >= Number(restRuns);
console.log(
	`\n${ok ? "PASS" : "FAIL"}: chaos ${chaos.status === 0 ? "passed" : "failed"}, REST fuzz ${rest.status === 0 ? "passed" : "failed"} (figures in ${figures})`,
);
process.exit(ok ? 0 : 1);
