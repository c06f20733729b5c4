// Rooms and gateways without a runtime: the real RoomCore, feed, inbox and GatewayCore on real
// SQLite (node:sqlite), wired by a hand-driven network that can drop, hold and replay pushes.
import { DatabaseSync } from "node:sqlite";
import { GatewayCore, type GatewayPeer, type GatewaySocketState } from "../../src/gateway/gateway-core";
import { GatewayStore } from "../../src/gateway/gateway-store";
import type { RoomPort, RoomPush } from "../../src/gateway/push";
import { gatewayName } from "../../src/gateway/shard";
import { splitFrame } from "../../src/protocol/codec";
import { GatewayFeed } from "../../src/room/gateway-feed";
import { Membership } from "../../src/room/membership";
import { MessageLog } from "../../src/room/message-log";
import { RoomModeration } from "../../src/room/moderation";
import { Outbox } from "../../src/room/outbox";
import { RoomCore } from "../../src/room/room-core";
import { RoomInbox } from "../../src/room/room-inbox";
import { LIMITS, sqlOf, T0 } from "./room-support";

export const CLIENT = "client-1";
export const SHARDS = 4;

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary events and assert on them exactly
export type Event = { event: string; id?: string | number; data?: any };

export class FakeGatewayPeer implements GatewayPeer {
	readonly frames: string[] = [];
	constructor(readonly state: GatewaySocketState) {}
	write(frame: string): void {
		this.frames.push(frame);
	}
	take(): Event[] {
		return this.frames.splice(0).flatMap(splitFrame) as Event[];
	}
}

export interface TestRoom {
	id: string;
	db: DatabaseSync;
	log: MessageLog;
	membership: Membership;
	feed: GatewayFeed;
	inbox: RoomInbox;
	core: RoomCore;
}

/** What the network does with the next pushes: deliver, fail (lost), or fail now and deliver later (a lost reply). */
export type Fault = "drop" | "late";

export function makeWorld(options: { maxMessages?: number; inboxDebounceMs?: number } = {}) {
	const clock = { now: T0 };
	const tasks: Array<() => void> = [];
	/** The gateway stores' lazy timers (cursors, removals): run by settle() unless held (a crash before they fire). */
	const lazyTimers: Array<{ gateway: string; run: () => void }> = [];
	/** The gateways' scheduler timers of more than 0 ms (wake retries): run by settle() once the clock reaches them. */
	const timers: Array<{ gateway: string; at: number; run: () => void }> = [];
	const lazy = { hold: false };
	/** How many times a gateway asked its scheduler for a turn (its sends to rooms wait for one). */
	const turns = { count: 0 };
	const faults: Fault[] = [];
	const late: Array<{ gateway: string; push: RoomPush }> = [];
	const rooms = new Map<string, TestRoom>();
	const gateways = new Map<string, { core: GatewayCore; db: DatabaseSync }>();
	let ids = 0;
	let sockets = 0;
	/** Every push that reached a gateway, and every wake a gateway asked for. */
	const pushes: Array<{ gateway: string; push: RoomPush }> = [];
	const wakes: Array<{ roomId: string; userId: string }> = [];
	/** `fail`: how many of the next wakes fail (the call is lost before the room); `inFlight`/`most`: wakes unanswered now and at most. */
	const wakeFault = { fail: 0, inFlight: 0, most: 0 };
	/** The sockets attached to each gateway (a restart that keeps them attaches them again). */
	const attached = new Map<string, Set<FakeGatewayPeer>>();
	/** The size of each batch a gateway sent with sendMany. */
	const sendManyCalls: number[] = [];
	/** While set, the next sendMany throws before returning a promise (a stub that fails at once). */
	const sendFault = { throwNow: false };
	const outboxOf = () => new Outbox((flush) => tasks.push(flush));
	/** A gateway's own queued work (its outbox's and its store's flushes): lost with it in a restart. */
	const owned = new WeakMap<() => void, string>();
	const ownTask = (gateway: string) => (run: () => void) => {
		const task = () => run();
		owned.set(task, gateway);
		tasks.push(task);
	};
	/** Pushes a gateway is handling now: a restart fails them, as a call to a reset object fails. */
	const handling = new Set<{ gateway: string; fail: (error: Error) => void }>();

	const gatewayOf = (name: string) => {
		let gateway = gateways.get(name);
		if (!gateway) {
			const db = new DatabaseSync(":memory:");
			gateway = { db, core: newGatewayCore(name, db) };
			gateways.set(name, gateway);
		}
		return gateway;
	};
	/** While set, a room's `range` reads at once but answers only once it resolves (holds a join's catch-up open). */
	const hold: { range?: Promise<void> } = {};
	const portOf = (roomId: string): RoomPort => {
		const found = () => {
			const made = rooms.get(roomId);
			if (!made) throw new Error(`no room ${roomId}`);
			return made;
		};
		const room = () => found().inbox;
		return {
			subscribe: async (caller, gateway) => room().subscribe(caller, gateway),
			unsubscribe: async (gateway, userId) => room().unsubscribe(gateway, userId),
			range: async (caller, after, limit) => {
				// Read now, answer later: what is stored meanwhile is not in this answer.
				const answer = room().range(caller, after, limit);
				if (hold.range) await hold.range;
				return answer;
			},
			sendMany: (sends) => {
				if (sendFault.throwNow) {
					sendFault.throwNow = false;
					throw new Error("stub failed");
				}
				sendManyCalls.push(sends.length);
				return Promise.resolve(sends.map((s) => room().sendAs(s.caller, s.text, s.options)));
			},
			change: async (caller, change) => room().change(caller, change),
			typing: async (caller) => room().typing(caller),
			markRead: async (caller, seq) => room().markRead(caller, seq),
			wake: async (caller, gateway, token) => {
				wakes.push({ roomId, userId: caller.userId });
				wakeFault.inFlight++;
				wakeFault.most = Math.max(wakeFault.most, wakeFault.inFlight);
				// Answered a turn later, so wakes asked together are in flight together.
				await null;
				wakeFault.inFlight--;
				if (wakeFault.fail > 0) {
					wakeFault.fail--;
					throw new Error("wake lost");
				}
				const made = found();
				return made.feed.wake(gateway, caller.userId, token, made.membership.meta()?.private ?? false);
			},
		};
	};
	const newGatewayCore = (name: string, db: DatabaseSync) =>
		new GatewayCore({
			name,
			// Grouped writes, as the object runs them: flushed by the hand-driven timer.
			store: new GatewayStore(sqlOf(db), ownTask(name), (_ms, flush) => lazyTimers.push({ gateway: name, run: flush })),
			rooms: portOf,
			outbox: new Outbox(ownTask(name)),
			// A real 0 ms timer, as on workerd: after every frame handed to the gateway before it. Longer
			// ones (wake retries) wait for the hand-driven clock.
			scheduler: {
				now: () => clock.now,
				after: (ms, run) => {
					if (ms > 0) {
						timers.push({ gateway: name, at: clock.now + ms, run });
						return;
					}
					turns.count++;
					setTimeout(run, 0);
				},
			},
			limits: { ...LIMITS, wsRatePerSecond: 10_000, wsRateBurst: 10_000, maxRoomsPerSocket: 500, readyMaxRooms: 200 },
			now: () => clock.now,
			roomExists: async (_clientId, roomId) => rooms.has(roomId),
		});

	const push = async (gateway: string, message: RoomPush) => {
		const fault = faults.shift();
		if (fault === "drop") throw new Error("push lost");
		if (fault === "late") {
			late.push({ gateway, push: structuredClone(message) });
			throw new Error("reply lost");
		}
		pushes.push({ gateway, push: structuredClone(message) });
		return new Promise<Awaited<ReturnType<GatewayCore["deliver"]>>>((resolve, reject) => {
			const entry = { gateway, fail: reject };
			handling.add(entry);
			gatewayOf(gateway)
				.core.deliver(structuredClone(message))
				.then(resolve, reject)
				.finally(() => handling.delete(entry));
		});
	};

	const room = (id: string, members: string[], isPrivate = false): TestRoom => {
		const db = new DatabaseSync(":memory:");
		const sql = sqlOf(db);
		const log = new MessageLog(sql);
		const membership = new Membership(sql);
		const feed = new GatewayFeed({
			sql,
			log,
			membership,
			roomId: id,
			gatewayOf: (clientId, userId) => gatewayName(clientId, userId, SHARDS),
			push,
			signal: async (gateway, event, data) => gatewayOf(gateway).core.signal(id, event, structuredClone(data)),
			online: { ids: () => core.onlineForPush(), version: () => core.onlineVersion() },
			now: () => clock.now,
			soon: (flush) => tasks.push(flush),
			wakeAt: () => undefined,
			// The hand-driven clock does not move while settling: no debounce here (it has its own test).
			inboxDebounceMs: options.inboxDebounceMs ?? 0,
			maxMessages: options.maxMessages,
		});
		const core: RoomCore = new RoomCore({
			log,
			sql,
			signal: (event, data, toMembers) => feed.signal(event, data as { room_id: string }, toMembers),
			gatewayJoins: feed.joins,
			memberCount: () => membership.list().size,
			outbox: outboxOf(),
			limits: LIMITS,
			now: () => clock.now,
			newId: () => `0190b000-0000-7000-8000-${String(++ids).padStart(12, "0")}`,
			roomId: id,
			appended: (event) => feed.appended(event.seq),
		});
		const inbox = new RoomInbox(id, core, log, membership, feed, new RoomModeration(sql, () => clock.now));
		inbox.initialize({ clientId: CLIENT, private: isPrivate }, members);
		const made = { id, db, log, membership, feed, inbox, core };
		rooms.set(id, made);
		return made;
	};

	/** Opens a user socket: attached to the user's gateway, `ready` sent. */
	const connect = (userId: string) => {
		const name = gatewayName(CLIENT, userId, SHARDS);
		const peer = new FakeGatewayPeer({ socketId: `socket-${++sockets}`, userId, clientId: CLIENT, exp: 0 });
		const { core } = gatewayOf(name);
		core.attach(peer);
		let here = attached.get(name);
		if (!here) {
			here = new Set();
			attached.set(name, here);
		}
		here.add(peer);
		void core.ready(peer);
		return { peer, core, name };
	};

	/** Runs timers and microtasks until nothing is left to do (pushes, retries after the clock moves, flushes). */
	const settle = async () => {
		for (let round = 0; round < 1000; round++) {
			await new Promise((r) => setImmediate(r));
			if (!lazy.hold) tasks.push(...lazyTimers.splice(0).map((t) => t.run));
			for (const t of timers.splice(0)) {
				if (t.at <= clock.now) tasks.push(t.run);
				else timers.push(t);
			}
			if (tasks.length === 0) {
				await new Promise((r) => setImmediate(r));
				if (tasks.length === 0) return;
			}
			for (const run of tasks.splice(0)) run();
		}
		throw new Error("did not settle");
	};

	/** One round of queued work and the microtasks it starts (finer than settle()). */
	const step = async () => {
		await new Promise((r) => setImmediate(r));
		for (const run of tasks.splice(0)) run();
		await new Promise((r) => setImmediate(r));
	};

	/** Lets failed pushes come due and retries them (what the room's alarm does). */
	const retryAll = async () => {
		clock.now += 120_000;
		for (const r of rooms.values()) r.feed.retryDue();
		await settle();
	};

	/** Delivers pushes whose reply was lost, now (they arrive after newer ones), in the order they were sent. */
	const deliverLate = async () => {
		// Started together, in order: a push's answer waits for the gateway's flush, which settle() runs.
		const landed = late.splice(0).map(({ gateway, push: message }) =>
			gatewayOf(gateway)
				.core.deliver(message)
				.catch(() => undefined),
		);
		await settle();
		await Promise.all(landed);
		await settle();
	};

	/** Moves the clock on and runs what comes due (the gateways' longer timers). */
	const advance = async (ms: number) => {
		clock.now += ms;
		await settle();
	};

	/**
	 * Replaces a gateway's in-memory state with a fresh object on the same storage (eviction,
	 * restart); its timers die with it (lazy writes held are lost). Its sockets close, or with
	 * `keepSockets` stay open and are attached to the new object with their attachments, as
	 * hibernatable sockets survive a restart on workerd (no `ready`: the socket is not new).
	 */
	const restartGateway = (name: string, options: { keepSockets?: boolean } = {}) => {
		const gateway = gatewayOf(name);
		const alive = (list: Array<{ gateway: string }>) => list.filter((t) => t.gateway !== name);
		lazyTimers.splice(0, lazyTimers.length, ...alive(lazyTimers));
		timers.splice(0, timers.length, ...alive(timers));
		// A call in flight to the old object fails with it (its room already counts it failed, and retries).
		late.splice(0, late.length, ...alive(late));
		for (const entry of handling) {
			if (entry.gateway !== name) continue;
			handling.delete(entry);
			entry.fail(new Error("gateway reset"));
		}
		// What it had queued (frames not yet written, grouped writes) is gone with it.
		tasks.splice(0, tasks.length, ...tasks.filter((task) => owned.get(task) !== name));
		gateway.core = newGatewayCore(name, gateway.db);
		const kept = options.keepSockets ? [...(attached.get(name) ?? [])] : [];
		if (!options.keepSockets) attached.delete(name);
		for (const peer of kept) gateway.core.attach(peer);
		gateway.core.prune(new Set(kept.map((peer) => peer.state.socketId)));
		gateways.set(name, gateway);
		return gateway.core;
	};

	/** What a recount from the room's log says the user's unread is. */
	const recount = (r: TestRoom, userId: string) => {
		const lastRead = r.membership.lastRead(userId);
		const row = r.db.prepare("SELECT COUNT(*) AS n FROM messages WHERE seq > ? AND user_id != ?").get(lastRead, userId) as { n: number };
		return Number(row.n);
	};

	/** Closes a user socket (the runtime's close handler). */
	const disconnect = (socket: { peer: FakeGatewayPeer; core: GatewayCore; name: string }) => {
		attached.get(socket.name)?.delete(socket.peer);
		gatewayOf(socket.name).core.detach(socket.peer);
	};

	return {
		clock,
		faults,
		hold,
		rooms,
		gateways,
		pushes,
		wakes,
		wakeFault,
		sendManyCalls,
		sendFault,
		turns,
		lazy,
		room,
		connect,
		disconnect,
		settle,
		step,
		retryAll,
		advance,
		deliverLate,
		restartGateway,
		recount,
		gatewayOf,
	};
}

export const frame = (event: string, data: unknown, id?: string | number) =>
	JSON.stringify(id === undefined ? { event, data } : { event, data, id });
