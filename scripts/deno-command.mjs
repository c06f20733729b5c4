// The Deno host's command line, shared by `npm run start:deno`, `deno task start` and the tests.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The Deno binary npm installed (the `deno` devDependency, binary from its platform package). */
export function denoBinary() {
	return createRequire(import.meta.url)("deno/install_api.cjs").runInstall();
}

/** Arguments for `deno`: the host entry with only the permissions it needs (net, env, read the repo, write DATA_DIR). */
export function denoArgs({ dataDir }) {
	return [
		"run",
		"--config",
		join(root, "deno.json"),
		"--allow-net",
		"--allow-env",
		`--allow-read=${root},${dataDir}`,
		`--allow-write=${dataDir}`,
		join(root, "src", "runtimes", "deno", "main.ts"),
	];
}
