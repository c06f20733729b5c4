import { DurableObject } from "cloudflare:workers";
import { loadConfig } from "../../config";
import type { Env } from "../../env";
import { GatewayCore, type GatewayPeer, GatewaySocketState } from "../../gateway/gateway-core";
import { GatewayStore } from "../../gateway/gateway-store";
import type { DeliverReply, RoomPort, RoomPush } from "../../gateway/push";
import { GATEWAY_IDENTITY_HEADER, GatewayIdentity } from "../../gateway/stub";
import { encodeError } from "../../protocol/codec";
import { CLOSE_REMOVED, CLOSE_TOKEN_EXPIRED, PING, PONG, PROTOCOL_LABEL } from "../../protocol/frames";
import { Outbox, workerdScheduler } from "../../room/outbox";
import { SocketBudget } from "../../room/socket-budget";
import { echoCode, expireTokens } from "../../room/socket-expiry";
import { roomStub } from "../../room/stub";
import { openDirectory } from "../../storage";

/** With EXPOSE_INSTANCE=1, the 101 names the instance that accepted the socket (its construction time). */
export const INSTANCE_HEADER = "X-Roomkit-Instance";

/** Close code for a socket the gateway cannot serve (standard 1011: unexpected condition). */
const CLOSE_INTERNAL_ERROR = 1011;

/** The object's name (`<client id>.<shard>`), which rooms push to: without it the object is unreachable. */
function nameOf(ctx: DurableObjectState): string {
	const name = ctx.id.name;
	if (!name) throw new Error("GatewayObject must be addressed by name (idFromName)");
	return name;
}

const json = (status: number, code: string, message: string) => Response.json({ error: { code, message } }, { status });

/**
 * A shard of a client's user sockets (`GET /ws`), through the Hibernation API. Adapts the runtime
 * to `GatewayCore`: identities live in the attachments, subscriptions and inbox rows in SQLite,
 * so an idle gateway hibernates and wakes with everything intact. Rooms reach it by RPC only.
 */
export class GatewayObject extends DurableObject<Env> {
	private readonly core: GatewayCore;
	private readonly peers = new Map<WebSocket, GatewayPeer>();
	private readonly closing = new WeakSet<WebSocket>();
	private readonly budget: SocketBudget;
	/** One stub per room: calls through one stub arrive in order (subscribe before unsubscribe). */
	private readonly rooms = new Map<string, RoomPort>();
	/** When this instance was made: a later one than the sockets' means the object hibernated (EXPOSE_INSTANCE). */
	private readonly constructedAt = Date.now();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		const config = loadConfig(env);
		this.budget = new SocketBudget(config.maxUnreadBytes, (ws) => this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0);
		this.core = new GatewayCore({
			name: nameOf(ctx),
			// Writes of pushes that arrive together share one commit.
			store: new GatewayStore(
				ctx.storage.sql,
				(flush) => setTimeout(flush, 0),
				(ms, flush) => setTimeout(flush, ms),
			),
			rooms: (roomId) => this.roomPort(roomId),
			outbox: new Outbox(workerdScheduler),
			scheduler: workerdScheduler,
			limits: config,
			now: Date.now,
			roomExists: async (clientId, roomId) => (await openDirectory(env).getRoom(clientId, roomId)) !== null,
		});
		ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
		const live = new Set<string>();
		for (const ws of ctx.getWebSockets()) {
			const peer = this.peerOf(ws);
			if (peer) live.add(peer.state.socketId);
		}
		this.core.prune(live);
	}

	private roomPort(roomId: string): RoomPort {
		let port = this.rooms.get(roomId);
		if (!port) {
			const stub = roomStub(this.env, roomId) as unknown as RoomPort;
			// A stub that threw is replaced for the next call.
			const guard = async <T>(run: () => Promise<T>): Promise<T> => {
				try {
					return await run();
				} catch (error) {
					this.rooms.delete(roomId);
					throw error;
				}
			};
			port = {
				subscribe: (caller, gateway) => guard(() => stub.subscribe(caller, gateway)),
				unsubscribe: (gateway, userId) => guard(() => stub.unsubscribe(gateway, userId)),
				range: (caller, afterSeq, limit) => guard(() => stub.range(caller, afterSeq, limit)),
				sendMany: (sends) => guard(() => stub.sendMany(sends)),
				change: (caller, change) => guard(() => stub.change(caller, change)),
				typing: (caller) => guard(() => stub.typing(caller)),
				markRead: (caller, seq) => guard(() => stub.markRead(caller, seq)),
				wake: (caller, gateway, token) => guard(() => stub.wake(caller, gateway, token)),
			};
			this.rooms.set(roomId, port);
		}
		return port;
	}

	private peerOf(ws: WebSocket): GatewayPeer | undefined {
		let peer = this.peers.get(ws);
		if (!peer) {
			const parsed = GatewaySocketState.safeParse(ws.deserializeAttachment());
			if (!parsed.success) {
				this.close(ws, CLOSE_INTERNAL_ERROR, "connection state lost; reconnect");
				return undefined;
			}
			peer = {
				state: parsed.data,
				write: (frame) => {
					if (!this.budget.owe(ws, frame.length, Date.now())) return this.close(ws, 4008, "too far behind; reconnect");
					try {
						ws.send(frame);
					} catch {
						// Closed under us; the close handler detaches it.
					}
				},
			};
			this.peers.set(ws, peer);
			this.core.attach(peer);
		}
		return peer;
	}

	override async fetch(request: Request): Promise<Response> {
		if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
			return json(426, "validation_failed", "Expected a WebSocket upgrade");
		const identity = GatewayIdentity.safeParse(JSON.parse(request.headers.get(GATEWAY_IDENTITY_HEADER) ?? "null"));
		if (!identity.success) return json(400, "validation_failed", "Missing identity");
		const config = loadConfig(this.env);
		if (this.ctx.getWebSockets(identity.data.userId).length >= config.maxSocketsPerUser) {
			return json(429, "too_many_connections", "Too many user sockets for this user");
		}
		const { 0: client, 1: server } = new WebSocketPair();
		this.ctx.acceptWebSocket(server, [identity.data.userId]);
		server.serializeAttachment({ ...identity.data, socketId: crypto.randomUUID() });
		const peer = this.peerOf(server);
		if (peer) void this.core.ready(peer).catch((error) => console.error(JSON.stringify({ msg: "ready failed", error: String(error) })));
		if (identity.data.exp > 0) await this.scheduleAlarm(identity.data.exp * 1000);
		const headers = new Headers();
		if (request.headers.get("Sec-WebSocket-Protocol") === PROTOCOL_LABEL) headers.set("Sec-WebSocket-Protocol", PROTOCOL_LABEL);
		// For benchmarks (bench/user-socket.mjs): which instance took the socket, to show an idle gateway hibernates.
		if (this.env.EXPOSE_INSTANCE === "1") headers.set(INSTANCE_HEADER, String(this.constructedAt));
		return new Response(null, { status: 101, webSocket: client, headers });
	}

	override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
		if (this.closing.has(ws)) return;
		if (typeof message !== "string" || !message.includes('"join_room"')) this.budget.alive(ws);
		const peer = this.peerOf(ws);
		if (!peer) return;
		try {
			const outcome = await this.core.handleFrame(peer, message);
			if (outcome.failed !== undefined) console.error(JSON.stringify({ msg: "gateway frame failed", error: String(outcome.failed) }));
			if (outcome.close) this.close(ws, outcome.close.code, outcome.close.reason);
		} catch (error) {
			console.error(JSON.stringify({ msg: "gateway frame failed", error: String(error) }));
			peer.write(encodeError("internal_error", "The server could not handle this frame"));
		}
	}

	override webSocketClose(ws: WebSocket, code: number, reason: string): void {
		this.drop(ws);
		this.close(ws, echoCode(code), reason);
	}

	override webSocketError(ws: WebSocket): void {
		this.drop(ws);
	}

	override async alarm(): Promise<void> {
		const open = this.ctx.getWebSockets().filter((ws) => !this.closing.has(ws));
		const next = expireTokens(
			open.map((ws) => [ws, this.peerOf(ws)?.state.exp ?? 0] as [WebSocket, number]),
			Date.now(),
			(ws) => this.close(ws, CLOSE_TOKEN_EXPIRED, "token expired"),
		);
		if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next);
	}

	/** RPC from a room: its news for the sockets and inbox rows here. */
	deliver(push: RoomPush): Promise<DeliverReply | undefined> {
		return this.core.deliver(push);
	}

	/** RPC from a room: an ephemeral event (typing) for the sockets here that joined it. */
	signal(roomId: string, event: string, data: { room_id: string; except_user_id?: string } & Record<string, unknown>): void {
		this.core.signal(roomId, event, data);
	}

	/** RPC from the Worker: the user opened a room socket to a public room they are not a member of. */
	visited(userId: string, roomId: string): void {
		this.core.visited(userId, roomId);
	}

	/** RPC from the Worker: the public rooms the user opened room sockets to without being a member. */
	visits(userId: string): string[] {
		return this.core.visits(userId);
	}

	/** RPC from the Worker: those rooms closed the user's sockets (a client-wide ban); their visits are forgotten. */
	forgetVisits(userId: string, roomIds: string[]): void {
		this.core.forgetVisits(userId, roomIds);
	}

	/** RPC from the Worker: the user was banned client-wide; their user sockets here close with 4003. */
	disconnectUser(userId: string): void {
		for (const ws of this.ctx.getWebSockets(userId)) this.close(ws, CLOSE_REMOVED, "banned");
	}

	private drop(ws: WebSocket): void {
		const peer = this.peers.get(ws);
		if (!peer) return;
		this.peers.delete(ws);
		this.core.detach(peer);
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
