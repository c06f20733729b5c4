// Starts each chaos run with an empty figures file and prints every scenario's figures together at the end.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { FIGURES_FILE } from "./support";

export function setup(): void {
	rmSync(FIGURES_FILE, { force: true });
}

export function teardown(): void {
	if (!existsSync(FIGURES_FILE)) return;
	const lines = readFileSync(FIGURES_FILE, "utf8").trim().split("\n").filter(Boolean);
	console.log(`\n==== chaos figures (${new Date().toISOString()}) ====`);
	for (const line of lines) {
		const { scenario, ...figures } = JSON.parse(line) as Record<string, unknown>;
		console.log(`\n${scenario}`);
		for (const [k, v] of Object.entries(figures)) console.log(`  ${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
	}
	console.log(`\n(also in ${FIGURES_FILE})`);
}
