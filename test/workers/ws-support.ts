// Room sockets for tests inside workerd: handshakes go through the Worker's real fetch handler
// (or a fresh app with overridden bindings), and every received event is queued for assertions.
import { createExecutionContext } from "cloudflare:test";
import { exports, env as workerEnv } from "cloudflare:workers";
import { expect } from "vitest";
import { createApp } from "../../src/app";
import type { Env } from "../../src/env";
import { BASE } from "./helpers";

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON and assert on it exactly
export type Event = any;

export interface Handshake {
	headers?: Record<string, string>;
	query?: string;
	/** Bindings to override: the request then goes through a fresh `createApp()`. */
	env?: Partial<Env>;
}

export async function handshake(roomId: string, options: Handshake = {}): Promise<Response> {
	const url = `${BASE}/room/${roomId}/ws${options.query ?? ""}`;
	const init = { headers: { Upgrade: "websocket", ...options.headers } };
	// `exports` is typed per project by `wrangler types`; this one only needs the default fetch.
	if (!options.env) return (exports as unknown as { default: Fetcher }).default.fetch(url, init);
	return createApp().fetch(new Request(url, init), { ...(workerEnv as unknown as Env), ...options.env }, createExecutionContext());
}

/** A client socket that queues events (frames split on `\n`) and remembers how it closed. */
export class Client {
	readonly events: Event[] = [];
	readonly frames: string[] = [];
	closed: { code: number; reason: string } | null = null;
	private waiters: Array<() => void> = [];

	constructor(
		readonly ws: WebSocket,
		readonly response: Response,
	) {
		ws.addEventListener("message", (e) => {
			const data = typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data as ArrayBuffer);
			this.frames.push(data);
			for (const line of data.split("\n")) if (line) this.events.push(JSON.parse(line));
			this.wake();
		});
		ws.addEventListener("close", (e) => {
			this.closed = { code: e.code, reason: e.reason };
			this.wake();
		});
		ws.accept();
	}

	private wake() {
		for (const waiter of this.waiters.splice(0)) waiter();
	}

	send(frame: unknown): void {
		this.ws.send(typeof frame === "string" || frame instanceof ArrayBuffer ? frame : JSON.stringify(frame));
	}

	/** Waits until `ready()` holds, or fails after `ms`. */
	async until(ready: () => boolean, what: string, ms = 15_000): Promise<void> {
		const deadline = Date.now() + ms;
		while (!ready()) {
			const left = deadline - Date.now();
			if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events).slice(0, 2000)}`);
			await new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, left);
				this.waiters.push(() => {
					clearTimeout(timer);
					resolve();
				});
			});
		}
	}

	/** The next `count` events, removed from the queue. */
	async take(count = 1, ms = 15_000): Promise<Event[]> {
		await this.until(() => this.events.length >= count, `${count} event(s)`, ms);
		return this.events.splice(0, count);
	}

	async next(ms = 15_000): Promise<Event> {
		return (await this.take(1, ms))[0];
	}

	/** Sends a request with `id` and returns every event up to and including its answer. */
	async request(frame: { event: string; data: unknown; id: string | number }): Promise<Event[]> {
		this.send(frame);
		const answered = () => this.events.findIndex((e) => (e.event === "ack" || e.event === "error") && e.id === frame.id);
		await this.until(() => answered() >= 0, `the answer to ${JSON.stringify(frame.id)}`);
		return this.events.splice(0, answered() + 1);
	}

	async closedWith(ms = 15_000): Promise<{ code: number; reason: string }> {
		await this.until(() => this.closed !== null, "close", ms);
		return this.closed as { code: number; reason: string };
	}

	/** Resolves when no event arrived for `ms` (used to show nothing more is coming). */
	async quiet(ms = 150): Promise<Event[]> {
		await new Promise((r) => setTimeout(r, ms));
		return this.events.splice(0);
	}

	close(code = 1000, reason = "bye"): void {
		try {
			this.ws.close(code, reason);
		} catch {}
	}
}

/** Opens a socket or fails with the handshake's status and body. */
export async function connect(roomId: string, options: Handshake = {}): Promise<Client> {
	const res = await handshake(roomId, options);
	if (res.status !== 101 || !res.webSocket) throw new Error(`handshake ${res.status}: ${await res.text()}`);
	return new Client(res.webSocket, res);
}

export const viaProtocol = (token: string) => ({ headers: { "Sec-WebSocket-Protocol": `roomkit.v1, ${token}` } });

export const join = (roomId: string, id: string | number, lastSeq?: number) => ({
	event: "join_room",
	data: lastSeq === undefined ? { room_id: roomId } : { room_id: roomId, last_seq: lastSeq },
	id,
});

/** Who is online in a join ack: user ids sorted. */
export const online = (...userIds: string[]) => [...userIds].sort();

/** A presence event (its time is the server's clock). */
export const presence = (roomId: string, userId: string, isOnline: boolean) => ({
	event: "presence",
	data: {
		room_id: roomId,
		user_id: userId,
		online: isOnline,
		last_active_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
	},
});

export const send = (roomId: string, text: string, id: string | number, clientMsgId?: string) => ({
	event: "send_message",
	data:
		clientMsgId === undefined
			? { room_id: roomId, text_message: text }
			: { room_id: roomId, text_message: text, client_msg_id: clientMsgId },
	id,
});
