// The Deno host (the `npm run start:deno` command line) for the chaos runs, with the interface of
// support.ts's Workerd: a fixed port and data directory across SIGKILLs and restarts.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { denoArgs, denoBinary } from "../../scripts/deno-command.mjs";
import { freePort, ROOT, stopChild, waitForHealth } from "../e2e/harness";
import { sleep } from "./support";

export class DenoServer {
	private child: ChildProcess | null = null;
	private output = "";
	readonly adminToken = randomBytes(18).toString("base64url");
	readonly jwtSecret = randomBytes(24).toString("base64url");
	restarts = 0;

	private constructor(
		readonly port: number,
		readonly dataDir: string,
		private readonly vars: Record<string, string>,
	) {}

	static async start(vars: Record<string, string> = {}): Promise<DenoServer> {
		const server = new DenoServer(await freePort(), mkdtempSync(join(tmpdir(), "roomkit-chaos-deno-")), vars);
		await server.spawn();
		return server;
	}

	get base(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	logs(): string {
		return this.output;
	}

	private async spawn(): Promise<void> {
		const env = {
			PATH: process.env.PATH ?? "",
			ADMIN_TOKEN: this.adminToken,
			JWT_SECRET: this.jwtSecret,
			PORT: String(this.port),
			DATA_DIR: this.dataDir,
			...this.vars,
		};
		for (let attempt = 0; ; attempt++) {
			const child = spawn(denoBinary(), denoArgs({ dataDir: this.dataDir }), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env });
			child.stdout?.on("data", (d) => (this.output = (this.output + d).slice(-20_000)));
			child.stderr?.on("data", (d) => (this.output = (this.output + d).slice(-20_000)));
			this.child = child;
			const reap = () => child.kill("SIGKILL");
			process.once("exit", reap);
			child.once("exit", () => process.off("exit", reap));
			try {
				await waitForHealth(this.base, child, 30_000);
				return;
			} catch (error) {
				await stopChild(child, "SIGKILL");
				if (attempt >= 5) throw new Error(`deno did not start: ${(error as Error).message}\n${this.output}`);
				await sleep(300);
			}
		}
	}

	/** SIGKILL: no shutdown; only what the group commit already fsynced survives. */
	async kill(): Promise<void> {
		if (this.child) await stopChild(this.child, "SIGKILL", 0);
		this.child = null;
	}

	async restart(): Promise<void> {
		this.restarts++;
		await this.spawn();
	}

	async stop(): Promise<void> {
		if (this.child) await stopChild(this.child, "SIGTERM");
		this.child = null;
	}
}
