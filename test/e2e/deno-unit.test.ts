// The core's unit tests under Deno, as part of `npm test`: vitest itself on the Deno binary
// (`npm run test:deno`), every file of test/unit/ passing there as it does on Node.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { denoBinary } from "../../scripts/deno-command.mjs";
import { ROOT } from "./harness";

it("runs every unit test file under Deno, all passing", () => {
	const files = readdirSync(join(ROOT, "test", "unit")).filter((f) => f.endsWith(".test.ts")).length;
	const run = spawnSync(
		denoBinary(),
		["run", "--allow-all", join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "--config", "vitest.deno.config.ts"],
		{ cwd: ROOT, encoding: "utf8", timeout: 240_000, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } },
	);
	// biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colours
	const output = `${run.stdout}${run.stderr}`.replace(/\u001b\[[0-9;]*m/g, "");
	expect(run.status, output).toBe(0);
	expect(output).toMatch(new RegExp(`Test Files\\s+${files} passed \\(${files}\\)`));
	expect(output).toMatch(/Tests\s+(\d+) passed \(\1\)/);
	expect(output).not.toMatch(/Errors\s+\d+/);
}, 300_000);
