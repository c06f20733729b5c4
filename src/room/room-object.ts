import { DurableObject } from "cloudflare:workers";
import { loadConfig } from "../config";
import type { Env } from "../env";
import { uuidv7 } from "../ids";
// moderation: reports look a message up by id (src/moderation/message-lookup.ts)
import { seqOfMessage } from "../moderation/message-lookup";
import { encodeError } from "../protocol/codec";
import { CLOSE_NOT_READING, CLOSE_REMOVED, CLOSE_TOKEN_EXPIRED, PING, PONG, PROTOCOL_LABEL } from "../protocol/frames";
import type { MessageT } from "../schemas/message";
import { openDirectory } from "../storage";
// webhooks: message.new from the room's log (src/webhooks/room-feed.ts)
import { openRoomWebhookFeed, type RoomWebhookFeed } from "../webhooks/room-feed";
import type { HistoryRange } from "./message-log";
import { MessageLog } from "./message-log";
import { Outbox, workerdScheduler } from "./outbox";
import { ConnState, type Peer, RoomCore, type SendInput, type SendResult } from "./room-core";
import { IDENTITY_HEADER, MEMBERS_ONLY_HEADER } from "./stub";

/** Close code for a socket the room cannot serve (standard 1011: unexpected condition). */
const CLOSE_INTERNAL_ERROR = 1011;

const json = (status: number, code: string, message: string) => Response.json({ error: { code, message } }, { status });

/**
 * One room: its messages in SQLite and its WebSockets through the Hibernation API.
 * This class only adapts the runtime to `RoomCore`: sockets become peers whose state
 * lives in their attachment, so a room that hibernated wakes with every socket intact.
 */
export class RoomObject extends DurableObject<Env> {
	private readonly core: RoomCore;
	private readonly peers = new Map<WebSocket, Peer>();
	/** Sockets this object closed: frames still in flight from them are ignored, and they are never re-attached. */
	private readonly closing = new WeakSet<WebSocket>();
	/**
	 * Characters sent to each socket since it last showed life (a frame or a heartbeat). workerd
	 * buffers whatever a peer does not read without bound and exposes no `bufferedAmount`, so
	 * this is the only handle on a client that stopped reading: past the cap it is closed.
	 */
	private readonly unread = new WeakMap<WebSocket, { chars: number; since: number }>();
	private readonly maxUnread: number;
	/** webhooks: hands stored messages to the client's dispatcher, from a durable cursor. */
	private readonly webhookFeed: RoomWebhookFeed;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		const config = loadConfig(env);
		this.maxUnread = config.maxUnreadBytes;
		this.core = new RoomCore({
			log: new MessageLog(ctx.storage.sql),
			outbox: new Outbox(workerdScheduler),
			limits: config,
			now: Date.now,
			newId: uuidv7,
		});
		// Heartbeats are answered by the runtime without waking the object.
		this.webhookFeed = openRoomWebhookFeed(ctx.storage.sql, env, this.core, (at) => this.scheduleExpiry(at)); // webhooks
		ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
		for (const ws of ctx.getWebSockets()) this.peerOf(ws);
	}

	/** The socket as a peer, or undefined (and the socket closed) when its attachment is not an identity. */
	private peerOf(ws: WebSocket): Peer | undefined {
		let peer = this.peers.get(ws);
		if (!peer) {
			// Attachments outlive deploys: one written by another version must not be trusted blindly.
			const parsed = ConnState.safeParse(ws.deserializeAttachment());
			if (!parsed.success) {
				this.close(ws, CLOSE_INTERNAL_ERROR, "connection state lost; reconnect");
				return undefined;
			}
			const state: ConnState = parsed.data;
			peer = {
				state,
				write: (frame) => {
					if (!this.owe(ws, frame.length)) return;
					try {
						ws.send(frame);
					} catch {
						// The socket closed under us; its close handler detaches it.
					}
				},
				saveState: () => ws.serializeAttachment(state),
			};
			this.peers.set(ws, peer);
			this.core.attach(peer);
		}
		return peer;
	}

	/** Counts what a socket is sent; false (and the socket closed) once it is owed too much without a sign of life. */
	private owe(ws: WebSocket, chars: number): boolean {
		const now = Date.now();
		const account = this.unread.get(ws) ?? { chars: 0, since: now };
		this.unread.set(ws, account);
		// The first frame after a sign of life always goes, so even a catch-up batch larger than the cap makes progress.
		if (account.chars === 0 || account.chars + chars <= this.maxUnread) {
			account.chars += chars;
			return true;
		}
		// Heartbeats are answered by the runtime without waking us; it keeps when the last one came.
		const heartbeat = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
		if (heartbeat >= account.since) {
			this.unread.set(ws, { chars, since: now });
			return true;
		}
		this.close(ws, CLOSE_NOT_READING, "too far behind; reconnect with last_seq");
		return false;
	}

	private drop(ws: WebSocket): void {
		const peer = this.peers.get(ws);
		if (!peer) return;
		this.peers.delete(ws);
		this.core.detach(peer);
	}

	/** The WebSocket handshake, forwarded by the Worker with the identity it verified. */
	override async fetch(request: Request): Promise<Response> {
		if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
			return json(426, "validation_failed", "Expected a WebSocket upgrade");
		const identity = ConnState.safeParse(JSON.parse(request.headers.get(IDENTITY_HEADER) ?? "null"));
		if (!identity.success) return json(400, "validation_failed", "Missing identity");
		this.webhookFeed.bind(identity.data.clientId); // webhooks
		const config = loadConfig(this.env);
		if (this.ctx.getWebSockets().length >= config.maxSocketsPerRoom) {
			return json(429, "too_many_connections", "This room has as many sockets as it may hold");
		}
		if (this.ctx.getWebSockets(identity.data.userId).length >= config.maxSocketsPerUser) {
			return json(429, "too_many_connections", "Too many sockets for this user in this room");
		}
		const { 0: client, 1: server } = new WebSocketPair();
		this.ctx.acceptWebSocket(server, [identity.data.userId]);
		server.serializeAttachment(identity.data);
		this.peerOf(server);
		// The Worker checked membership before this request, and a removal in between would find no
		// socket to close. Checking again now that the socket is accepted closes that gap: a removal
		// written before this read is seen here, and one written after it reaches disconnectUser(),
		// which finds the socket.
		if (request.headers.get(MEMBERS_ONLY_HEADER) === "1") {
			const { clientId, roomId, userId } = identity.data;
			if (!(await openDirectory(this.env).isMember(clientId, roomId, userId))) {
				this.close(server, CLOSE_REMOVED, "removed from room");
				return json(403, "forbidden", "This room is private and you are not a member");
			}
		}
		if (identity.data.exp > 0) await this.scheduleExpiry(identity.data.exp * 1000);
		const headers =
			request.headers.get("Sec-WebSocket-Protocol") === PROTOCOL_LABEL ? { "Sec-WebSocket-Protocol": PROTOCOL_LABEL } : undefined;
		return new Response(null, { status: 101, webSocket: client, headers });
	}

	override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
		if (this.closing.has(ws)) return;
		// A join is not a sign of reading: it asks for a catch-up, so a client that only re-joins stays counted.
		if (typeof message !== "string" || !message.includes('"join_room"')) this.unread.delete(ws);
		const peer = this.peerOf(ws);
		if (!peer) return;
		try {
			const outcome = this.core.handleFrame(peer, message);
			if (outcome.failed !== undefined) console.error(JSON.stringify({ msg: "room frame failed", error: String(outcome.failed) }));
			if (outcome.close) this.close(ws, outcome.close.code, outcome.close.reason);
			this.webhookFeed.poke(); // webhooks
		} catch (error) {
			console.error(JSON.stringify({ msg: "room frame failed", error: String(error) }));
			peer.write(encodeError("internal_error", "The server could not handle this frame"));
		}
	}

	override webSocketClose(ws: WebSocket, code: number, reason: string): void {
		this.drop(ws);
		// Echo the peer's Close, or browsers wait in CLOSING.
		this.close(ws, code === 1005 || code === 1006 || code === 1015 ? 1000 : code, reason);
	}

	override webSocketError(ws: WebSocket): void {
		this.drop(ws);
	}

	/** Closes sockets whose JWT expired (code 4001) and runs the webhook feed, then waits for whichever is next. */
	override async alarm(): Promise<void> {
		const now = Date.now();
		let next = Number.POSITIVE_INFINITY;
		for (const ws of this.ctx.getWebSockets()) {
			if (this.closing.has(ws)) continue;
			const exp = this.peerOf(ws)?.state.exp ?? 0;
			if (exp === 0) continue;
			if (exp * 1000 <= now) this.close(ws, CLOSE_TOKEN_EXPIRED, "token expired");
			else next = Math.min(next, exp * 1000);
		}
		await this.webhookFeed.run(); // webhooks: forward stored messages (never throws)
		next = Math.min(next, this.webhookFeed.wantsAlarmAt() ?? Number.POSITIVE_INFINITY); // webhooks
		if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next);
	}

	/** RPC from the Worker: a REST send. */
	send(input: SendInput & { clientId?: string }): SendResult {
		if (input.clientId !== undefined) this.webhookFeed.bind(input.clientId); // webhooks
		const result = this.core.sendFromRest(input);
		this.webhookFeed.poke(); // webhooks
		return result;
	}

	/** RPC from the Worker: a page of history. */
	history(range: HistoryRange): MessageT[] {
		return this.core.history(range);
	}

	/** RPC from the Worker (moderation): one stored message by id, or null. */
	message(id: string): MessageT | null {
		const seq = seqOfMessage(this.ctx.storage.sql, id);
		return seq === null ? null : (this.core.history({ afterSeq: seq - 1, limit: 1 })[0] ?? null);
	}

	/** RPC from the Worker: a member was removed from this private room. */
	disconnectUser(userId: string): void {
		for (const ws of this.ctx.getWebSockets(userId)) this.close(ws, CLOSE_REMOVED, "removed from room");
	}

	private close(ws: WebSocket, code: number, reason: string): void {
		this.closing.add(ws);
		this.drop(ws);
		try {
			ws.close(code, reason);
		} catch {
			// Already closed.
		}
	}

	private async scheduleExpiry(at: number): Promise<void> {
		const current = await this.ctx.storage.getAlarm();
		if (current === null || current > at) await this.ctx.storage.setAlarm(at);
	}
}
