// A real webhook receiver for black-box tests: node:http on 127.0.0.1, recording every attempt
// and verifying its Standard Webhooks signature independently (node:crypto, not our code).
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";

export interface Attempt {
	id: string;
	timestamp: number;
	signatures: string[];
	body: string;
	/** What the receiver answered; 0 when it dropped the connection, or the sender gave up before a held answer. */
	status: number;
	receivedAt: number;
}

/**
 * What to answer to the n-th attempt (0-based) overall; default 200. Status 0 drops the connection
 * unanswered; `delayMs` holds the answer that long (a slow receiver).
 */
export type Policy = (
	n: number,
	attempt: Omit<Attempt, "status" | "receivedAt">,
) => { status: number; headers?: Record<string, string>; delayMs?: number };

export interface Receiver {
	url: string;
	attempts: Attempt[];
	/** Attempts answered 2xx, in arrival order. */
	acknowledged(): Attempt[];
	setPolicy(policy: Policy): void;
	close(): Promise<void>;
}

/** True when one of the space-separated `v1,` signatures is the HMAC of `{id}.{timestamp}.{body}` under `secret`. */
export function verifySignature(secret: string, id: string, timestamp: number, body: string, signatures: string[]): boolean {
	const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
	const expected = Buffer.from(createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64"));
	return signatures.some((s) => {
		const [version, value] = s.split(",");
		const given = Buffer.from(value ?? "");
		return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
	});
}

export async function startReceiver(policy: Policy = () => ({ status: 200 })): Promise<Receiver> {
	const attempts: Attempt[] = [];
	let current = policy;
	const server: Server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on("data", (c: Buffer) => chunks.push(c));
		req.on("end", () => {
			const seen = {
				id: String(req.headers["webhook-id"] ?? ""),
				timestamp: Number(req.headers["webhook-timestamp"]),
				signatures: String(req.headers["webhook-signature"] ?? "")
					.split(" ")
					.filter(Boolean),
				body: Buffer.concat(chunks).toString("utf8"),
			};
			const answer = current(attempts.length, seen);
			const attempt: Attempt = { ...seen, status: answer.status, receivedAt: Date.now() };
			attempts.push(attempt);
			let senderLeft = false;
			res.on("close", () => {
				if (!res.writableEnded) senderLeft = true;
			});
			const reply = () => {
				if (senderLeft) attempt.status = 0;
				else if (answer.status === 0) req.socket.destroy();
				else res.writeHead(answer.status, answer.headers).end("ok");
			};
			if (answer.delayMs) setTimeout(reply, answer.delayMs);
			else reply();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const address = server.address();
	const port = typeof address === "object" && address ? address.port : 0;
	return {
		url: `http://127.0.0.1:${port}/hook`,
		attempts,
		acknowledged: () => attempts.filter((a) => a.status >= 200 && a.status < 300),
		setPolicy: (p) => {
			current = p;
		},
		// Keep-alive connections the sender still uses would hold close() open: they end too.
		close: () =>
			new Promise((resolve) => {
				server.close(() => resolve());
				server.closeAllConnections();
			}),
	};
}

/** Polls until `done()` or fails after `timeoutMs` with `what` and the last value seen. */
export async function eventually<T>(what: string, read: () => T, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
	const started = Date.now();
	for (;;) {
		const value = read();
		if (done(value)) return value;
		if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 2000)}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}
