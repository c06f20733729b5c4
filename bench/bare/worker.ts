import { DurableObject } from "cloudflare:workers";
import { Outbox, type Scheduler, type Sink, workerdScheduler } from "../../src/room/outbox";
import { negotiateCompression } from "../../src/routes/compression";

interface Env {
	ROOMS: DurableObjectNamespace<BareRoom>;
	/** Experiments only (see BENCHMARKS.md), unset in `npm run bench`. Overrides the Outbox's gap per frame. */
	GAP_PER_FRAME_MS?: string;
	/** Experiments only: "microtask" flushes a quiet room at the end of the current event instead of on a 0 ms timer. */
	QUIET_FLUSH?: string;
	/**
	 * Experiments only, for memory per socket: "plain" has the object accept its sockets without the
	 * Hibernation API (`accept()` and event listeners); "worker" has the Worker accept them itself and
	 * answer joins, with no object and no socket pipe between the two.
	 */
	ACCEPT?: string;
	/** "on" lets sockets negotiate permessage-deflate; unset declines it, as the service does by default. */
	WS_COMPRESSION?: string;
}

/**
 * The least a room can do: accept hibernatable sockets, insert each message into
 * SQLite with the next seq, broadcast it and ack the sender, with the same Outbox
 * (batching and flush policy) as the service. Frames are trusted as sent.
 */
export class BareRoom extends DurableObject<Env> {
	private readonly outbox: Outbox;
	private readonly sinks = new Map<WebSocket, Sink & { joined: boolean }>();
	private seq: number;
	/** When this instance was constructed: a later time than the sockets' connection means the object hibernated. */
	private readonly constructedAt = Date.now();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		const scheduler: Scheduler =
			env.QUIET_FLUSH === "microtask"
				? { now: workerdScheduler.now, after: (ms, run) => (ms > 0 ? workerdScheduler.after(ms, run) : queueMicrotask(run)) }
				: workerdScheduler;
		this.outbox = new Outbox(scheduler, env.GAP_PER_FRAME_MS ? { gapPerFrameMs: Number(env.GAP_PER_FRAME_MS) } : {});
		ctx.storage.sql.exec(
			"CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, user_id TEXT NOT NULL, text_message TEXT NOT NULL, created_at TEXT NOT NULL)",
		);
		this.seq = Number(ctx.storage.sql.exec("SELECT COALESCE(MAX(seq), 0) AS s FROM messages").one().s);
	}

	private sinkOf(ws: WebSocket) {
		let sink = this.sinks.get(ws);
		if (!sink) {
			sink = {
				joined: (ws.deserializeAttachment() as { joined?: boolean } | null)?.joined === true,
				write(frame) {
					try {
						ws.send(frame);
					} catch {}
				},
			};
			this.sinks.set(ws, sink);
		}
		return sink;
	}

	override async fetch(request: Request): Promise<Response> {
		const { 0: client, 1: server } = new WebSocketPair();
		if (this.env.ACCEPT === "plain") {
			server.accept();
			server.addEventListener("message", (event) => this.webSocketMessage(server, event.data as string));
			server.addEventListener("close", (event) => this.webSocketClose(server, event.code, event.reason));
		} else this.ctx.acceptWebSocket(server);
		server.serializeAttachment({ joined: false, user: new URL(request.url).searchParams.get("user") ?? "u" });
		this.sinkOf(server);
		return new Response(null, { status: 101, webSocket: client });
	}

	override webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): void {
		const sink = this.sinkOf(ws);
		const frame = JSON.parse(raw as string) as { event: string; id?: number | string; data: { room_id: string; text_message: string } };
		if (frame.event === "join_room") {
			sink.joined = true;
			ws.serializeAttachment({ ...(ws.deserializeAttachment() as object), joined: true });
			this.outbox.push(sink, JSON.stringify({ event: "ack", id: frame.id, data: { room_id: frame.data.room_id, last_seq: this.seq } }));
			return;
		}
		const seq = ++this.seq;
		const message = {
			id: crypto.randomUUID(),
			room_id: frame.data.room_id,
			seq,
			user_id: (ws.deserializeAttachment() as { user: string }).user,
			text_message: frame.data.text_message,
			created_at: new Date().toISOString(),
		};
		this.ctx.storage.sql.exec(
			"INSERT INTO messages (seq, id, user_id, text_message, created_at) VALUES (?, ?, ?, ?, ?)",
			seq,
			message.id,
			message.user_id,
			message.text_message,
			message.created_at,
		);
		const encoded = `{"event":"new_message","data":${JSON.stringify(message)}}`;
		for (const peer of this.sinks.values()) if (peer.joined) this.outbox.push(peer, encoded);
		this.outbox.push(sink, JSON.stringify({ event: "ack", id: frame.id, data: message }));
	}

	override webSocketClose(ws: WebSocket, code: number, reason: string): void {
		this.drop(ws);
		try {
			ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
		} catch {}
	}

	override webSocketError(ws: WebSocket): void {
		this.drop(ws);
	}

	private drop(ws: WebSocket): void {
		const sink = this.sinks.get(ws);
		if (!sink) return;
		this.sinks.delete(ws);
		this.outbox.forget(sink);
	}

	/** Flush statistics, read by the benchmark runner (not part of the service). */
	stats(): unknown {
		return { ...this.outbox.stats(), constructedAt: this.constructedAt };
	}
}

/** The socket held by the Worker alone: every join is acked, everything else ignored (ACCEPT=worker). */
function acceptInWorker(): Response {
	const { 0: client, 1: server } = new WebSocketPair();
	server.accept();
	server.addEventListener("message", (event) => {
		const frame = JSON.parse(event.data as string) as { event: string; id?: string | number; data: { room_id: string } };
		if (frame.event === "join_room")
			server.send(
				JSON.stringify({ event: "ack", id: frame.id, data: { room_id: frame.data.room_id, last_seq: 0, accepted_by: "worker" } }),
			);
	});
	return new Response(null, { status: 101, webSocket: client });
}

export default {
	async fetch(request: Request, env: Env): Promise<Response> {
		const url = new URL(request.url);
		if (url.pathname === "/health") return new Response("ok");
		const room = env.ROOMS.get(env.ROOMS.idFromName(url.searchParams.get("room") ?? "bench"));
		if (url.pathname === "/stats") return Response.json(await room.stats());
		if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("expected websocket", { status: 426 });
		if (env.ACCEPT === "worker") return negotiateCompression(acceptInWorker(), env.WS_COMPRESSION === "on");
		return negotiateCompression(await room.fetch(request), env.WS_COMPRESSION === "on");
	},
} satisfies ExportedHandler<Env>;
