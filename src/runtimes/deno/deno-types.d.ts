// The few Deno and node:sqlite APIs the Deno host uses, for `tsc` (which type-checks the repository
// against the Workers types; `deno check` cannot, see docs). Deno's own types are not loaded.

declare namespace Deno {
	interface ServeOptions {
		hostname?: string;
		port?: number;
		onListen?: (addr: { hostname: string; port: number }) => void;
	}
	interface HttpServer {
		shutdown(): Promise<void>;
		finished: Promise<void>;
	}
	function serve(options: ServeOptions, handler: (request: Request) => Response | Promise<Response>): HttpServer;
	function upgradeWebSocket(
		request: Request,
		options?: { protocol?: string; idleTimeout?: number },
	): { socket: WebSocket; response: Response };
	const env: { toObject(): Record<string, string>; get(name: string): string | undefined };
	const version: { deno: string };
	const pid: number;
	function exit(code?: number): never;
	function cwd(): string;
	function addSignalListener(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
	function mkdirSync(path: string, options?: { recursive?: boolean }): void;
	function readTextFileSync(path: string): string;
}

declare module "node:sqlite" {
	export class StatementSync {
		all(...params: never[]): unknown[];
		run(...params: never[]): { changes: number | bigint; lastInsertRowid: number | bigint };
		setReturnArrays(enabled: boolean): void;
	}
	export class DatabaseSync {
		constructor(path: string);
		exec(sql: string): void;
		prepare(sql: string): StatementSync;
		close(): void;
	}
}

declare module "node:timers" {
	export function setImmediate(run: () => void): unknown;
}

declare module "node:crypto" {
	export function createHash(algorithm: "sha256"): { update(data: string): { digest(encoding: "hex"): string } };
}

declare module "node:fs" {
	export function openSync(path: string, flags: "r"): number;
	export function closeSync(fd: number): void;
	export function fsyncSync(fd: number): void;
	export function fdatasyncSync(fd: number): void;
	export function fdatasync(fd: number, callback: (error: Error | null) => void): void;
}
