import { loadConfig } from "../../config";
import type { Env } from "../../env";
import type { Caller, GatewayPort, RoomPush } from "../../gateway/push";
import { gatewayName } from "../../gateway/shard";
import { gatewayStub } from "../../gateway/stub";
import { uuidv7 } from "../../ids";
import { encodeError } from "../../protocol/codec";
import { CLOSE_NOT_READING, CLOSE_REMOVED, CLOSE_TOKEN_EXPIRED, PROTOCOL_LABEL } from "../../protocol/frames";
import { GatewayFeed } from "../../room/gateway-feed";
import { Membership, type RoomMeta } from "../../room/membership";
import { type HistoryRange, MessageLog } from "../../room/message-log";
import { Outbox, workerdScheduler } from "../../room/outbox";
import { ConnState, type Peer, RoomCore, type SendInput } from "../../room/room-core";
import { RoomInbox } from "../../room/room-inbox";
import { SocketBudget } from "../../room/socket-budget";
import { IDENTITY_HEADER, MEMBERS_ONLY_HEADER } from "../../room/stub";
import type { MessageT } from "../../schemas/message";
import { openDirectory } from "../../storage";
import type { AlarmSlot } from "./alarms";
import type { GroupCommit } from "./group-commit";
import { HostedSocket } from "./hosted-socket";
import type { SqliteFile } from "./sqlite-file";
import { upgrade } from "./upgrade";

const MEMBER_PAGE = 200;
const json = (status: number, code: string, message: string) => Response.json({ error: { code, message } }, { status });

/** What the routes and the gateways call on a room (RoomObject's RPC methods), plus the upgrade. */
export const ROOM_METHODS = [
	"send",
	"created",
	"memberAdded",
	"memberRemoved",
	"summary",
	"subscribe",
	"unsubscribe",
	"range",
	"sendAs",
	"markRead",
	"history",
	"disconnectUser",
	"alarm",
] as const;

export interface HostDeps {
	env: Env;
	file: SqliteFile;
	alarm: AlarmSlot;
	group: GroupCommit;
}

/**
 * One room in this process: the same RoomCore, MessageLog, Membership, GatewayFeed and RoomInbox
 * as src/room/room-object.ts, with its SQLite in a file of its own and its sockets from Deno.
 * Mirrors RoomObject method for method; nothing here decides room behaviour.
 */
export class RoomHost {
	private readonly core: RoomCore;
	private readonly membership: Membership;
	private readonly feed: GatewayFeed;
	private readonly inbox: RoomInbox;
	private readonly gateways = new Map<string, GatewayPort>();
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
		const config = loadConfig(deps.env);
		this.budget = new SocketBudget<HostedSocket>(config.maxUnreadBytes, (s) => s.heartbeatAt);
		const sql = deps.file.sql;
		const log = new MessageLog(sql);
		this.membership = new Membership(sql);
		this.feed = new GatewayFeed({
			sql,
			log,
			membership: this.membership,
			roomId,
			gatewayOf: (clientId, userId) => gatewayName(clientId, userId, config.gatewayShards),
			push: (gateway, push) => this.pushTo(gateway, push),
			now: Date.now,
			soon: (flush) => setTimeout(flush, 0),
			wakeAt: (at) => this.scheduleAlarm(at),
		});
		this.core = new RoomCore({
			log,
			outbox: new Outbox(workerdScheduler),
			limits: config,
			now: Date.now,
			newId: uuidv7,
			appended: (message) => this.feed.appended(message.seq),
		});
		this.inbox = new RoomInbox(roomId, this.core, log, this.membership, this.feed);
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
		await this.ensureMembers(identity.data.clientId);
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
			message: (data) => this.message(hosted, data),
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

	private message(hosted: HostedSocket, message: string | ArrayBuffer): void {
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

	/** Closes sockets whose JWT expired (4001), retries pushes to gateways that failed, then waits for the next of either. */
	alarm(): void {
		this.feed.retryDue();
		const now = Date.now();
		let next = Number.POSITIVE_INFINITY;
		for (const [hosted, peer] of this.peers) {
			const exp = peer.state.exp;
			if (exp === 0) continue;
			if (exp * 1000 <= now) this.close(hosted, CLOSE_TOKEN_EXPIRED, "token expired");
			else next = Math.min(next, exp * 1000);
		}
		const retry = this.feed.nextRetryAt();
		if (retry !== null) next = Math.min(next, Math.max(retry, now + 100));
		if (Number.isFinite(next)) this.deps.alarm.setAlarm(next);
	}

	async send(input: SendInput & { clientId: string }) {
		await this.ensureMembers(input.clientId);
		const { clientId: _, ...send } = input;
		return this.core.sendFromRest(send);
	}

	created(meta: RoomMeta, memberIds: string[]): void {
		this.inbox.initialize(meta, memberIds);
	}

	async memberAdded(meta: RoomMeta, userId: string): Promise<void> {
		await this.ensureMembers(meta.clientId, meta);
		this.inbox.memberAdded(userId);
	}

	async memberRemoved(meta: RoomMeta, userId: string): Promise<void> {
		await this.ensureMembers(meta.clientId, meta);
		this.inbox.memberRemoved(userId);
		if (meta.private) this.disconnectUser(userId);
	}

	async summary(caller: Caller) {
		await this.ensureMembers(caller.clientId);
		const access = this.membership.access(caller.clientId, caller.userId);
		return access.ok ? { ok: true as const, ...this.inbox.summary(caller.userId) } : access;
	}

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
	async sendAs(caller: Caller, text: string, clientMsgId?: string) {
		await this.ensureMembers(caller.clientId);
		return this.inbox.sendAs(caller, text, clientMsgId);
	}
	async markRead(caller: Caller, seq: number) {
		await this.ensureMembers(caller.clientId);
		return this.inbox.markRead(caller, seq);
	}

	history(range: HistoryRange): MessageT[] {
		return this.core.history(range);
	}

	disconnectUser(userId: string): void {
		for (const handshake of this.handshakes) if (handshake.userId === userId) handshake.removed = true;
		for (const hosted of this.sockets(userId)) this.close(hosted, CLOSE_REMOVED, "removed from room");
	}

	/** Loads the member list once (what blockConcurrencyWhile does on workerd): concurrent callers wait for the same load. */
	private ensureMembers(clientId: string, known?: RoomMeta): Promise<void> {
		if (this.membership.isSynced()) return Promise.resolve();
		this.syncing ??= this.loadMembers(clientId, known).finally(() => {
			this.syncing = undefined;
		});
		return this.syncing;
	}

	private async loadMembers(clientId: string, known?: RoomMeta): Promise<void> {
		if (this.membership.isSynced()) return;
		const directory = openDirectory(this.env);
		let meta = known;
		if (!meta) {
			const room = await directory.getRoom(clientId, this.roomId);
			if (!room) return;
			meta = { clientId, private: room.private };
		}
		const memberIds: string[] = [];
		let after: string | undefined;
		for (;;) {
			const page = await directory.listMembers(meta.clientId, this.roomId, { after, limit: MEMBER_PAGE });
			memberIds.push(...page.map((m) => m.userId));
			if (page.length < MEMBER_PAGE) break;
			after = page[page.length - 1]?.userId;
		}
		if (!this.membership.isSynced()) this.inbox.initialize(meta, memberIds);
	}

	private async pushTo(gateway: string, push: RoomPush): Promise<void> {
		let stub = this.gateways.get(gateway);
		if (!stub) {
			stub = gatewayStub(this.env, gateway) as unknown as GatewayPort;
			this.gateways.set(gateway, stub);
		}
		await stub.deliver(push);
	}

	private scheduleAlarm(at: number): void {
		const current = this.deps.alarm.getAlarm();
		if (current === null || current > at) this.deps.alarm.setAlarm(at);
	}
}
