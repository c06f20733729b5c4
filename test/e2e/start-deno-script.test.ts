// `npm run start:deno` (scripts/start-deno.mjs): the same settings file as `npm run selfhost`,
// the Deno host on PORT with its data in DATA_DIR_DENO, and a SIGTERM that takes Deno down with it.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { denoBinary } from "../../scripts/deno-command.mjs";
import { Api } from "./api-client";
import { freePort, ROOT, stopChild } from "./harness";

describe("npm run start:deno (scripts/start-deno.mjs)", () => {
	const scratch = mkdtempSync(join(tmpdir(), "roomkit-start-deno-"));
	afterAll(() => rmSync(scratch, { recursive: true, force: true }));
	const script = join(ROOT, "scripts", "start-deno.mjs");

	it("creates fresh secrets on first run, serves on PORT with data in DATA_DIR_DENO, and takes Deno down with it", async () => {
		const envFile = join(scratch, "roomkit.env");
		const dataDir = join(scratch, "data", "deno");
		const port = await freePort();
		const child = spawn(process.execPath, [script], {
			cwd: ROOT,
			stdio: ["ignore", "pipe", "pipe"],
			env: { PATH: process.env.PATH ?? "", ENV_FILE: envFile, PORT: String(port), DATA_DIR_DENO: dataDir },
		});
		let output = "";
		child.stdout.on("data", (d) => (output += d));
		child.stderr.on("data", (d) => (output += d));
		try {
			const started = Date.now();
			while (!output.includes("Roomkit chat is running on Deno") && child.exitCode === null && Date.now() - started < 60_000) {
				await new Promise((r) => setTimeout(r, 100));
			}
			expect(output).toContain(`Created ${envFile} with fresh secrets (ADMIN_TOKEN, JWT_SECRET).`);
			expect(output).toContain("Roomkit chat is running on Deno 2.9.6 (one process)");
			expect(output).toContain(`API      http://127.0.0.1:${port}\n`);
			expect(output).toContain(`Data     ${dataDir}\n`);
			expect(output).toContain(`Admin    ADMIN_TOKEN is in ${envFile}\n`);
			expect(statSync(envFile).mode & 0o777).toBe(0o600);
			const token = /^ADMIN_TOKEN=(.*)$/m.exec(readFileSync(envFile, "utf8"))?.[1] ?? "";
			expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
			const api = new Api(`http://127.0.0.1:${port}`);
			expect((await api.call("POST", "/admin/clients", { Authorization: `Bearer ${token}` }, { name: "script" })).status).toBe(201);
			expect(readdirSync(dataDir).sort()).toEqual([
				"alarms.sqlite",
				"alarms.sqlite-wal",
				"directory.sqlite",
				"directory.sqlite-wal",
				"gateways",
				"rooms",
				"webhooks",
			]);
		} finally {
			await stopChild(child, "SIGTERM", 15_000);
		}
		expect(child.exitCode).toBe(0);
		await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
		// Deno itself exited cleanly: its files are checkpointed and closed.
		expect(readdirSync(dataDir).sort()).toEqual(["alarms.sqlite", "directory.sqlite", "gateways", "rooms", "webhooks"]);
	});

	it("deno task start (deno.json) builds the client and serves the same way", async () => {
		const envFile = join(scratch, "task.env");
		const dataDir = join(scratch, "data", "task");
		const port = await freePort();
		// Its own process group: `deno task` runs its commands as children, and all of them must go.
		const child = spawn(denoBinary(), ["task", "start"], {
			cwd: ROOT,
			detached: true,
			stdio: ["ignore", "pipe", "pipe"],
			env: { PATH: process.env.PATH ?? "", ENV_FILE: envFile, PORT: String(port), DATA_DIR_DENO: dataDir },
		});
		let output = "";
		child.stdout.on("data", (d) => (output += d));
		child.stderr.on("data", (d) => (output += d));
		const pgid = child.pid ?? 0;
		try {
			const started = Date.now();
			while (!output.includes("Roomkit chat is running on Deno") && child.exitCode === null && Date.now() - started < 60_000) {
				await new Promise((r) => setTimeout(r, 100));
			}
			expect(output).toContain("Roomkit chat is running on Deno 2.9.6 (one process)");
			expect(output).toContain(`API      http://127.0.0.1:${port}\n`);
			const token = /^ADMIN_TOKEN=(.*)$/m.exec(readFileSync(envFile, "utf8"))?.[1] ?? "";
			const api = new Api(`http://127.0.0.1:${port}`);
			expect((await api.call("POST", "/admin/clients", { Authorization: `Bearer ${token}` }, { name: "task" })).status).toBe(201);
		} finally {
			const exited = new Promise((resolve) => child.once("exit", resolve));
			try {
				process.kill(-pgid, "SIGTERM");
			} catch {}
			const timer = setTimeout(() => {
				try {
					process.kill(-pgid, "SIGKILL");
				} catch {}
			}, 15_000);
			await exited;
			clearTimeout(timer);
		}
		await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
	});

	it("refuses to start without JWT_SECRET", () => {
		const envFile = join(scratch, "incomplete.env");
		writeFileSync(envFile, "ADMIN_TOKEN=set\nJWT_SECRET=\n");
		const run = spawnSync(process.execPath, [script], {
			cwd: ROOT,
			encoding: "utf8",
			timeout: 30_000,
			env: { PATH: process.env.PATH ?? "", ENV_FILE: envFile, PORT: "1", DATA_DIR_DENO: join(scratch, "never") },
		});
		expect(run.status).toBe(1);
		expect(run.stderr).toBe(`JWT_SECRET is not set: set it in ${envFile} (see .env.example) or in the environment.\n`);
		expect(readdirSync(scratch)).not.toContain("never");
	});
});
