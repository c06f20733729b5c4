// The compose files and the production image, without a Docker engine: `docker-compose config`
// validates and resolves both files (Debian's docker-compose, installed by .ci/run), and the
// image's command must be exactly the workerd command `npm run selfhost` and the tests run.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CONFIG, IMAGE, workerdArgs } from "../../selfhost/command.mjs";
import { ensureBuilt, freePort, ROOT, stopChild, WORKERD, waitForHealth } from "./harness";

const scratch = mkdtempSync(join(tmpdir(), "roomkit-compose-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
// An empty env file, so a developer's .env does not leak into the checks.
const noEnvFile = join(scratch, "empty.env");
writeFileSync(noEnvFile, "");

function compose(file: string, env: Record<string, string> = {}) {
	const found = spawnSync("docker-compose", ["version"], { encoding: "utf8" });
	if (found.error) throw new Error("docker-compose is not installed: apt-get install -y docker-compose (.ci/run does this)");
	const run = spawnSync("docker-compose", ["--env-file", noEnvFile, "-f", join(ROOT, file), "config"], {
		cwd: scratch,
		encoding: "utf8",
		timeout: 60_000,
		env: { PATH: process.env.PATH ?? "", ...env },
	});
	if (run.status !== 0) return { status: run.status, stderr: run.stderr, config: null };
	// python3-yaml comes with docker-compose; the resolved file as JSON.
	const json = spawnSync("python3", ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"], {
		input: run.stdout,
		encoding: "utf8",
	});
	// biome-ignore lint/suspicious/noExplicitAny: the resolved compose file is asserted on exactly
	return { status: run.status, stderr: run.stderr, config: JSON.parse(json.stdout) as any };
}

/** ENTRYPOINT/CMD/WORKDIR/COPY/... of the Dockerfile's last stage, exec forms parsed as JSON. */
function finalStage() {
	const lines = readFileSync(join(ROOT, "Dockerfile"), "utf8")
		.replace(/\\\n/g, " ")
		.split("\n")
		.map((l) => l.trim())
		.filter((l) => l && !l.startsWith("#"));
	const stage = lines.slice(lines.findLastIndex((l) => l.startsWith("FROM ")));
	const all = (instruction: string) =>
		stage.filter((l) => l.startsWith(`${instruction} `)).map((l) => l.slice(instruction.length + 1).trim());
	const one = (instruction: string) => {
		const found = all(instruction);
		expect(found, instruction).toHaveLength(1);
		return found[0]!;
	};
	return { all, one, from: stage[0]! };
}

describe("docker-compose-local.yml", () => {
	it("runs npm start on Node 22 with the source mounted, port 8787 and wrangler state in a named volume", () => {
		const { status, stderr, config } = compose("docker-compose-local.yml");
		expect(stderr).toBe("");
		expect(status).toBe(0);
		expect(config.services).toEqual({
			chat: {
				image: "node:22-bookworm",
				working_dir: "/app",
				command: 'sh -c "npm ci --no-audit --no-fund && npm start"',
				environment: { HOST: "0.0.0.0", PORT: "8787", WRANGLER_SEND_METRICS: "false" },
				ports: ["127.0.0.1:8787:8787/tcp"],
				volumes: [`${ROOT}:/app:rw`, "node-modules:/app/node_modules:rw", "wrangler-state:/app/.wrangler:rw"],
			},
		});
		expect(config.volumes).toEqual({ "node-modules": {}, "wrangler-state": {} });
	});

	it("lets npm start listen on HOST, as the container needs", () => {
		expect(readFileSync(join(ROOT, "scripts", "start.mjs"), "utf8")).toContain('const host = process.env.HOST || "127.0.0.1";');
	});
});

describe("docker-compose-production.yml and the Dockerfile", () => {
	const secrets = { ADMIN_TOKEN: "admin-from-env", JWT_SECRET: "jwt-from-env" };

	it("builds the image, keeps data in a named volume, restarts and health-checks /health", () => {
		const { status, stderr, config } = compose("docker-compose-production.yml", {
			...secrets,
			CORS_ORIGINS: "https://app.example",
			PORT: "9000",
		});
		expect(stderr).toBe("");
		expect(status).toBe(0);
		const settings = [
			"JWT_SECRET_PREVIOUS",
			"JWT_TTL_SECONDS",
			"MAX_MESSAGE_LENGTH",
			"WS_ALLOWED_ORIGINS",
			"WS_RATE_PER_SECOND",
			"WS_RATE_BURST",
			"REST_SEND_RATE_PER_SECOND",
			"REST_SEND_RATE_BURST",
			"MAX_SOCKETS_PER_ROOM",
			"MAX_SOCKETS_PER_USER",
			"MAX_UNREAD_BYTES",
			"GATEWAY_SHARDS",
			"MAX_ROOMS_PER_SOCKET",
			"READY_MAX_ROOMS",
			"TYPING_TTL_MS",
			"PRESENCE_GRACE_MS",
			"PRESENCE_MAX_MEMBERS",
			"RECEIPT_MAX_MEMBERS",
			"INBOX_DEBOUNCE_MS",
			"WEBHOOK_ENCRYPTION_KEY",
			"WEBHOOK_ALLOW_INSECURE",
			"WEBHOOK_RETRY_SCHEDULE",
			"WEBHOOK_TIMEOUT_MS",
			"WEBHOOK_SWEEP_SECONDS",
			"WEBHOOK_SECRET_OVERLAP_SECONDS",
			"WS_COMPRESSION",
			"LOG_LEVEL",
		];
		expect(config.services).toEqual({
			chat: {
				build: { context: ROOT },
				image: "roomkit-chat:latest",
				restart: "unless-stopped",
				ports: [{ published: 9000, target: 8787 }],
				environment: { ...secrets, CORS_ORIGINS: "https://app.example", ...Object.fromEntries(settings.map((s) => [s, ""])) },
				volumes: [`chat-data:${IMAGE.dataDir}:rw`],
				healthcheck: {
					test: ["CMD", "curl", "-fsS", "http://127.0.0.1:8787/health"],
					interval: "30s",
					timeout: "5s",
					retries: 3,
					start_period: "15s",
				},
			},
		});
		expect(config.volumes).toEqual({ "chat-data": {} });
	});

	it("passes every setting the workerd config reads, except the demo's dev mode and the benchmarks' instance header", () => {
		const capnp = readFileSync(join(ROOT, CONFIG), "utf8");
		const fromEnvironment = [...capnp.matchAll(/fromEnvironment = "([A-Z_]+)"/g)].map((m) => m[1]);
		const { config } = compose("docker-compose-production.yml", secrets);
		expect(Object.keys(config.services.chat.environment).sort()).toEqual(
			fromEnvironment.filter((name) => name !== "DEMO_DEV_MODE" && name !== "EXPOSE_INSTANCE").sort(),
		);
	});

	it("refuses to start without ADMIN_TOKEN or JWT_SECRET", () => {
		const noAdmin = compose("docker-compose-production.yml", { JWT_SECRET: "x" });
		expect(noAdmin.status).toBe(1);
		expect(noAdmin.stderr).toContain("Set ADMIN_TOKEN in .env or the environment (see .env.example)");
		const noJwt = compose("docker-compose-production.yml", { ADMIN_TOKEN: "x" });
		expect(noJwt.status).toBe(1);
		expect(noJwt.stderr).toContain("Set JWT_SECRET in .env or the environment (see .env.example)");
	});

	it("runs exactly the workerd command of npm run selfhost, as a non-root user, with the data volume", () => {
		const stage = finalStage();
		const command = [...JSON.parse(stage.one("ENTRYPOINT")), ...JSON.parse(stage.one("CMD"))];
		expect(command).toEqual(["workerd", ...workerdArgs(IMAGE)]);
		expect(stage.from).toBe("FROM debian:bookworm-slim");
		expect(stage.one("USER")).toBe("roomkit");
		expect(stage.one("WORKDIR")).toBe("/app");
		expect(stage.one("VOLUME")).toBe(IMAGE.dataDir);
		expect(stage.one("EXPOSE")).toBe(IMAGE.address.split(":")[1]);
		expect(stage.one("RUN")).toMatch(/apt-get install -y --no-install-recommends ca-certificates curl /);
		expect(stage.all("COPY")).toEqual([
			"--from=build /app/workerd /usr/local/bin/workerd",
			"--from=build /app/dist ./dist",
			`--from=build /app/${CONFIG} ./${CONFIG}`,
		]);
		// The binary is the npm-installed one the tests run, and the build stage builds with npm.
		const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
		expect(dockerfile).toContain("RUN npm ci --no-audit --no-fund");
		expect(dockerfile).toContain(`RUN npm run build \\\n\t&& cp "$(node -p 'require("workerd").default')" /app/workerd`);
		const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
		for (const secret of [".env", ".dev.vars", "data", ".wrangler", "node_modules"]) expect(ignored).toContain(secret);
	});

	it("serves from the image's files alone: workerd, dist/ and the config, with the image's arguments", async () => {
		ensureBuilt();
		// The final stage's /app, rebuilt from its COPY lines.
		const app = join(scratch, "app");
		mkdirSync(join(app, "selfhost"), { recursive: true });
		cpSync(join(ROOT, "dist"), join(app, "dist"), { recursive: true });
		cpSync(join(ROOT, CONFIG), join(app, CONFIG));
		const dataDir = join(scratch, "data");
		mkdirSync(dataDir);
		// Only the two parameters differ from the image: never port 8787 on a shared machine.
		const port = await freePort();
		const args = workerdArgs({ address: `127.0.0.1:${port}`, dataDir });
		const child = spawn(WORKERD, args, {
			cwd: app,
			stdio: "ignore",
			env: { PATH: process.env.PATH ?? "", ADMIN_TOKEN: "t", JWT_SECRET: "s" },
		});
		try {
			await waitForHealth(`http://127.0.0.1:${port}`, child, 30_000);
			const res = await fetch(`http://127.0.0.1:${port}/admin/clients`, {
				method: "POST",
				headers: { Authorization: "Bearer t", "content-type": "application/json" },
				body: '{"name":"image"}',
			});
			expect(res.status).toBe(201);
		} finally {
			await stopChild(child);
		}
	});
});
