import { loadConfig } from "../../config";
import type { Env } from "../../env";
import type { Caller, GatewayPort, QueuedSend, RoomChange } from "../../gateway/push";
import { gatewayStub } from "../../gateway/stub";
import { uuidv7 } from "../../ids";
import { encodeError } from "../../protocol/codec";
import { CLOSE_NOT_READING, CLOSE_REMOVED, CLOSE_TOKEN_EXPIRED, PROTOCOL_LABEL } from "../../protocol/frames";
import type { RoomMeta } from "../../room/membership";
import type { HistoryRange } from "../../room/message-log";
import type { Scheduler } from "../../room/outbox";
import { ConnState, type Peer, type RoomCore, type SendInput } from "../../room/room-core";
import { RoomService } from "../../room/room-service";
import { SocketBudget } from "../../room/socket-budget";
import { expireTokens } from "../../room/socket-expiry";
import { IDENTITY_HEADER, MEMBERS_ONLY_HEADER } from "../../room/stub";
import type { MessageT } from "../../schemas/message";
import { openDirectory } from "../../storage";
import { openRoomWebhookFeed } from "../../webhooks/room-feed";
import type { AlarmSlot } from "./alarms";
import type { GroupCommit } from "./group-commit";
import { HostedSocket } from "./hosted-socket";
import type { SqliteFile } from "./sqlite-file";
import { upgrade } from "./upgrade";

const json = (status: number, code: string, message: string) => Response.json({ error: { code, message } }, { status });

/** What the routes and the gateways call on a room (RoomObject's RPC methods), plus the upgrade. */
export const ROOM_METHODS = [
	"send",
	"created",
	"memberAdded",
	"memberRemoved",
	"standingChanged",
	"settingsChanged",
	"summary",
	"subscribe",
	"unsubscribe",
	"range",
	"sendMany",
	"change",
	"typing",
	"markRead",
	"wake",
	"deleteAsBackend",
	"versions",
	"replies",
	"reads",
	"presence",
	"history",
	"events",
	"message",
	"disconnectUser",
	"alarm",
] as const;

export interface HostDeps {
	env: Env;
	file: SqliteFile;
	alarm: AlarmSlot;
	group: GroupCommit;
	/** Timers for the outboxes and the room's own work: 0 ms means the end of the current turn (turn.ts). */
	scheduler: Scheduler;
}

/**
 * One room in this process: the same RoomCore, MessageLog, Membership, GatewayFeed and RoomInbox
 * as src/runtimes/cloudflare/room-object.ts, with its SQLite in a file of its own and its sockets from Deno.
 * Mirrors RoomObject method for method; nothing here decides room behaviour.
 */
export class RoomHost {
	private readonly service: RoomService;
	private readonly core: RoomCore;
	private readonly peers = new Map<HostedSocket, Peer>();
	private readonly budget: SocketBudget<HostedSocket>;
	private syncing: Promise<void> | undefined;
	/** Handshakes to a private room between their membership read and their socket. */
	private readonly handshakes = new Set<{ userId: string; removed: boolean }>();
	private readonly env: Env;

	constructor(
		private readonly roomId: string,
		private readonly deps: HostDeps,
	) {
		this.env = deps.env;
		const env = deps.env;
		const config = loadConfig(env);
		this.budget = new SocketBudget<HostedSocket>(config.maxUnreadBytes, (s) => s.heartbeatAt);
		this.service = new RoomService({
			roomId,
			sql: deps.file.sql,
			config,
			directory: () => openDirectory(env),
			gateway: (name) => gatewayStub(env, name) as unknown as GatewayPort,
			scheduler: deps.scheduler,
			newId: uuidv7,
			wakeAt: (at) => this.scheduleAlarm(at),
			// One JS thread: concurrent callers wait for the same load (what blockConcurrencyWhile gives on workerd).
			exclusive: (load) => {
				this.syncing ??= load().finally(() => {
					this.syncing = undefined;
				});
				return this.syncing;
			},
			disconnectUser: (userId) => this.disconnectUser(userId),
			webhooks: env.WEBHOOKS ? (core) => openRoomWebhookFeed(deps.file.sql, env, core, async (at) => this.scheduleAlarm(at)) : undefined,
		});
		this.core = this.service.core;
	}

	private sockets(tag?: string): HostedSocket[] {
		return [...this.peers.keys()].filter((s) => tag === undefined || s.tag === tag);
	}

	/** The handshake: the identity the Worker verified on `forwarded`, the socket from `original`. */
	async upgrade(forwarded: Request, original: Request): Promise<Response> {
		if (forwarded.headers.get("Upgrade")?.toLowerCase() !== "websocket")
			return json(426, "validation_failed", "Expected a WebSocket upgrade");
		const identity = ConnState.safeParse(JSON.parse(forwarded.headers.get(IDENTITY_HEADER) ?? "null"));
		if (!identity.success) return json(400, "validation_failed", "Missing identity");
		this.service.verified(identity.data.clientId);
		await this.service.ensureMembers(identity.data.clientId);
		const state: ConnState = identity.data;
		// workerd accepts first and then reads the membership again, so that a removal in between is
		// seen. Deno cannot refuse once it upgraded, so the check comes first, with the handshake
		// listed meanwhile: a removal during the read marks it (disconnectUser), one after finds the socket.
		if (forwarded.headers.get(MEMBERS_ONLY_HEADER) === "1") {
			const handshake = { userId: state.userId, removed: false };
			this.handshakes.add(handshake);
			let member: boolean;
			try {
				member = await openDirectory(this.env).isMember(state.clientId, state.roomId, state.userId);
			} finally {
				this.handshakes.delete(handshake);
			}
			if (!member || handshake.removed) return json(403, "forbidden", "This room is private and you are not a member");
		}
		// A ban the room heard of after the Worker's check; with no await from here to the socket, a later one finds it.
		if (this.service.moderation.banned(state.userId)) return json(403, "banned", "You are banned from this room");
		// Counted with no await before the socket is listed, so concurrent handshakes cannot exceed the limits.
		const config = loadConfig(this.env);
		if (this.peers.size >= config.maxSocketsPerRoom) {
			return json(429, "too_many_connections", "This room has as many sockets as it may hold");
		}
		if (this.sockets(state.userId).length >= config.maxSocketsPerUser) {
			return json(429, "too_many_connections", "Too many sockets for this user in this room");
		}
		const { socket, response } = upgrade(original, forwarded.headers.get("Sec-WebSocket-Protocol") === PROTOCOL_LABEL);
		const hosted: HostedSocket = new HostedSocket(socket, state.userId, this.deps.group, {
			message: (data) => this.frame(hosted, data),
			closed: () => this.drop(hosted),
		});
		const peer: Peer = {
			state,
			write: (frame) => {
				if (!this.budget.owe(hosted, frame.length, Date.now())) {
					this.close(hosted, CLOSE_NOT_READING, "too far behind; reconnect with last_seq");
					return;
				}
				hosted.send(frame);
			},
			saveState: () => {},
		};
		this.peers.set(hosted, peer);
		this.core.attach(peer);
		if (state.exp > 0) this.scheduleAlarm(state.exp * 1000);
		return response;
	}

	private frame(hosted: HostedSocket, message: string | ArrayBuffer): void {
		if (typeof message !== "string" || !message.includes('"join_room"')) this.budget.alive(hosted);
		const peer = this.peers.get(hosted);
		if (!peer) return;
		try {
			const outcome = this.core.handleFrame(peer, message);
			if (outcome.failed !== undefined) console.error(JSON.stringify({ msg: "room frame failed", error: String(outcome.failed) }));
			if (outcome.close) this.close(hosted, outcome.close.code, outcome.close.reason);
		} catch (error) {
			console.error(JSON.stringify({ msg: "room frame failed", error: String(error) }));
			peer.write(encodeError("internal_error", "The server could not handle this frame"));
		}
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

	/** Shutdown: every socket closed now with `code` (1001). */
	closeAll(code: number, reason: string): Promise<void>[] {
		return this.sockets().map((hosted) => {
			this.drop(hosted);
			return hosted.closeNow(code, reason);
		});
	}

	/** Closes sockets whose JWT expired (4001), retries pushes to gateways and runs webhooks, then waits for the next of either. */
	async alarm(): Promise<void> {
		let next = expireTokens(
			[...this.peers].map(([hosted, peer]) => [hosted, peer.state.exp] as [HostedSocket, number]),
			Date.now(),
			(hosted) => this.close(hosted, CLOSE_TOKEN_EXPIRED, "token expired"),
		);
		next = Math.min(next, (await this.service.alarm()) ?? Number.POSITIVE_INFINITY);
		// Only ever earlier: an alarm set while this one ran (a message stored meanwhile pokes the webhook
		// feed) must not be pushed back to `next`, or the feed waits for it (up to a token's expiry).
		if (Number.isFinite(next)) this.scheduleAlarm(next);
	}

	// The RPC surface of src/runtimes/cloudflare/room-object.ts: the room's behaviour is RoomService's.
	send(input: SendInput & { clientId: string }) {
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

	disconnectUser(userId: string): void {
		for (const handshake of this.handshakes) if (handshake.userId === userId) handshake.removed = true;
		for (const hosted of this.sockets(userId)) this.close(hosted, CLOSE_REMOVED, "removed from room");
	}

	private scheduleAlarm(at: number): void {
		const current = this.deps.alarm.getAlarm();
		if (current === null || current > at) this.deps.alarm.setAlarm(at);
	}
}
