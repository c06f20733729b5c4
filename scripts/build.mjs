// `npm run build`: bundles the Worker into dist/ with wrangler (the very bundle `wrangler deploy`
// uploads, so this doubles as the `wrangler deploy --dry-run` check), then gives the extra
// modules (the migrations, imported as text) stable names so selfhost/workerd.capnp can embed them.
//
// `--if-stale` (used by `npm run selfhost` and the tests) skips the build when dist/ is newer than
// every input. A lock directory keeps parallel callers from rebuilding dist/ under each other.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const stamp = join(dist, ".built");
const lock = join(root, "dist.lock");
const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const INPUTS = ["src", "migrations", "wrangler.toml", "package-lock.json", "selfhost/workerd.capnp", "scripts/build.mjs"];

// The Worker imports the browser assets (SDK bundle, demo script) as a generated module;
// make sure it exists and is current whoever calls this script (it rewrites only on change).
const assets = spawnSync(process.execPath, [join(root, "scripts", "build-client.mjs")], { cwd: root, stdio: "inherit" });
if (assets.status !== 0) process.exit(assets.status ?? 1);

function newestMtime(path) {
	const stat = statSync(path, { throwIfNoEntry: false });
	if (!stat) return 0;
	if (!stat.isDirectory()) return stat.mtimeMs;
	return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

const isFresh = () => {
	const built = statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? 0;
	return built > 0 && INPUTS.every((input) => newestMtime(join(root, input)) < built);
};

function build() {
	rmSync(dist, { recursive: true, force: true });
	const bundle = spawnSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", dist], {
		cwd: root,
		stdio: "inherit",
		env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
	});
	if (bundle.status !== 0) throw new Error(`wrangler deploy --dry-run failed (exit ${bundle.status})`);

	// wrangler names additional modules `<sha1>-<file>`; the hash changes whenever the file does.
	const main = join(dist, "index.js");
	let code = readFileSync(main, "utf8");
	const modules = ["index.js"];
	for (const file of readdirSync(dist)) {
		const hashed = /^[0-9a-f]{40}-(.+)$/.exec(file);
		if (!hashed?.[1]) continue;
		const stable = hashed[1];
		const specifier = `"./${file}"`;
		if (!code.includes(specifier)) throw new Error(`dist/index.js does not import ${specifier}`);
		renameSync(join(dist, file), join(dist, stable));
		code = code.replaceAll(specifier, `"./${stable}"`);
		modules.push(stable);
	}
	writeFileSync(main, code);

	// A module the config does not embed would only fail when workerd starts: fail here instead.
	const config = readFileSync(join(root, "selfhost", "workerd.capnp"), "utf8");
	const missing = modules.filter((m) => !config.includes(`(name = "${m}"`));
	if (missing.length > 0) {
		throw new Error(`selfhost/workerd.capnp does not embed ${missing.join(", ")}: add a line to its modules list for each.`);
	}
	writeFileSync(stamp, `${new Date().toISOString()}\n`);
	console.log(`Built dist/ (${modules.join(", ")}) for wrangler deploy and selfhost/workerd.capnp.`);
}

async function withLock(fn) {
	const started = Date.now();
	for (;;) {
		try {
			mkdirSync(lock);
			break;
		} catch (error) {
			if (error.code !== "EEXIST") throw error;
			// A lock left by a killed build: builds take seconds, not minutes.
			const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
			if (age > 180_000) rmSync(lock, { recursive: true, force: true });
			if (Date.now() - started > 300_000) throw new Error(`waited 5 minutes for ${lock}; remove it if no build is running`);
			await new Promise((r) => setTimeout(r, 250));
		}
	}
	try {
		return fn();
	} finally {
		rmSync(lock, { recursive: true, force: true });
	}
}

try {
	const ifStale = process.argv.includes("--if-stale");
	await withLock(() => (ifStale && isFresh() ? console.log("dist/ is up to date.") : build()));
} catch (error) {
	console.error(error.message);
	process.exit(1);
}
