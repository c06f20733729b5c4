// Shared pieces of the chaos runs: bare workerd on a fixed port that can be SIGKILLed and
// restarted on the same data directory, a full read-back of a room, and the figures file.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { workerdArgs } from "../../selfhost/command.mjs";
import { ensureBuilt, freePort, ROOT, stopChild, WORKERD, waitForHealth } from "../e2e/harness";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const randomBetween = (min: number, max: number) => min + Math.random() * (max - min);

/** Bare workerd (the `npm run selfhost` command line) that keeps its port and data across kills. */
export class Workerd {
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

	static async start(vars: Record<string, string> = {}): Promise<Workerd> {
		ensureBuilt();
		const server = new Workerd(await freePort(), mkdtempSync(join(tmpdir(), "roomkit-chaos-")), vars);
		await server.spawn();
		return server;
	}

	get base(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	get pid(): number | undefined {
		return this.child?.pid;
	}

	logs(): string {
		return this.output;
	}

	private async spawn(): Promise<void> {
		const env = { PATH: process.env.PATH ?? "", ADMIN_TOKEN: this.adminToken, JWT_SECRET: this.jwtSecret, ...this.vars };
		// The port was just released by the killed process; binding may need a moment.
		for (let attempt = 0; ; attempt++) {
			const child = spawn(WORKERD, workerdArgs({ address: `127.0.0.1:${this.port}`, dataDir: this.dataDir }), {
				cwd: ROOT,
				stdio: ["ignore", "pipe", "pipe"],
				env,
			});
			child.stdout?.on("data", (d) => (this.output = (this.output + d).slice(-20_000)));
			child.stderr?.on("data", (d) => (this.output = (this.output + d).slice(-20_000)));
			this.child = child;
			// Never outlive the test process, even when a failure skips afterAll.
			const reap = () => child.kill("SIGKILL");
			process.once("exit", reap);
			child.once("exit", () => process.off("exit", reap));
			try {
				await waitForHealth(this.base, child, 30_000);
				return;
			} catch (error) {
				await stopChild(child, "SIGKILL");
				if (attempt >= 5) throw new Error(`workerd did not start: ${(error as Error).message}\n${this.output}`);
				await sleep(300);
			}
		}
	}

	/** SIGKILL: no shutdown, no flush beyond what the runtime already committed. */
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

	/** Resident memory of the workerd process in MiB (Linux /proc). */
	rssMiB(): number {
		if (!this.child?.pid) return 0;
		const status = readFileSync(`/proc/${this.child.pid}/status`, "utf8");
		const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
		return Math.round(kib / 102.4) / 10;
	}
}

export interface StoredMessage {
	id: string;
	seq: number;
	user_id: string;
	text_message: string;
	client_msg_id?: string;
}

/** Every message of a room, by paging `after_seq` through the REST history. */
export async function readRoom(base: string, key: string, roomId: string, afterSeq = 0): Promise<StoredMessage[]> {
	const all: StoredMessage[] = [];
	for (let after = afterSeq; ; ) {
		const res = await fetch(`${base}/room/${roomId}/messages?after_seq=${after}&limit=200`, { headers: { clientKey: key } });
		if (res.status !== 200) throw new Error(`history ${res.status}: ${await res.text()}`);
		const page = (await res.json()) as { messages: StoredMessage[] };
		if (page.messages.length === 0) return all;
		all.push(...page.messages);
		after = page.messages.at(-1)!.seq;
	}
}

/** Seqs that are not 1.., +1 each (a gap or a reorder), counted per room. */
export function seqFaults(messages: StoredMessage[], first = 1): number {
	let faults = 0;
	for (const [i, m] of messages.entries()) if (m.seq !== first + i) faults++;
	return faults;
}

/** Values that occur more than once. */
export function duplicates(values: Array<string | undefined>): number {
	const seen = new Set<string>();
	let dups = 0;
	for (const v of values) {
		if (v === undefined) continue;
		if (seen.has(v)) dups++;
		seen.add(v);
	}
	return dups;
}

const FIGURES_DIR = join(ROOT, "test-artifacts", "chaos");

/** Appends one scenario's figures to the run's file, printed together at the end of the run. */
export function record(scenario: string, figures: Record<string, unknown>): void {
	mkdirSync(FIGURES_DIR, { recursive: true });
	appendFileSync(join(FIGURES_DIR, "figures.jsonl"), `${JSON.stringify({ scenario, ...figures })}\n`);
	console.log(
		`\n[chaos] ${scenario}\n${Object.entries(figures)
			.map(([k, v]) => `  ${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`)
			.join("\n")}`,
	);
}

export const FIGURES_FILE = join(FIGURES_DIR, "figures.jsonl");

/** Creates a client with `userCount` users and `roomCount` public rooms over REST. */
export async function setup(base: string, adminToken: string, userCount: number, roomCount: number) {
	const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
		const res = await fetch(`${base}${path}`, {
			method,
			headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		// biome-ignore lint/suspicious/noExplicitAny: setup reads the API's JSON
		const json: any = await res.json();
		if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
		return json;
	};
	const client = await call("POST", "/admin/clients", { Authorization: `Bearer ${adminToken}` }, { name: "chaos" });
	const key = client.api_token as string;
	const users: Array<{ id: string }> = [];
	for (let i = 0; i < userCount; i++) users.push(await call("POST", "/user", { clientKey: key }, { name: `u${i}` }));
	const rooms: string[] = [];
	for (let i = 0; i < roomCount; i++) rooms.push((await call("POST", "/room", { clientKey: key }, { name: `r${i}` })).id);
	const token = async (userId: string) => (await call("POST", `/auth/${userId}`, { clientKey: key })).token as string;
	return { key, users, rooms, token };
}
