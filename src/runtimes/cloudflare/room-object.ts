import { DurableObject } from "cloudflare:workers";
import { loadConfig } from "../../config";
import type { Env } from "../../env";
import type { Caller, GatewayPort, QueuedSend, RoomChange } from "../../gateway/push";
import { gatewayStub } from "../../gateway/stub";
import { uuidv7 } from "../../ids";
import { encodeError } from "../../protocol/codec";
import { CLOSE_NOT_READING, CLOSE_REMOVED, CLOSE_TOKEN_EXPIRED, PING, PONG, PROTOCOL_LABEL } from "../../protocol/frames";
import type { RoomMeta } from "../../room/membership";
import type { HistoryRange } from "../../room/message-log";
import { workerdScheduler } from "../../room/outbox";
import { ConnState, type Peer, type RoomCore, type SendInput, type SendResult } from "../../room/room-core";
import { RoomService } from "../../room/room-service";
import { SocketBudget } from "../../room/socket-budget";
import { echoCode, expireTokens } from "../../room/socket-expiry";
import { IDENTITY_HEADER, MEMBERS_ONLY_HEADER } from "../../room/stub";
import type { MessageT } from "../../schemas/message";
import { openDirectory } from "../../storage";
import { openRoomWebhookFeed } from "../../webhooks/room-feed";

/** Close code for a socket the room cannot serve (standard 1011: unexpected condition). */
const CLOSE_INTERNAL_ERROR = 1011;

const json = (status: number, code: string, message: string) => Response.json({ error: { code, message } }, { status });

/**
 * One room: its messages in SQLite and its WebSockets through the Hibernation API.
 * This class only adapts the runtime to `RoomCore`: sockets become peers whose state
 * lives in their attachment, so a room that hibernated wakes with every socket intact.
 */
export class RoomObject extends DurableObject<Env> {
	private readonly service: RoomService;
	private readonly core: RoomCore;
	private readonly peers = new Map<WebSocket, Peer>();
	/** Sockets this object closed: frames still in flight from them are ignored, and they are never re-attached. */
	private readonly closing = new WeakSet<WebSocket>();
	private readonly budget: SocketBudget;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		const config = loadConfig(env);
		this.budget = new SocketBudget(config.maxUnreadBytes, (ws) => this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0);
		const roomId = ctx.id.name;
		if (!roomId) throw new Error("RoomObject must be addressed by its room id (idFromName)");
		this.service = new RoomService({
			roomId,
			sql: ctx.storage.sql,
			config,
			directory: () => openDirectory(env),
			gateway: (name) => gatewayStub(env, name) as unknown as GatewayPort,
			scheduler: workerdScheduler,
			newId: uuidv7,
			wakeAt: (at) => void this.scheduleAlarm(at),
			exclusive: (load) => ctx.blockConcurrencyWhile(load),
			disconnectUser: (userId) => this.disconnectUser(userId),
			// webhooks: message.new from the room's log (src/webhooks/room-feed.ts)
			webhooks: (core) => openRoomWebhookFeed(ctx.storage.sql, env, core, (at) => this.scheduleAlarm(at)),
		});
		this.core = this.service.core;
		// Heartbeats are answered by the runtime without waking the object.
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
					if (!this.budget.owe(ws, frame.length, Date.now())) {
						this.close(ws, CLOSE_NOT_READING, "too far behind; reconnect with last_seq");
						return;
					}
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
		// The Worker checked the room is this client's (roomFor) before forwarding the handshake.
		this.service.verified(identity.data.clientId);
		// Sends on this socket fan out to the members' user sockets: the member list must be known first.
		await this.service.ensureMembers(identity.data.clientId);
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
		// A ban the room heard of after the Worker's check (one after this finds the socket, as above).
		if (this.service.moderation.banned(identity.data.userId)) {
			this.close(server, CLOSE_REMOVED, "banned from room");
			return json(403, "banned", "You are banned from this room");
		}
		if (identity.data.exp > 0) await this.scheduleAlarm(identity.data.exp * 1000);
		const headers =
			request.headers.get("Sec-WebSocket-Protocol") === PROTOCOL_LABEL ? { "Sec-WebSocket-Protocol": PROTOCOL_LABEL } : undefined;
		return new Response(null, { status: 101, webSocket: client, headers });
	}

	override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
		if (this.closing.has(ws)) return;
		// A join is not a sign of reading: it asks for a catch-up, so a client that only re-joins stays counted.
		if (typeof message !== "string" || !message.includes('"join_room"')) this.budget.alive(ws);
		const peer = this.peerOf(ws);
		if (!peer) return;
		try {
			const outcome = this.core.handleFrame(peer, message);
			if (outcome.failed !== undefined) console.error(JSON.stringify({ msg: "room frame failed", error: String(outcome.failed) }));
			if (outcome.close) this.close(ws, outcome.close.code, outcome.close.reason);
		} catch (error) {
			console.error(JSON.stringify({ msg: "room frame failed", error: String(error) }));
			peer.write(encodeError("internal_error", "The server could not handle this frame"));
		}
	}

	override webSocketClose(ws: WebSocket, code: number, reason: string): void {
		this.drop(ws);
		// Echo the peer's Close, or browsers wait in CLOSING.
		this.close(ws, echoCode(code), reason);
	}

	override webSocketError(ws: WebSocket): void {
		this.drop(ws);
	}

	/** Closes sockets whose JWT expired (code 4001), retries pushes to gateways and runs the webhook feed, then waits for whichever is next. */
	override async alarm(): Promise<void> {
		const open = this.ctx.getWebSockets().filter((ws) => !this.closing.has(ws));
		let next = expireTokens(
			open.map((ws) => [ws, this.peerOf(ws)?.state.exp ?? 0] as [WebSocket, number]),
			Date.now(),
			(ws) => this.close(ws, CLOSE_TOKEN_EXPIRED, "token expired"),
		);
		next = Math.min(next, (await this.service.alarm()) ?? Number.POSITIVE_INFINITY);
		// Only ever earlier: an alarm set while this one ran (a message stored meanwhile pokes the webhook
		// feed) must not be pushed back to `next`, or the feed waits for it (up to a token's expiry).
		if (Number.isFinite(next)) await this.scheduleAlarm(next);
	}

	// RPC from the Worker and from gateway objects: the room's behaviour is RoomService's.
	send(input: SendInput & { clientId: string }): Promise<SendResult> {
		return this.service.send(input);
	}
	created(meta: RoomMeta, memberIds: string[], ownerId?: string): void {
		this.service.created(meta, memberIds, ownerId);
	}
	memberAdded(meta: RoomMeta, userId: string): Promise<void> {
		return this.service.memberAdded(meta, userId);
	}
	memberRemoved(meta: RoomMeta, userId: string): Promise<void> {
		return this.service.memberRemoved(meta, userId);
	}
	standingChanged(meta: RoomMeta, userId: string): Promise<void> {
		return this.service.standingChanged(meta, userId);
	}
	settingsChanged(meta: RoomMeta): Promise<void> {
		return this.service.settingsChanged(meta);
	}
	summary(caller: Caller) {
		return this.service.summary(caller);
	}
	subscribe(caller: Caller, gateway: string) {
		return this.service.subscribe(caller, gateway);
	}
	unsubscribe(gateway: string, userId?: string): void {
		this.service.unsubscribe(gateway, userId);
	}
	range(caller: Caller, afterSeq: number, limit: number) {
		return this.service.range(caller, afterSeq, limit);
	}
	sendMany(sends: QueuedSend[]) {
		return this.service.sendMany(sends);
	}
	/**
	 * The previous release's gateways send a lone frame with this (a deploy replaces objects one by
	 * one, so an old gateway may call a new room for a few minutes). Remove in the release after.
	 */
	async sendAs(caller: Caller, text: string, options?: QueuedSend["options"]) {
		const [result] = await this.service.sendMany([{ caller, text, options }]);
		return result;
	}
	change(caller: Caller, change: RoomChange, fromRest?: boolean) {
		return this.service.change(caller, change, fromRest === true);
	}
	typing(caller: Caller) {
		return this.service.typing(caller);
	}
	markRead(caller: Caller, seq: number) {
		return this.service.markRead(caller, seq);
	}
	wake(caller: Caller, gateway: string, token: number) {
		return this.service.wake(caller, gateway, token);
	}
	deleteAsBackend(clientId: string, messageId: string) {
		return this.service.deleteAsBackend(clientId, messageId);
	}
	versions(messageId: string) {
		return this.service.versions(messageId);
	}
	replies(messageId: string, afterSeq: number, limit: number) {
		return this.service.replies(messageId, afterSeq, limit);
	}
	reads(clientId: string) {
		return this.service.reads(clientId);
	}
	presence(clientId: string) {
		return this.service.presence(clientId);
	}
	history(range: HistoryRange): MessageT[] {
		return this.service.history(range);
	}
	events(afterSeq: number, limit: number) {
		return this.service.events(afterSeq, limit);
	}
	message(id: string): MessageT | null {
		return this.service.message(id);
	}

	/** RPC from the Worker: a member was removed from this private room (or banned, or banned client-wide). */
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

	private async scheduleAlarm(at: number): Promise<void> {
		const current = await this.ctx.storage.getAlarm();
		if (current === null || current > at) await this.ctx.storage.setAlarm(at);
	}
}
