// Each chaos run starts with an empty figures file; test/chaos/run.mjs prints it at the end.
import { rmSync } from "node:fs";
import { FIGURES_FILE } from "./support";

export function setup(): void {
	rmSync(FIGURES_FILE, { force: true });
}
