// `npm run start:deno` / `deno task start`: the service on Deno, one process, SQLite files in DATA_DIR.
import { createDenoHost } from "./host";

const vars = Deno.env.toObject();
for (const name of ["ADMIN_TOKEN", "JWT_SECRET"]) {
	if (!vars[name]) {
		console.error(`${name} is not set: set it in the environment or in .env (npm run start:deno creates one).`);
		Deno.exit(1);
	}
}
const root = new URL("../../../", import.meta.url).pathname;
const dataDir = (vars.DATA_DIR ?? "data").startsWith("/") ? (vars.DATA_DIR as string) : `${Deno.cwd()}/${vars.DATA_DIR ?? "data"}`;
Deno.mkdirSync(dataDir, { recursive: true });

let host: ReturnType<typeof createDenoHost>;
try {
	host = createDenoHost({
		dataDir,
		migrationsDir: `${root}migrations`,
		vars,
		readText: (path) => Deno.readTextFileSync(path),
		mkdir: (path) => Deno.mkdirSync(path, { recursive: true }),
		fatal: (error) => {
			console.error(JSON.stringify({ msg: "commit failed; exiting so a restart recovers from disk", error: String(error) }));
			Deno.exit(70);
		},
	});
} catch (error) {
	const locked = /locked/i.test(String(error));
	console.error(
		locked
			? `DATA_DIR ${dataDir} is in use by another process (one process per data directory): ${String(error)}`
			: `Could not open DATA_DIR ${dataDir}: ${String(error)}`,
	);
	Deno.exit(1);
}

const hostname = vars.HOST || "127.0.0.1";
const port = Number(vars.PORT || "8787");
const server = Deno.serve({ hostname, port, onListen: () => {} }, (request) => host.fetch(request));
const local = `http://${hostname === "0.0.0.0" ? "127.0.0.1" : hostname}:${port}`;
console.log(`
  Roomkit chat is running on Deno ${Deno.version.deno} (one process)
    API      ${local}
    Docs     ${local}/docs
    Demo     ${local}/demo
    Data     ${dataDir}${host.rearmed ? ` (${host.rearmed} alarms re-armed)` : ""}
    Admin    ADMIN_TOKEN is in ${vars.ROOMKIT_ADMIN_TOKEN_IN ?? "your environment"}
`);

let stopping = false;
const stop = async () => {
	if (stopping) return;
	stopping = true;
	// Sockets first (1001), so the server's shutdown does not wait on them; then the files, cleanly.
	const grace = (ms: number) => new Promise((r) => setTimeout(r, ms));
	await Promise.race([host.closeSockets(), grace(2_000)]);
	await Promise.race([server.shutdown(), grace(2_000)]);
	await host.closeFiles();
	Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
