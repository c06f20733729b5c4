// The settings file `npm run selfhost` reads, for the other start scripts: `.env` (or ENV_FILE),
// created from .env.example with fresh secrets on first run; the shell wins over the file.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export function loadEnvFile(root) {
	const envPath = resolve(root, process.env.ENV_FILE || ".env");
	if (!existsSync(envPath)) {
		const example = readFileSync(join(root, ".env.example"), "utf8");
		writeFileSync(
			envPath,
			example.replace(/=generate$/gm, () => `=${randomBytes(24).toString("base64url")}`),
			{ mode: 0o600 },
		);
		console.log(`Created ${envPath} with fresh secrets (ADMIN_TOKEN, JWT_SECRET).`);
	}
	const fromFile = {};
	for (const line of readFileSync(envPath, "utf8").split(/\r?\n/)) {
		const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
		if (match?.[1]) fromFile[match[1]] = match[2].trim();
	}
	const env = { ...fromFile, ...process.env };
	for (const name of ["ADMIN_TOKEN", "JWT_SECRET"]) {
		if (!env[name] || env[name] === "generate") {
			console.error(`${name} is not set: set it in ${envPath} (see .env.example) or in the environment.`);
			process.exit(1);
		}
	}
	return { env, envPath };
}
