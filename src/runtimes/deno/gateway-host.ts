import { loadConfig } from "../../config";
import type { Env } from "../../env";
import { GatewayCore, type GatewayPeer } from "../../gateway/gateway-core";
import { GatewayStore } from "../../gateway/gateway-store";
import type { DeliverReply, RoomPort, RoomPush } from "../../gateway/push";
import { GATEWAY_IDENTITY_HEADER, GatewayIdentity } from "../../gateway/stub";
import { encodeError } from "../../protocol/codec";
import { CLOSE_NOT_READING, CLOSE_REMOVED, CLOSE_TOKEN_EXPIRED, PROTOCOL_LABEL } from "../../protocol/frames";
import { Outbox } from "../../room/outbox";
import { SocketBudget } from "../../room/socket-budget";
import { expireTokens } from "../../room/socket-expiry";
import { roomStub } from "../../room/stub";
import { openDirectory } from "../../storage";
import { HostedSocket } from "./hosted-socket";
import type { HostDeps } from "./room-host";
import { upgrade } from "./upgrade";

const json = (status: number, code: string, message: string) => Response.json({ error: { code, message } }, { status });

/** What rooms call on a gateway (GatewayObject's RPC methods). */
export const GATEWAY_METHODS = ["deliver", "signal", "disconnectUser", "visited", "visits", "forgetVisits", "alarm"] as const;

/**
 * A shard of a client's user sockets in this process: the same GatewayCore and GatewayStore as
 * src/runtimes/cloudflare/gateway-object.ts, its SQLite in a file of its own, its sockets from Deno.
 */
export class GatewayHost {
	private readonly core: GatewayCore;
	private readonly peers = new Map<HostedSocket, GatewayPeer>();
	private readonly budget: SocketBudget<HostedSocket>;
	private readonly rooms = new Map<string, RoomPort>();
	private readonly env: Env;

	constructor(
		name: string,
		private readonly deps: HostDeps,
	) {
		this.env = deps.env;
		const config = loadConfig(deps.env);
		this.budget = new SocketBudget<HostedSocket>(config.maxUnreadBytes, (s) => s.heartbeatAt);
		this.core = new GatewayCore({
			name,
			// As on workerd: writes of one turn's pushes in one flush, and per-socket cursors at most once
			// a second (they matter only while the sockets live, and none outlives this process).
			store: new GatewayStore(
				deps.file.sql,
				(flush) => deps.scheduler.after(0, flush),
				(ms, flush) => deps.scheduler.after(ms, flush),
			),
			rooms: (roomId) => this.roomPort(roomId),
			outbox: new Outbox(deps.scheduler),
			scheduler: deps.scheduler,
			limits: config,
			now: Date.now,
			roomExists: async (clientId, roomId) => (await openDirectory(deps.env).getRoom(clientId, roomId)) !== null,
		});
		// No socket survives a restart of this process: forget the subscriptions of the old ones.
		this.core.prune(new Set());
	}

	private roomPort(roomId: string): RoomPort {
		let port = this.rooms.get(roomId);
		if (!port) {
			port = roomStub(this.env, roomId) as unknown as RoomPort;
			this.rooms.set(roomId, port);
		}
		return port;
	}

	async upgrade(forwarded: Request, original: Request): Promise<Response> {
		if (forwarded.headers.get("Upgrade")?.toLowerCase() !== "websocket")
			return json(426, "validation_failed", "Expected a WebSocket upgrade");
		const identity = GatewayIdentity.safeParse(JSON.parse(forwarded.headers.get(GATEWAY_IDENTITY_HEADER) ?? "null"));
		if (!identity.success) return json(400, "validation_failed", "Missing identity");
		const config = loadConfig(this.env);
		const mine = [...this.peers.keys()].filter((s) => s.tag === identity.data.userId);
		if (mine.length >= config.maxSocketsPerUser) {
			return json(429, "too_many_connections", "Too many user sockets for this user");
		}
		const { socket, response } = upgrade(original, forwarded.headers.get("Sec-WebSocket-Protocol") === PROTOCOL_LABEL);
		const hosted: HostedSocket = new HostedSocket(socket, identity.data.userId, this.deps.group, {
			message: (data) => void this.message(hosted, data),
			closed: () => this.drop(hosted),
		});
		const peer: GatewayPeer = {
			state: { ...identity.data, socketId: crypto.randomUUID() },
			write: (frame) => {
				if (!this.budget.owe(hosted, frame.length, Date.now())) return this.close(hosted, CLOSE_NOT_READING, "too far behind; reconnect");
				hosted.send(frame);
			},
		};
		this.peers.set(hosted, peer);
		this.core.attach(peer);
		void this.core.ready(peer).catch((error) => console.error(JSON.stringify({ msg: "ready failed", error: String(error) })));
		if (identity.data.exp > 0) this.scheduleAlarm(identity.data.exp * 1000);
		return response;
	}

	private async message(hosted: HostedSocket, message: string | ArrayBuffer): Promise<void> {
		if (typeof message !== "string" || !message.includes('"join_room"')) this.budget.alive(hosted);
		const peer = this.peers.get(hosted);
		if (!peer) return;
		try {
			const outcome = await this.core.handleFrame(peer, message);
			if (outcome.failed !== undefined) console.error(JSON.stringify({ msg: "gateway frame failed", error: String(outcome.failed) }));
			if (outcome.close) this.close(hosted, outcome.close.code, outcome.close.reason);
		} catch (error) {
			console.error(JSON.stringify({ msg: "gateway frame failed", error: String(error) }));
			peer.write(encodeError("internal_error", "The server could not handle this frame"));
		}
	}

	alarm(): void {
		const next = expireTokens(
			[...this.peers].map(([hosted, peer]) => [hosted, peer.state.exp] as [HostedSocket, number]),
			Date.now(),
			(hosted) => this.close(hosted, CLOSE_TOKEN_EXPIRED, "token expired"),
		);
		if (Number.isFinite(next)) this.deps.alarm.setAlarm(next);
	}

	/** From a room: its news for the sockets and inbox rows here. */
	deliver(push: RoomPush): Promise<DeliverReply | undefined> {
		return this.core.deliver(push);
	}

	/** From a room: an ephemeral event (typing, read receipts) for the sockets here that joined it. */
	signal(roomId: string, event: string, data: { room_id: string; except_user_id?: string } & Record<string, unknown>): void {
		this.core.signal(roomId, event, data);
	}

	/** From the Worker: the user opened a room socket to a public room they are not a member of. */
	visited(userId: string, roomId: string): void {
		this.core.visited(userId, roomId);
	}

	/** From the Worker: the public rooms the user opened room sockets to without being a member. */
	visits(userId: string): string[] {
		return this.core.visits(userId);
	}

	/** From the Worker: those rooms closed the user's sockets (a client-wide ban); their visits are forgotten. */
	forgetVisits(userId: string, roomIds: string[]): void {
		this.core.forgetVisits(userId, roomIds);
	}

	/** From the Worker: the user was banned client-wide; their user sockets here close with 4003. */
	disconnectUser(userId: string): void {
		for (const hosted of [...this.peers.keys()]) if (hosted.tag === userId) this.close(hosted, CLOSE_REMOVED, "banned");
	}

	closeAll(code: number, reason: string): Promise<void>[] {
		return [...this.peers.keys()].map((hosted) => {
			this.drop(hosted);
			return hosted.closeNow(code, reason);
		});
	}

	private drop(hosted: HostedSocket): void {
		const peer = this.peers.get(hosted);
		if (!peer) return;
		this.peers.delete(hosted);
		this.core.detach(peer);
	}

	private close(hosted: HostedSocket, code: number, reason: string): void {
		this.drop(hosted);
		hosted.close(code, reason);
	}

	private scheduleAlarm(at: number): void {
		const current = this.deps.alarm.getAlarm();
		if (current === null || current > at) this.deps.alarm.setAlarm(at);
	}
}
