import { createHash } from "node:crypto";
import { setImmediate } from "node:timers";
import { createApp } from "../../app";
import type { Env } from "../../env";
import { Alarms } from "./alarms";
import { CLOSE_GOING_AWAY } from "./close-codes";
import { DIRECTORY_METHODS, migrate, openFileDirectory, readMigrations } from "./directory-host";
import { GATEWAY_METHODS, GatewayHost } from "./gateway-host";
import { GroupCommit } from "./group-commit";
import { InProcessNamespace } from "./namespace";
import { type HostDeps, ROOM_METHODS, RoomHost } from "./room-host";
import { SqliteFile } from "./sqlite-file";
import { EndOfTurn } from "./turn";
import { WEBHOOK_METHODS, WebhookHost } from "./webhook-host";

/** Bindings the host provides itself; an environment variable of the same name is ignored. */
const BINDINGS = new Set(["DB", "DIRECTORY", "ROOMS", "GATEWAYS", "WEBHOOKS", "WEBHOOK_PRIVATE_NETWORK", "LOCAL_UPGRADE"]);

/**
 * What the app gets as its execution context (Hono's `c.executionCtx`): work a route starts after
 * its response (the webhook kick) runs on in this process; its failures are its own to log.
 */
const EXECUTION_CONTEXT = {
	waitUntil: (promise: Promise<unknown>) => void promise.catch(() => {}),
	passThroughOnException: () => {},
	props: {},
};

/** A file name for an object name: readable when it is safe, a hash otherwise. */
export const fileNameOf = (name: string): string =>
	/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/.test(name) ? name : `h-${createHash("sha256").update(name).digest("hex")}`;

export interface HostOptions {
	dataDir: string;
	migrationsDir: string;
	/** Settings as environment variables (ADMIN_TOKEN, JWT_SECRET, limits...). */
	vars: Record<string, string>;
	readText: (path: string) => string;
	mkdir: (path: string) => void;
	/** A commit failed: memory is ahead of the disk, so the process must restart from disk. */
	fatal: (error: unknown) => void;
}

export interface DenoHost {
	env: Env;
	fetch(request: Request): Promise<Response>;
	group: GroupCommit;
	/** Shutdown, first step: every socket closed with 1001; resolves when their closing handshakes are done. */
	closeSockets(): Promise<void>;
	/** Shutdown, last step: commits, syncs and closes every database file. */
	closeFiles(): Promise<void>;
	rearmed: number;
}

/**
 * The whole service in one process: the Hono app with an `env` whose ROOMS, GATEWAYS and DIRECTORY
 * are in-process namespaces of SQLite-backed objects, built once. Opening the directory takes the
 * data directory's lock: a second process on the same DATA_DIR throws "database is locked" here.
 */
export function createDenoHost(options: HostOptions): DenoHost {
	const { dataDir } = options;
	// DENO_COMMIT_DELAY_MS holds every group commit that long: a very slow disk, for the durability test only.
	const delay = Number(options.vars.DENO_COMMIT_DELAY_MS ?? 0);
	const turn = new EndOfTurn(setImmediate);
	const later = delay > 0 ? (run: () => void) => void setTimeout(run, delay) : (run: () => void) => turn.run(run);
	const group = new GroupCommit(later, options.fatal);
	const scheduler = turn.scheduler();
	const files: SqliteFile[] = [];
	const perStatement = options.vars.DENO_COMMIT === "statement";
	const open = (path: string) => {
		const file = new SqliteFile(path, group, perStatement);
		files.push(file);
		return file;
	};
	const directoryFile = open(`${dataDir}/directory.sqlite`);
	migrate(directoryFile, readMigrations(options.readText, options.migrationsDir));
	group.commit();
	const directory = openFileDirectory(directoryFile);
	options.mkdir(`${dataDir}/rooms`);
	options.mkdir(`${dataDir}/gateways`);
	options.mkdir(`${dataDir}/webhooks`);

	let rooms: InProcessNamespace<RoomHost>;
	let gateways: InProcessNamespace<GatewayHost>;
	let webhooks: InProcessNamespace<WebhookHost>;
	const alarms = new Alarms(open(`${dataDir}/alarms.sqlite`), (key) => {
		const [kind, ...rest] = key.split(":");
		const name = rest.join(":");
		try {
			const host = kind === "webhook" ? webhooks.object(name) : kind === "room" ? rooms.object(name) : gateways.object(name);
			// The handler's promise: the alarm fires again after a restart if it did not finish.
			return Promise.resolve(host.alarm()).catch((error) =>
				console.error(JSON.stringify({ msg: "alarm failed", key, error: String(error) })),
			);
		} catch (error) {
			console.error(JSON.stringify({ msg: "alarm failed", key, error: String(error) }));
		}
	});
	const vars = Object.fromEntries(Object.entries(options.vars).filter(([k]) => !BINDINGS.has(k)));
	const env = { ...vars } as unknown as Env;
	const deps = (kind: "room" | "gateway", name: string): HostDeps => ({
		env,
		file: open(`${dataDir}/${kind === "room" ? "rooms" : "gateways"}/${fileNameOf(name)}.sqlite`),
		alarm: alarms.slot(`${kind}:${name}`),
		group,
		scheduler,
	});
	rooms = new InProcessNamespace((name) => new RoomHost(name, deps("room", name)), ROOM_METHODS);
	gateways = new InProcessNamespace((name) => new GatewayHost(name, deps("gateway", name)), GATEWAY_METHODS);
	// One dispatcher per client, addressed by the client id as WEBHOOKS.get(WEBHOOKS.idFromName(clientId)).
	webhooks = new InProcessNamespace(
		(name) =>
			new WebhookHost({
				env,
				file: open(`${dataDir}/webhooks/${fileNameOf(name)}.sqlite`),
				alarm: alarms.slot(`webhook:${name}`),
				group,
			}),
		WEBHOOK_METHODS,
	);
	const directories = new InProcessNamespace(() => directory, DIRECTORY_METHODS);
	Object.assign(env, {
		ROOMS: rooms,
		GATEWAYS: gateways,
		DIRECTORY: directories,
		WEBHOOKS: webhooks,
		LOCAL_UPGRADE: (stub: unknown, forwarded: Request, original: Request) =>
			(stub as { upgrade(f: Request, o: Request): Promise<Response> }).upgrade(forwarded, original),
	});
	const rearmed = alarms.rearm();
	group.commit();

	const app = createApp();
	return {
		env,
		group,
		rearmed,
		async fetch(request) {
			const response = await app.fetch(request, env, EXECUTION_CONTEXT);
			// Nothing leaves before what it answers is on disk.
			await group.settled();
			return response;
		},
		async closeSockets() {
			alarms.stop();
			// What is queued leaves first, then the close.
			await group.drain();
			const closing = [
				...rooms.all().flatMap((room) => room.closeAll(CLOSE_GOING_AWAY, "server shutting down")),
				...gateways.all().flatMap((gateway) => gateway.closeAll(CLOSE_GOING_AWAY, "server shutting down")),
			];
			await Promise.all(closing);
		},
		async closeFiles() {
			await group.drain();
			for (const file of files) await file.close();
		},
	};
}
