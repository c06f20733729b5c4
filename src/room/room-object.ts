import { DurableObject } from "cloudflare:workers";
import { loadConfig } from "../config";
import type { Env } from "../env";
import type { Caller, GatewayPort, RoomChange, RoomPush, SendOptions } from "../gateway/push";
import { gatewayName } from "../gateway/shard";
import { gatewayStub } from "../gateway/stub";
import { uuidv7 } from "../ids";
import { encodeError } from "../protocol/codec";
import { CLOSE_NOT_READING, CLOSE_REMOVED, CLOSE_TOKEN_EXPIRED, PING, PONG, PROTOCOL_LABEL } from "../protocol/frames";
import type { MessageT } from "../schemas/message";
import { openDirectory } from "../storage";
// webhooks: message.new from the room's log (src/webhooks/room-feed.ts)
import { openRoomWebhookFeed, type RoomWebhookFeed } from "../webhooks/room-feed";
import { GatewayFeed } from "./gateway-feed";
import { Membership, type RoomMeta } from "./membership";
import type { HistoryRange } from "./message-log";
import { MessageLog } from "./message-log";
import { Outbox, workerdScheduler } from "./outbox";
import { ConnState, type Peer, RoomCore, type SendInput, type SendResult } from "./room-core";
import { RoomInbox } from "./room-inbox";
import { SocketBudget } from "./socket-budget";
import { IDENTITY_HEADER, MEMBERS_ONLY_HEADER } from "./stub";

/** Members read from the directory per page when a room loads its member list. */
const MEMBER_PAGE = 200;

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
	private readonly log: MessageLog;
	private readonly membership: Membership;
	private readonly feed: GatewayFeed;
	private readonly inbox: RoomInbox;
	/** One stub per gateway: calls through one stub arrive in order; a stub that threw is replaced. */
	private readonly gateways = new Map<string, GatewayPort>();
	private readonly peers = new Map<WebSocket, Peer>();
	/** Sockets this object closed: frames still in flight from them are ignored, and they are never re-attached. */
	private readonly closing = new WeakSet<WebSocket>();
	private readonly budget: SocketBudget;
	/** webhooks: hands stored messages to the client's dispatcher, from a durable cursor. */
	private readonly webhookFeed: RoomWebhookFeed;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		const config = loadConfig(env);
		this.budget = new SocketBudget(config.maxUnreadBytes, (ws) => this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0);
		const log = new MessageLog(ctx.storage.sql);
		this.log = log;
		const roomId = ctx.id.name;
		if (!roomId) throw new Error("RoomObject must be addressed by its room id (idFromName)");
		this.membership = new Membership(ctx.storage.sql);
		this.feed = new GatewayFeed({
			sql: ctx.storage.sql,
			log,
			membership: this.membership,
			roomId,
			gatewayOf: (clientId, userId) => gatewayName(clientId, userId, config.gatewayShards),
			push: (gateway, push) => this.pushTo(gateway, push),
			signal: (gateway, event, data) => this.gatewayOf(gateway).signal(roomId, event, data),
			now: Date.now,
			soon: (flush) => setTimeout(flush, 0),
			after: (ms, run) => {
				setTimeout(run, ms);
			},
			inboxDebounceMs: config.inboxDebounceMs,
			wakeAt: (at) => void this.scheduleAlarm(at),
		});
		this.core = new RoomCore({
			log,
			outbox: new Outbox(workerdScheduler),
			limits: config,
			now: Date.now,
			newId: uuidv7,
			roomId,
			appended: (event) => {
				this.feed.appended(event.seq);
				this.webhookFeed.poke(); // webhooks
			},
			after: (ms, run) => {
				setTimeout(run, ms);
			},
			signal: (event, data) => this.feed.signal(event, data as { room_id: string }),
		});
		this.inbox = new RoomInbox(roomId, this.core, log, this.membership, this.feed);
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
		this.webhookFeed.bind(identity.data.clientId); // webhooks
		// Sends on this socket fan out to the members' user sockets: the member list must be known first.
		await this.ensureMembers(identity.data.clientId);
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
		this.close(ws, code === 1005 || code === 1006 || code === 1015 ? 1000 : code, reason);
	}

	override webSocketError(ws: WebSocket): void {
		this.drop(ws);
	}

	/** Closes sockets whose JWT expired (code 4001), retries pushes to gateways and runs the webhook feed, then waits for whichever is next. */
	override async alarm(): Promise<void> {
		this.feed.retryDue();
		const now = Date.now();
		let next = Number.POSITIVE_INFINITY;
		for (const ws of this.ctx.getWebSockets()) {
			if (this.closing.has(ws)) continue;
			const exp = this.peerOf(ws)?.state.exp ?? 0;
			if (exp === 0) continue;
			if (exp * 1000 <= now) this.close(ws, CLOSE_TOKEN_EXPIRED, "token expired");
			else next = Math.min(next, exp * 1000);
		}
		const retry = this.feed.nextRetryAt();
		if (retry !== null) next = Math.min(next, Math.max(retry, now + 1_000));
		await this.webhookFeed.run(); // webhooks: forward stored messages (never throws)
		next = Math.min(next, this.webhookFeed.wantsAlarmAt() ?? Number.POSITIVE_INFINITY); // webhooks
		if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next);
	}

	/** RPC from the Worker: a REST send. */
	async send(input: SendInput & { clientId: string }): Promise<SendResult> {
		this.webhookFeed.bind(input.clientId); // webhooks: the route checked the room is this client's
		await this.ensureMembers(input.clientId);
		const { clientId: _, ...send } = input;
		return this.core.sendFromRest(send);
	}

	/** RPC from the Worker: the room was created with these members. */
	created(meta: RoomMeta, memberIds: string[]): void {
		this.inbox.initialize(meta, memberIds);
	}

	/** RPC from the Worker, after the directory recorded the membership. */
	memberAdded(meta: RoomMeta, userId: string): Promise<void> {
		return this.syncMember(meta, userId);
	}

	/** RPC from the Worker, after the directory removed the membership. */
	memberRemoved(meta: RoomMeta, userId: string): Promise<void> {
		return this.syncMember(meta, userId);
	}

	private memberSyncs: Promise<unknown> = Promise.resolve();

	/**
	 * Brings the room's copy of one membership in line with the directory, whatever the order in
	 * which add and remove calls arrive: each reads the directory afresh, one after the other, so
	 * the last to run applies the latest state. A retry of a failed call repairs a lost one.
	 */
	private syncMember(meta: RoomMeta, userId: string): Promise<void> {
		const run = async () => {
			await this.ensureMembers(meta.clientId, meta);
			const isMember = await openDirectory(this.env).isMember(meta.clientId, this.ctx.id.name as string, userId);
			if (isMember) this.inbox.memberAdded(userId);
			else {
				this.inbox.memberRemoved(userId);
				if (meta.private) this.disconnectUser(userId);
			}
		};
		const next = this.memberSyncs.then(run, run);
		this.memberSyncs = next.catch(() => undefined);
		return next;
	}

	/** RPC from the Worker: the user's place in this room (REST unread counts). */
	async summary(caller: Caller) {
		await this.ensureMembers(caller.clientId);
		const access = this.membership.access(caller.clientId, caller.userId);
		return access.ok ? { ok: true as const, ...this.inbox.summary(caller.userId) } : access;
	}

	/** RPCs from a gateway object (the user socket) and the Worker (REST reads). */
	async subscribe(caller: Caller, gateway: string) {
		await this.ensureMembers(caller.clientId);
		return this.inbox.subscribe(caller, gateway);
	}
	unsubscribe(gateway: string): void {
		this.inbox.unsubscribe(gateway);
	}
	async range(caller: Caller, afterSeq: number, limit: number) {
		await this.ensureMembers(caller.clientId);
		return this.inbox.range(caller, afterSeq, limit);
	}
	async sendAs(caller: Caller, text: string, options?: SendOptions) {
		await this.ensureMembers(caller.clientId);
		return this.inbox.sendAs(caller, text, options);
	}
	async change(caller: Caller, change: RoomChange) {
		await this.ensureMembers(caller.clientId);
		return this.inbox.change(caller, change);
	}
	async typing(caller: Caller) {
		await this.ensureMembers(caller.clientId);
		this.inbox.typing(caller);
	}
	async markRead(caller: Caller, seq: number) {
		await this.ensureMembers(caller.clientId);
		return this.inbox.markRead(caller, seq);
	}

	/**
	 * A room created before it kept its own member list (or that missed the creation call) loads it
	 * once from the directory. Nothing else runs meanwhile, so a membership change cannot interleave.
	 */
	private async ensureMembers(clientId: string, known?: RoomMeta): Promise<void> {
		if (this.membership.isSynced()) return this.bindWebhooks();
		// Nothing else runs while the list loads; a directory failure is thrown after the block, so it
		// fails this call only (a throw inside would reset the object and drop its sockets).
		let failure: unknown;
		await this.ctx.blockConcurrencyWhile(async () => {
			if (this.membership.isSynced()) return;
			try {
				await this.loadMembers(clientId, known);
			} catch (error) {
				failure = error;
			}
		});
		if (failure !== undefined) throw failure;
		this.bindWebhooks();
	}

	/** webhooks: the room's owner, once the directory confirmed it (the room's meta). */
	private bindWebhooks(): void {
		const meta = this.membership.meta();
		if (meta) this.webhookFeed.bind(meta.clientId);
	}

	private async loadMembers(clientId: string, known?: RoomMeta): Promise<void> {
		const directory = openDirectory(this.env);
		const roomId = this.ctx.id.name as string;
		let meta = known;
		if (!meta) {
			const room = await directory.getRoom(clientId, roomId);
			if (!room) return;
			meta = { clientId, private: room.private };
		}
		const memberIds: string[] = [];
		let after: string | undefined;
		for (;;) {
			const page = await directory.listMembers(meta.clientId, roomId, { after, limit: MEMBER_PAGE });
			memberIds.push(...page.map((m) => m.userId));
			if (page.length < MEMBER_PAGE) break;
			after = page[page.length - 1]?.userId;
		}
		this.inbox.initialize(meta, memberIds);
	}

	private gatewayOf(gateway: string): GatewayPort {
		let stub = this.gateways.get(gateway);
		if (!stub) {
			stub = gatewayStub(this.env, gateway) as unknown as GatewayPort;
			this.gateways.set(gateway, stub);
		}
		return stub;
	}

	private async pushTo(gateway: string, push: RoomPush): Promise<void> {
		const stub = this.gatewayOf(gateway);
		try {
			await stub.deliver(push);
		} catch (error) {
			this.gateways.delete(gateway);
			throw error;
		}
	}

	/** RPC from the Worker: the client's backend deletes any message (the route checked the room is the client's). */
	async deleteAsBackend(clientId: string, messageId: string) {
		await this.ensureMembers(clientId);
		return this.core.remove({ userId: null, messageId });
	}

	/** RPC from the Worker: every version of a message, or null when there is no such message. */
	versions(messageId: string) {
		return this.log.versions(messageId);
	}

	/** RPC from the Worker: replies to a message, or null when there is no such message. */
	replies(messageId: string, afterSeq: number, limit: number) {
		if (!this.log.byId(messageId)) return null;
		return this.log.replies(messageId, afterSeq, limit);
	}

	/** RPC from the Worker: each member's read position. */
	async reads(clientId: string) {
		await this.ensureMembers(clientId);
		return this.inbox.reads();
	}

	/** RPC from the Worker: a page of history. */
	history(range: HistoryRange): MessageT[] {
		return this.core.history(range);
	}

	/** RPC from the Worker (moderation): one stored message by id, or null. */
	message(id: string): MessageT | null {
		return this.log.byId(id);
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

	private scheduleExpiry(at: number): Promise<void> {
		return this.scheduleAlarm(at);
	}

	private async scheduleAlarm(at: number): Promise<void> {
		const current = await this.ctx.storage.getAlarm();
		if (current === null || current > at) await this.ctx.storage.setAlarm(at);
	}
}
