import type { Config } from "../config";
import type { Caller, DeliverReply, GatewayPort, QueuedSend, RoomChange, RoomPush } from "../gateway/push";
import { gatewayName } from "../gateway/shard";
import type { MessageT } from "../schemas/message";
import type { Directory } from "../storage";
import type { Standing } from "../storage/directory";
import type { RestrictionKind, Role } from "../storage/schema";
import type { RoomWebhookFeed } from "../webhooks/room-feed";
import { GatewayFeed } from "./gateway-feed";
import { Membership, type RoomMeta } from "./membership";
import type { HistoryRange, RoomEvent, SyncSql } from "./message-log";
import { MessageLog } from "./message-log";
import { RoomModeration, type UserStanding } from "./moderation";
import { Outbox, type Scheduler } from "./outbox";
import { RoomCore, type SendInput, type SendResult } from "./room-core";
import { RoomInbox } from "./room-inbox";

/** Members read from the directory per page when a room loads its member list. */
const MEMBER_PAGE = 200;

export interface RoomServiceDeps {
	roomId: string;
	sql: SyncSql;
	config: Config;
	directory: () => Directory;
	/** The gateway object of that name (an RPC stub on workerd, an in-process object on Deno). */
	gateway: (name: string) => GatewayPort;
	scheduler: Scheduler;
	newId: () => string;
	/** Makes the runtime call `alarm()` no later than `at` (an alarm that survives restarts). */
	wakeAt: (at: number) => void;
	/** Runs `load` with nothing else of this room running meanwhile (blockConcurrencyWhile on workerd). */
	exclusive: (load: () => Promise<void>) => Promise<void>;
	/** Closes the user's room sockets (4003): they were removed from this private room, or banned. */
	disconnectUser: (userId: string) => void;
	/** message.new webhooks, where the runtime has a dispatcher. */
	webhooks?: (core: RoomCore) => RoomWebhookFeed;
}

/**
 * One room's behaviour behind its RPC methods, the same on every runtime: the log, members and
 * read positions, the user-socket feed, the conversation changes, webhooks. A runtime wraps it
 * with what only it has (sockets, alarms, storage): src/runtimes/cloudflare/room-object.ts (workerd) and
 * src/runtimes/deno/room-host.ts. Every method here is an RPC the Worker or a gateway calls.
 */
export class RoomService {
	readonly core: RoomCore;
	readonly log: MessageLog;
	readonly membership: Membership;
	readonly feed: GatewayFeed;
	readonly inbox: RoomInbox;
	readonly moderation: RoomModeration;
	private readonly webhookFeed?: RoomWebhookFeed;
	/** One port per gateway: calls through one stub arrive in order; a stub that threw is replaced. */
	private readonly gateways = new Map<string, GatewayPort>();
	private memberSyncs: Promise<unknown> = Promise.resolve();

	constructor(private readonly deps: RoomServiceDeps) {
		const { roomId, sql, config, scheduler } = deps;
		this.log = new MessageLog(sql);
		this.membership = new Membership(sql);
		this.moderation = new RoomModeration(sql, scheduler.now);
		this.feed = new GatewayFeed({
			sql,
			log: this.log,
			membership: this.membership,
			roomId,
			gatewayOf: (clientId, userId) => gatewayName(clientId, userId, config.gatewayShards),
			push: (gateway, push) => this.pushTo(gateway, push),
			signal: (gateway, event, data) => this.gatewayOf(gateway).signal(roomId, event, data),
			now: scheduler.now,
			soon: (flush) => scheduler.after(0, flush),
			after: (ms, run) => scheduler.after(ms, run),
			inboxDebounceMs: config.inboxDebounceMs,
			wakeAt: deps.wakeAt,
			online: { ids: () => this.core.onlineForPush(), version: () => this.core.onlineVersion() },
		});
		this.core = new RoomCore({
			log: this.log,
			sql,
			outbox: new Outbox(scheduler),
			limits: config,
			now: scheduler.now,
			newId: deps.newId,
			roomId,
			appended: (event) => {
				this.feed.appended(event.seq);
				this.webhookFeed?.poke();
			},
			after: (ms, run) => scheduler.after(ms, run),
			signal: (event, data, toMembers) => this.feed.signal(event, data as { room_id: string }, toMembers),
			gatewayJoins: this.feed.joins,
			memberCount: () => this.membership.list().size,
			moderation: {
				sendRefusal: (userId, byBackend) => this.moderation.sendRefusal(userId, (id) => this.log.lastSentAt(id), byBackend),
				moderates: (userId) => this.moderation.moderates(userId),
			},
		});
		this.inbox = new RoomInbox(roomId, this.core, this.log, this.membership, this.feed, this.moderation, config.receiptMaxMembers);
		this.webhookFeed = deps.webhooks?.(this.core);
		// Once the runtime re-attached the sockets it kept: who was online and has gone goes offline after the grace.
		scheduler.after(0, () => this.core.presence.restore());
	}

	/** The room's share of the alarm: push retries and webhooks; when it wants to run again (or null). */
	async alarm(): Promise<number | null> {
		this.feed.retryDue();
		const now = this.deps.scheduler.now();
		let next = Number.POSITIVE_INFINITY;
		const retry = this.feed.nextRetryAt();
		if (retry !== null) next = Math.max(retry, now + 1_000);
		if (this.webhookFeed) {
			await this.webhookFeed.run();
			next = Math.min(next, this.webhookFeed.wantsAlarmAt() ?? Number.POSITIVE_INFINITY);
		}
		return Number.isFinite(next) ? next : null;
	}

	/** The client the runtime's handshake or REST send verified (the Worker checked the room is its). */
	verified(clientId: string): void {
		this.webhookFeed?.bind(clientId);
	}

	/** A REST send. */
	async send(input: SendInput & { clientId: string }): Promise<SendResult> {
		this.verified(input.clientId);
		await this.ensureMembers(input.clientId);
		const { clientId: _, ...send } = input;
		return this.core.sendFromRest(send);
	}

	/** The room was created with these members (and its creator, a user, owns it). */
	created(meta: RoomMeta, memberIds: string[], ownerId?: string): void {
		this.inbox.initialize(meta, memberIds);
		this.moderation.initialize(ownerId === undefined ? [] : [{ userId: ownerId, role: "owner" }], 0);
		this.bindWebhooks();
	}

	/** After the directory recorded the membership. */
	memberAdded(meta: RoomMeta, userId: string): Promise<void> {
		return this.syncMember(meta, userId);
	}

	/** After the directory removed the membership. */
	memberRemoved(meta: RoomMeta, userId: string): Promise<void> {
		return this.syncMember(meta, userId);
	}

	/** After the directory changed the user's role, ban or mute here: a ban closes their sockets in this room. */
	standingChanged(meta: RoomMeta, userId: string): Promise<void> {
		return this.syncMember(meta, userId);
	}

	/** After the directory changed the room's settings (slow mode). */
	async settingsChanged(meta: RoomMeta): Promise<void> {
		await this.ensureMembers(meta.clientId, meta);
		const room = await this.deps.directory().getRoom(meta.clientId, this.deps.roomId);
		if (room) this.moderation.setCooldown(room.cooldownSeconds);
	}

	/** The user's place in this room (REST unread counts). */
	async summary(caller: Caller) {
		await this.ensureMembers(caller.clientId);
		const refused = this.inbox.refusal(caller);
		return refused ?? { ok: true as const, ...this.inbox.summary(caller.userId) };
	}

	async subscribe(caller: Caller, gateway: string) {
		await this.ensureMembers(caller.clientId);
		return this.inbox.subscribe(caller, gateway);
	}
	unsubscribe(gateway: string, userId?: string): void {
		this.inbox.unsubscribe(gateway, userId);
	}
	async range(caller: Caller, afterSeq: number, limit: number) {
		await this.ensureMembers(caller.clientId);
		return this.inbox.range(caller, afterSeq, limit);
	}
	/** The sends a gateway gathered for this room (see GatewayCore.sendTo): stored in order, in one event (one commit). */
	async sendMany(sends: QueuedSend[]) {
		for (const clientId of new Set(sends.map((s) => s.caller.clientId))) await this.ensureMembers(clientId);
		return sends.map((s) => this.inbox.sendAs(s.caller, s.text, s.options));
	}
	/** An edit, delete or reaction by a user: from a gateway (its frames are rate-limited there), or from REST (`fromRest`). */
	async change(caller: Caller, change: RoomChange, fromRest = false) {
		await this.ensureMembers(caller.clientId);
		return this.inbox.change(caller, change, fromRest);
	}
	async typing(caller: Caller) {
		await this.ensureMembers(caller.clientId);
		this.inbox.typing(caller);
	}
	async markRead(caller: Caller, seq: number) {
		await this.ensureMembers(caller.clientId);
		return this.inbox.markRead(caller, seq);
	}

	/** A gateway has a socket of the caller again: their room-list state, and it flows again. */
	async wake(caller: Caller, gateway: string, token: number): Promise<RoomPush> {
		await this.ensureMembers(caller.clientId);
		const meta = this.membership.meta();
		const own =
			meta?.clientId === caller.clientId && gateway === gatewayName(caller.clientId, caller.userId, this.deps.config.gatewayShards);
		if (!meta || !own) {
			// Not this client's room (or not the user's gateway): it leaves that list.
			return { room_id: this.deps.roomId, last_seq: 0, events: [], latest: null, inbox: [], removed: [], left: [caller.userId] };
		}
		return this.feed.wake(gateway, caller.userId, token, meta.private);
	}

	/** The client's backend deletes any message (the route checked the room is the client's). */
	async deleteAsBackend(clientId: string, messageId: string) {
		await this.ensureMembers(clientId);
		return this.core.remove({ userId: null, messageId });
	}

	/** Every version of a message, or null when there is no such message. */
	versions(messageId: string) {
		return this.log.versions(messageId);
	}

	/** Replies to a message, or null when there is no such message. */
	replies(messageId: string, afterSeq: number, limit: number) {
		if (!this.log.byId(messageId)) return null;
		return this.log.replies(messageId, afterSeq, limit);
	}

	/** Who is online and when each was last active (readers of the room; the route checked access). */
	async presence(clientId: string) {
		await this.ensureMembers(clientId);
		return this.inbox.presence();
	}

	/** Each member's read position. */
	async reads(clientId: string) {
		await this.ensureMembers(clientId);
		return this.inbox.reads();
	}

	history(range: HistoryRange): MessageT[] {
		return this.core.history(range);
	}

	/** The room's stored events after `afterSeq` (GET /room/{room_id}/events). */
	events(afterSeq: number, limit: number): RoomEvent[] {
		return this.core.events(afterSeq, limit);
	}

	/** One stored message by id (reports), or null. */
	message(id: string): MessageT | null {
		return this.log.byId(id);
	}

	/**
	 * A room created before it kept its own member list (or that missed the creation call) loads it
	 * once from the directory, with nothing else of the room running meanwhile, so a membership
	 * change cannot interleave. A directory failure fails this call only.
	 */
	async ensureMembers(clientId: string, known?: RoomMeta): Promise<void> {
		if (!this.membership.isSynced() || !this.moderation.isSynced()) {
			let failure: unknown;
			await this.deps.exclusive(async () => {
				if (this.membership.isSynced() && this.moderation.isSynced()) return;
				try {
					await this.loadMembers(clientId, known);
				} catch (error) {
					failure = error;
				}
			});
			if (failure !== undefined) throw failure;
		}
		this.bindWebhooks();
	}

	/**
	 * Brings the room's copy of one membership in line with the directory, whatever the order in
	 * which add and remove calls arrive: each reads the directory afresh, one after the other, so
	 * the last to run applies the latest state. A retry of a failed call repairs a lost one.
	 */
	private syncMember(meta: RoomMeta, userId: string): Promise<void> {
		const run = async () => {
			await this.ensureMembers(meta.clientId, meta);
			const standing = await this.deps.directory().standing(meta.clientId, this.deps.roomId, userId);
			this.moderation.apply(standingOf(userId, standing));
			const banned = this.moderation.banned(userId);
			if (standing?.membership && !banned) this.inbox.memberAdded(userId);
			else {
				this.inbox.memberRemoved(userId, banned);
				if (meta.private || banned) this.deps.disconnectUser(userId);
			}
		};
		const next = this.memberSyncs.then(run, run);
		this.memberSyncs = next.catch(() => undefined);
		return next;
	}

	/** webhooks: the room's owner, once the directory confirmed it (the room's meta). */
	private bindWebhooks(): void {
		const meta = this.membership.meta();
		if (meta) this.webhookFeed?.bind(meta.clientId);
	}

	/** The member list and the moderation state, from the directory (a room that never heard, or older than them). */
	private async loadMembers(clientId: string, known?: RoomMeta): Promise<void> {
		const directory = this.deps.directory();
		const { roomId } = this.deps;
		const room = await directory.getRoom(clientId, roomId);
		if (!room) return;
		const meta = known ?? { clientId, private: room.private };
		const standings = new Map<string, UserStanding>();
		const standingOfUser = (userId: string) => {
			const standing = standings.get(userId) ?? { userId, role: null };
			standings.set(userId, standing);
			return standing;
		};
		const memberIds: string[] = [];
		await pages(
			(after) => directory.listMembers(meta.clientId, roomId, { after, limit: MEMBER_PAGE }),
			(m) => {
				memberIds.push(m.userId);
				standingOfUser(m.userId).role = m.role;
			},
		);
		const now = this.deps.scheduler.now();
		for (const kind of ["ban", "mute"] as RestrictionKind[]) {
			await pages(
				(after) => directory.listRestrictions(meta.clientId, roomId, kind, now, { after, limit: MEMBER_PAGE }),
				(r) => {
					standingOfUser(r.userId)[kind] = r.expiresAt;
				},
			);
		}
		if (!this.membership.isSynced()) this.inbox.initialize(meta, memberIds);
		this.moderation.initialize([...standings.values()], room.cooldownSeconds);
	}

	private gatewayOf(gateway: string): GatewayPort {
		let port = this.gateways.get(gateway);
		if (!port) {
			port = this.deps.gateway(gateway);
			this.gateways.set(gateway, port);
		}
		return port;
	}

	private async pushTo(gateway: string, push: RoomPush): Promise<DeliverReply | undefined> {
		try {
			return await this.gatewayOf(gateway).deliver(push);
		} catch (error) {
			this.gateways.delete(gateway);
			throw error;
		}
	}
}

/** Every row of a paged directory list, page by page. */
async function pages<T extends { userId: string }>(read: (after?: string) => Promise<T[]>, each: (row: T) => void): Promise<void> {
	let after: string | undefined;
	for (;;) {
		const page = await read(after);
		for (const row of page) each(row);
		if (page.length < MEMBER_PAGE) return;
		after = page[page.length - 1]?.userId;
	}
}

/** The room's view of what the directory holds for one user. */
function standingOf(userId: string, standing: Standing | null): UserStanding {
	const role: Role | null = standing?.membership?.role ?? null;
	return {
		userId,
		role,
		ban: standing?.ban ? standing.ban.expiresAt : undefined,
		mute: standing?.mute ? standing.mute.expiresAt : undefined,
	};
}
