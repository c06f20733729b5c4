import { z } from "zod";
import { createGatewayDecoder, encodeAck, encodeError, encodeEvent, requestIdOf } from "../protocol/codec";
import { CLOSE_TOKEN_EXPIRED, type ProtocolErrorCodeT } from "../protocol/frames";
import type { GatewayFrameT } from "../protocol/gateway-frames";
import { retryDelay } from "../room/gateway-feed";
import type { Outbox, Scheduler, Sink } from "../room/outbox";
import { KeyedLimiter } from "../room/rate-limit";
import { encodeRoomEvent, type FrameOutcome, SLOW_MODE_TEXT } from "../room/room-core";
import type { MessageT } from "../schemas/message";
import type { GatewayStore, InboxRow } from "./gateway-store";
import type { Caller, DeliverReply, PushedEvent, QueuedSend, Refusal, RoomChange, RoomPort, RoomPush, RoomSendResult } from "./push";

/** Messages read per call while a socket catches up or a gap is filled. */
const PAGE = 500;
/** Sends to one room in one `sendMany` at most. */
const SEND_BATCH = 64;
/** Rooms a connection's `ready` wakes at once (docs/user-socket.md): the others wait for a free slot. */
export const WAKE_CONCURRENCY = 64;

/** A send waiting for the call in flight to its room, and how its caller learns the answer. */
type Waiting = { send: QueuedSend; done: (result: Promise<RoomSendResult>) => void };

/** A user socket's identity, verified by the Worker at the handshake; kept in the attachment. */
export const GatewaySocketState = z.object({
	socketId: z.string(),
	userId: z.string(),
	clientId: z.string(),
	/** JWT expiry in seconds since the epoch, or 0 for credentials that do not expire. */
	exp: z.number(),
});
export type GatewaySocketState = z.infer<typeof GatewaySocketState>;

export interface GatewayPeer extends Sink {
	readonly state: GatewaySocketState;
}

export interface GatewayLimits {
	maxMessageLength: number;
	maxFrameBytes: number;
	wsRatePerSecond: number;
	wsRateBurst: number;
	/** Rooms one socket may have joined at once. */
	maxRoomsPerSocket: number;
	/** Rooms listed in `ready`. */
	readyMaxRooms: number;
}

export interface GatewayDeps {
	/** This object's name: rooms push to it by name. */
	name: string;
	store: GatewayStore;
	rooms: (roomId: string) => RoomPort;
	outbox: Outbox;
	/** Runs a room's queued sends: a 0 ms timer runs after the frames already queued for the object. */
	scheduler: Scheduler;
	limits: GatewayLimits;
	now: () => number;
	/** Whether the client has this room (the directory): checked before a frame reaches a room object. */
	roomExists?: (clientId: string, roomId: string) => Promise<boolean>;
}

const REFUSALS: Record<Refusal["code"], string> = {
	not_found: "No such room",
	forbidden: "This room is private and you are not a member",
	rate_limited: "Too many messages, slow down",
	message_deleted: "This message was deleted",
	banned: "You are banned from this room",
	muted: "You are muted in this room",
	too_many_versions: "This message has been edited too many times",
};
/** Refusals of a change to a message (the room exists and the user may use it). */
const CHANGE_REFUSALS: Record<Refusal["code"], string> = {
	...REFUSALS,
	not_found: "No such message in this room",
	forbidden: "Only the author may change this message",
};

/**
 * The user socket's behaviour, free of any runtime: many rooms per socket, rooms' pushes turned
 * into `new_message` (joined sockets) or `inbox_update` (members' other sockets), read positions
 * synced across a user's sockets. Order per room and socket comes from `seq`: each socket has a
 * cursor per joined room, a push is applied from it, and a gap (a push lost or overtaken) is read
 * from the room before anything later goes out. Work for one room runs one at a time.
 */
export class GatewayCore {
	private readonly peers = new Map<string, GatewayPeer>();
	/** roomId -> socketId -> cursor (last seq sent to that socket in that room). */
	private readonly joined = new Map<string, Map<string, number>>();
	private readonly roomsOf = new Map<string, Set<string>>();
	private readonly socketsOf = new Map<string, Set<string>>();
	/** socketId -> its user (rooms count online users by them), also for subscriptions of sockets gone in a restart. */
	private readonly userOf = new Map<string, string>();
	private readonly chains = new Map<string, Promise<void>>();
	private readonly decode;
	private readonly limiter;
	/** Sockets whose `ready` waits for their rooms to wake: nothing else goes to them before it. */
	private readonly readying = new Map<string, Promise<void>>();
	/** Sends waiting for the call in flight to their room: they go together in the next one. */
	private readonly lanes = new Map<string, Waiting[]>();
	/** Wakes under way, per user. */
	private readonly waking = new Map<string, Promise<void>>();
	/** Users whose last wake left rooms unanswered: how many times in a row, and whether a retry is scheduled. */
	private readonly wakeRetries = new Map<string, { attempts: number; scheduled: boolean }>();
	/** Orders idle answers against wakes (see DeliverReply); grows with each wake. */
	private token: number;

	constructor(private readonly deps: GatewayDeps) {
		this.decode = createGatewayDecoder(deps.limits.maxMessageLength, deps.limits.maxFrameBytes);
		this.limiter = new KeyedLimiter<GatewayPeer>(deps.limits.wsRatePerSecond, deps.limits.wsRateBurst);
		this.token = deps.now();
		for (const sub of deps.store.subscriptions()) {
			this.track(sub.room_id, sub.socket_id, sub.cursor);
			if (sub.user_id !== "") this.userOf.set(sub.socket_id, sub.user_id);
		}
	}

	attach(peer: GatewayPeer): void {
		const { socketId, userId } = peer.state;
		this.peers.set(socketId, peer);
		this.userOf.set(socketId, userId);
		let mine = this.socketsOf.get(userId);
		if (!mine) {
			mine = new Set();
			this.socketsOf.set(userId, mine);
		}
		mine.add(socketId);
	}

	/** A socket closed: its subscriptions go, and a room none of our sockets follows stops pushing to us (unless members are here). */
	detach(peer: GatewayPeer): void {
		const { socketId, userId } = peer.state;
		if (this.peers.get(socketId) !== peer) return;
		this.peers.delete(socketId);
		this.socketsOf.get(userId)?.delete(socketId);
		if (this.socketsOf.get(userId)?.size === 0) this.socketsOf.delete(userId);
		this.limiter.forget(peer);
		this.deps.outbox.forget(peer);
		this.forgetSocket(socketId);
	}

	/** After a restart: subscriptions of sockets that are gone are dropped. */
	prune(liveSocketIds: ReadonlySet<string>): void {
		for (const socketId of [...this.roomsOf.keys()]) if (!liveSocketIds.has(socketId)) this.forgetSocket(socketId);
	}

	/**
	 * The first frame of a connection: the user's rooms, those with news first, and the total
	 * unread. Rooms that stopped sending the user's state (they had no socket here) are woken first,
	 * so the counts are the rooms' own; frames the socket sends meanwhile wait for it.
	 */
	ready(peer: GatewayPeer): Promise<void> {
		const { socketId, userId, clientId } = peer.state;
		const run = this.wake({ clientId, userId })
			.then(() => {
				if (this.peers.get(socketId) === peer) this.sendReady(peer);
			})
			.finally(() => this.readying.delete(socketId));
		this.readying.set(socketId, run);
		return run;
	}

	private sendReady(peer: GatewayPeer): void {
		const { rooms, unreadTotal } = this.deps.store.inbox(peer.state.userId, this.deps.limits.readyMaxRooms);
		// Who is online, as each room last told this gateway (a room above its presence cap tells nothing).
		const online = this.deps.store.online(rooms.map((r) => r.room_id));
		this.deps.outbox.push(
			peer,
			encodeEvent("ready", {
				user_id: peer.state.userId,
				rooms: rooms.map((r) => {
					const entry = { room_id: r.room_id, last_seq: r.last_seq, last_read_seq: r.last_read_seq, unread: r.unread };
					const here = online.get(r.room_id);
					return here === undefined ? entry : { ...entry, online: here };
				}),
				unread_total: unreadTotal,
			}),
		);
	}

	joinedRooms(socketId: string): ReadonlySet<string> {
		return this.roomsOf.get(socketId) ?? new Set();
	}

	async handleFrame(peer: GatewayPeer, raw: string | ArrayBuffer): Promise<FrameOutcome> {
		const { state } = peer;
		const readying = this.readying.get(state.socketId);
		if (readying) await readying;
		const now = this.deps.now();
		if (state.exp !== 0 && now >= state.exp * 1000) return { close: { code: CLOSE_TOKEN_EXPIRED, reason: "token expired" } };
		if (!this.limiter.take(peer, now)) {
			this.error(peer, "rate_limited", "Too many frames, slow down", requestIdOf(raw, this.deps.limits.maxFrameBytes));
			return {};
		}
		const decoded = this.decode(raw);
		if (!decoded.ok) {
			this.error(peer, decoded.code, decoded.message, decoded.id);
			return {};
		}
		try {
			await this.dispatch(peer, decoded.frame);
			return {};
		} catch (failed) {
			this.error(peer, "internal_error", "The server could not handle this frame", decoded.frame.id);
			return { failed };
		}
	}

	/**
	 * A room's push: applied in `seq` order per socket, gaps read from the room first. Resolves once
	 * applied, naming the members in it with no socket here (the room then stops sending their state).
	 */
	async deliver(push: RoomPush): Promise<DeliverReply | undefined> {
		let idle: string[] = [];
		await this.onRoom(push.room_id, async () => {
			idle = await this.apply(push);
		});
		// Answered once stored and once its frames are handed to the sockets (at the outbox's next
		// flush, so frames of several pushes still share one): the room then stops owing it, and names
		// it in the next push's settled_through, so frames still queued when the object is cut off
		// (its sockets kept) would be skipped as settled, never sent.
		await Promise.all([this.deps.store.flushed(), this.deps.outbox.written()]);
		return idle.length > 0 ? { idle, token: this.token } : undefined;
	}

	/**
	 * A `send_message` to a room, in one `sendMany` (stored in one event, one commit) with every
	 * other send to that room that arrives before the scheduler's next 0 ms turn, or while that call
	 * is in flight. On workerd the timer runs after the frames already queued for the object, so it
	 * adds no wait, and sends from all of a gateway's sockets share one call instead of one each
	 * (BENCHMARKS.md, "One call for a gateway's sends"). Sends to a room keep the order their frames
	 * came in; another kind of frame to that room right behind a send in the same turn (an edit, a
	 * reaction, a read) may reach the room before it.
	 */
	private sendTo(roomId: string, send: QueuedSend): Promise<RoomSendResult> {
		return new Promise((resolve) => {
			const waiting = this.lanes.get(roomId);
			if (waiting) {
				waiting.push({ send, done: resolve });
				return;
			}
			const lane: Waiting[] = [{ send, done: resolve }];
			this.lanes.set(roomId, lane);
			const drain = async () => {
				while (lane.length > 0) {
					const batch = lane.splice(0, SEND_BATCH);
					// The room's port per batch (a runtime replaces one that failed); a call that throws at
					// once fails its batch like one that fails later.
					const results = new Promise<RoomSendResult[]>((answer) => answer(this.deps.rooms(roomId).sendMany(batch.map((b) => b.send))));
					for (const [i, b] of batch.entries()) b.done(results.then((all) => all[i] as RoomSendResult));
					await results.catch(() => undefined);
				}
				this.lanes.delete(roomId);
			};
			this.deps.scheduler.after(0, () => void drain());
		});
	}

	/** The user holds a room socket in a public room they are not a member of (a client-wide ban must find it). */
	visited(userId: string, roomId: string): void {
		this.deps.store.visit(userId, roomId);
	}

	/** Rooms where the user held a room socket without being a member. */
	visits(userId: string): string[] {
		return this.deps.store.visits(userId);
	}

	/** Those rooms closed the user's sockets (a client-wide ban): forget the visits. */
	forgetVisits(userId: string, roomIds: string[]): void {
		this.deps.store.forgetVisits(userId, roomIds);
	}

	/**
	 * Asks each room that stopped sending the user's state for it (once at a time per user), at
	 * most `WAKE_CONCURRENCY` rooms at once. A room that does not answer stays marked idle here and
	 * is asked again with backoff (`retryDelay`: 0.5 s doubling to 60 s) for as long as the user has
	 * a socket here: until it answers, that room sends nothing about the user, so their room list
	 * would stay stale for the whole connection.
	 */
	private wake(caller: Caller): Promise<void> {
		const running = this.waking.get(caller.userId);
		if (running) return running;
		const rooms = this.deps.store.idleRooms(caller.userId);
		if (rooms.length === 0) {
			this.wakeRetries.delete(caller.userId);
			return Promise.resolve();
		}
		this.token = Math.max(this.deps.now(), this.token + 1);
		const token = this.token;
		let unanswered = 0;
		const run = eachAtMost(rooms, WAKE_CONCURRENCY, async (roomId) => {
			try {
				const push = await this.deps.rooms(roomId).wake(caller, this.deps.name, token);
				this.deps.store.clearIdle(caller.userId, roomId);
				await this.onRoom(roomId, async () => {
					await this.apply(push);
				});
			} catch {
				// Still marked here: asked again below while the user is connected (else by their next connection).
				unanswered++;
			}
		})
			.then(() => {
				if (unanswered > 0) this.wakeLater(caller);
				else this.wakeRetries.delete(caller.userId);
			})
			.finally(() => this.waking.delete(caller.userId));
		this.waking.set(caller.userId, run);
		return run;
	}

	/** Asks the rooms still marked idle for the user again, after a backoff, if the user still has a socket here. */
	private wakeLater(caller: Caller): void {
		const { userId } = caller;
		if (!this.socketsOf.has(userId)) {
			this.wakeRetries.delete(userId);
			return;
		}
		const retry = this.wakeRetries.get(userId) ?? { attempts: 0, scheduled: false };
		this.wakeRetries.set(userId, retry);
		if (retry.scheduled) return;
		retry.attempts++;
		retry.scheduled = true;
		this.deps.scheduler.after(retryDelay(retry.attempts), () => {
			retry.scheduled = false;
			if (!this.socketsOf.has(userId)) {
				this.wakeRetries.delete(userId);
				return;
			}
			void this.wake(caller);
		});
	}

	/**
	 * An ephemeral event (typing, presence) for the sockets that joined the room, but those of
	 * `except_user_id`; a presence signal's `room_online` is kept for `ready`.
	 */
	signal(roomId: string, event: string, data: { room_id: string; except_user_id?: string } & Record<string, unknown>): void {
		const { except_user_id, room_online, ...payload } = data;
		if (Array.isArray(room_online)) this.deps.store.putOnline(roomId, room_online.map(String));
		const sockets = this.joined.get(roomId);
		if (!sockets) return;
		const encoded = encodeEvent(event, { ...payload, room_id: roomId });
		for (const socketId of sockets.keys()) {
			const peer = this.peers.get(socketId);
			if (peer && peer.state.userId !== except_user_id) this.deps.outbox.push(peer, encoded);
		}
	}

	private async dispatch(peer: GatewayPeer, frame: GatewayFrameT): Promise<void> {
		const caller: Caller = { clientId: peer.state.clientId, userId: peer.state.userId };
		const roomId = frame.data.room_id;
		// A room id the client does not have never reaches (and so never creates) a room object.
		if (!(await this.known(caller.clientId, roomId))) return this.refuse(peer, { ok: false, code: "not_found" }, frame.id);
		const room = this.deps.rooms(roomId);
		switch (frame.event) {
			case "join_room": {
				const mine = this.roomsOf.get(peer.state.socketId);
				if (!mine?.has(roomId) && (mine?.size ?? 0) >= this.deps.limits.maxRoomsPerSocket) {
					this.error(peer, "too_many_rooms", `A socket may join at most ${this.deps.limits.maxRoomsPerSocket} rooms`, frame.id);
					return;
				}
				await this.onRoom(roomId, async () => {
					const subscribed = await room.subscribe(caller, this.deps.name);
					if (!subscribed.ok) return this.refuse(peer, subscribed, frame.id);
					// Subscribed, but this socket may not stay: the room must not keep pushing (or count the user online) for nobody.
					const release = () => (this.joinedBy(roomId, caller.userId) ? undefined : room.unsubscribe(this.deps.name, caller.userId));
					let cursor = subscribed.last_seq;
					if (frame.data.last_seq !== undefined) {
						cursor = Math.min(frame.data.last_seq, cursor);
						const replayed = await this.readRange(room, caller, cursor, Number.POSITIVE_INFINITY, (events) => {
							for (const event of events) this.deps.outbox.push(peer, event.frame);
						});
						if (replayed === undefined) {
							await release();
							return this.refuse(peer, { ok: false, code: "forbidden" }, frame.id);
						}
						cursor = Math.max(cursor, replayed);
					}
					if (!this.peers.has(peer.state.socketId)) {
						await release();
						return;
					}
					this.track(roomId, peer.state.socketId, cursor);
					this.deps.store.setCursor(peer.state.socketId, roomId, cursor, caller.userId);
					this.deps.outbox.push(peer, encodeAck(frame.id, { room_id: roomId, last_seq: cursor, online: subscribed.online ?? [] }));
					// Typing that started before this join: the whole current set, as every typing event is.
					const typing = (subscribed.typing ?? []).filter((id) => id !== caller.userId);
					if (typing.length > 0) this.deps.outbox.push(peer, encodeEvent("typing", { room_id: roomId, user_ids: typing }));
				});
				return;
			}
			case "leave_room": {
				await this.onRoom(roomId, async () => {
					await this.leave(peer.state.socketId, roomId);
					this.deps.outbox.push(peer, encodeAck(frame.id, { room_id: roomId }));
				});
				return;
			}
			case "send_message": {
				const { text_message, client_msg_id, reply_to, metadata } = frame.data;
				const sent = await this.sendTo(roomId, {
					caller,
					text: text_message,
					options: { clientMsgId: client_msg_id, replyTo: reply_to, metadata },
				});
				if (!sent.ok) {
					// A room exists here: not_found means the message replied to.
					const text = sent.code === "not_found" && reply_to !== undefined ? "No such message to reply to" : REFUSALS[sent.code];
					if (sent.retryAfterMs !== undefined) {
						// Slow mode: the same error as the room socket's, with the wait.
						this.deps.outbox.push(peer, encodeError("rate_limited", SLOW_MODE_TEXT, frame.id, { retry_after_ms: sent.retryAfterMs }));
						return;
					}
					return this.error(peer, sent.code, text, frame.id);
				}
				this.deps.outbox.push(peer, encodeAck(frame.id, sent.message));
				return;
			}
			case "edit_message":
			case "delete_message":
			case "add_reaction":
			case "remove_reaction": {
				const change: RoomChange =
					frame.event === "edit_message"
						? { kind: "edit", messageId: frame.data.message_id, text: frame.data.text_message, metadata: frame.data.metadata }
						: frame.event === "delete_message"
							? { kind: "delete", messageId: frame.data.message_id }
							: { kind: "react", messageId: frame.data.message_id, type: frame.data.type, add: frame.event === "add_reaction" };
				const changed = await room.change(caller, change);
				if (!changed.ok) {
					// Access is checked first, so a refusal after it is about the message.
					const roomLevel = changed.code === "not_found" && !(await this.roomExists(room, caller));
					return this.error(peer, changed.code, roomLevel ? REFUSALS.not_found : CHANGE_REFUSALS[changed.code], frame.id);
				}
				this.deps.outbox.push(peer, encodeAck(frame.id, changed.data));
				return;
			}
			case "typing": {
				if (!this.roomsOf.get(peer.state.socketId)?.has(roomId)) {
					this.error(peer, "forbidden", "Join the room before sending typing", frame.id);
					return;
				}
				await room.typing(caller);
				if (frame.id !== undefined) this.deps.outbox.push(peer, encodeAck(frame.id, { room_id: roomId }));
				return;
			}
			case "mark_read": {
				const read = await room.markRead(caller, frame.data.seq);
				if (!read.ok) return this.refuse(peer, read, frame.id);
				const position = { room_id: roomId, last_read_seq: read.last_read_seq, unread: read.unread };
				this.deps.outbox.push(peer, encodeAck(frame.id, position));
				// Our own copy moves now (the read position only: the room's last seq and latest message come
				// with its push), so the room's later push of the same position sends no second `read`.
				const row = this.deps.store.inboxRow(caller.userId, roomId);
				if (row) this.applyInbox(row, row.last_seq, position, null, peer.state.socketId);
				return;
			}
		}
	}

	/**
	 * Rooms the directory confirmed, as the lookups themselves: frames of one socket that wait for
	 * the same lookup go on in the order they came (each its own lookup could answer out of order,
	 * and an add_reaction could then overtake the remove_reaction sent after it).
	 */
	private readonly knownRooms = new Map<string, Promise<boolean>>();

	private known(clientId: string, roomId: string): Promise<boolean> {
		const check = this.deps.roomExists;
		if (!check) return Promise.resolve(true);
		const key = `${clientId}/${roomId}`;
		let lookup = this.knownRooms.get(key);
		if (!lookup) {
			if (this.knownRooms.size > 10_000) this.knownRooms.clear();
			const forget = () => {
				if (this.knownRooms.get(key) === lookup) this.knownRooms.delete(key);
			};
			lookup = check(clientId, roomId).then(
				(exists) => {
					if (!exists) forget();
					return exists;
				},
				(error: unknown) => {
					forget();
					throw error;
				},
			);
			this.knownRooms.set(key, lookup);
		}
		return lookup;
	}

	/** Applies a push; returns the members in it with no socket here (their rows are left as they were). */
	private async apply(push: RoomPush): Promise<string[]> {
		const { store } = this.deps;
		const roomId = push.room_id;
		if (push.online !== undefined) this.deps.store.putOnline(roomId, push.online);
		// Removals first: a removed member's sockets must not get what follows. A member listed in
		// this push's inbox was added again after the removal: they stay.
		const members = new Set(push.inbox.map((e) => e.user_id));
		for (const userId of push.left ?? []) {
			if (members.has(userId)) continue;
			store.deleteInbox(userId, roomId);
			store.clearIdle(userId, roomId);
		}
		for (const userId of push.removed) {
			if (members.has(userId)) continue;
			store.clearIdle(userId, roomId);
			for (const socketId of this.socketsOf.get(userId) ?? []) {
				if (this.roomsOf.get(socketId)?.has(roomId)) await this.leave(socketId, roomId);
				const peer = this.peers.get(socketId);
				if (peer && !this.readying.has(socketId)) this.deps.outbox.push(peer, encodeEvent("room_removed", { room_id: roomId }));
			}
			store.deleteInbox(userId, roomId);
		}
		await this.deliverToJoined(push);
		const { latest } = push;
		const idle: string[] = [];
		for (const entry of push.inbox) {
			if (!this.socketsOf.has(entry.user_id)) {
				// Nobody here to tell: the room stops sending this user's state until their next connection wakes it.
				idle.push(entry.user_id);
				store.markIdle(entry.user_id, roomId);
				continue;
			}
			const row = store.inboxRow(entry.user_id, roomId);
			this.applyInbox(
				row ?? {
					user_id: entry.user_id,
					room_id: roomId,
					last_seq: -1,
					last_read_seq: -1,
					unread: 0,
					last_message: null,
					updated_at: 0,
				},
				push.last_seq,
				{ room_id: roomId, last_read_seq: entry.last_read_seq, unread: entry.unread },
				latest,
			);
		}
		return idle;
	}

	/**
	 * Applies a newer state of one user's room (both the room's seq and the read position only grow,
	 * so a state with either one lower is stale and ignored). Sends `inbox_update` for news to the
	 * user's sockets that did not join the room, and `read` when the read position moved. Returns
	 * whether anything changed.
	 */
	private applyInbox(
		row: InboxRow,
		lastSeq: number,
		read: { room_id: string; last_read_seq: number; unread: number },
		latest: MessageT | null,
		exceptSocket?: string,
	): boolean {
		if (lastSeq < row.last_seq || read.last_read_seq < row.last_read_seq) return false;
		const moved = read.last_read_seq > row.last_read_seq && row.last_read_seq >= 0;
		const message = latest ?? row.last_message;
		// News for a room list: a newer message, a first entry, or a count that changed by itself (a delete).
		const news =
			row.last_seq < 0 || (latest !== null && latest.seq > (row.last_message?.seq ?? 0)) || (!moved && read.unread !== row.unread);
		if (lastSeq === row.last_seq && !moved && read.unread === row.unread) return false;
		const activity = message ? Date.parse(message.created_at) : row.updated_at;
		this.deps.store.putInbox({
			user_id: row.user_id,
			room_id: row.room_id,
			last_seq: lastSeq,
			last_read_seq: read.last_read_seq,
			unread: read.unread,
			last_message: message,
			updated_at: Number.isFinite(activity) ? activity : this.deps.now(),
		});
		for (const socketId of this.socketsOf.get(row.user_id) ?? []) {
			const peer = this.peers.get(socketId);
			// A socket waiting for its `ready` gets this state in it.
			if (!peer || socketId === exceptSocket || this.readying.has(socketId)) continue;
			if (news && !this.roomsOf.get(socketId)?.has(row.room_id)) {
				this.deps.outbox.push(peer, encodeEvent("inbox_update", { room_id: row.room_id, last_seq: lastSeq, unread: read.unread, message }));
			}
			if (moved) this.deps.outbox.push(peer, encodeEvent("read", read));
		}
		return true;
	}

	/** Every event to each socket that joined the room, from its own cursor, reading any gap from the room. */
	private async deliverToJoined(push: RoomPush): Promise<void> {
		const sockets = this.joined.get(push.room_id);
		if (!sockets || sockets.size === 0) return;
		// Every socket joined here has had every event through `settled_through` (see RoomPush): a
		// cursor below it is one written lazily and lost in a restart that kept the sockets, not a
		// gap, and filling it would send those events a second time.
		const settled = push.settled_through;
		if (settled !== undefined) {
			const stale = [...sockets].filter(([, cursor]) => cursor < settled).map(([socketId]) => socketId);
			for (const socketId of stale) sockets.set(socketId, settled);
			if (stale.length > 0) this.deps.store.advance(push.room_id, stale, settled);
		}
		const behind = new Map<number, string[]>();
		for (const [socketId, cursor] of sockets) {
			if (cursor >= push.last_seq) continue;
			const group = behind.get(cursor);
			if (group) group.push(socketId);
			else behind.set(cursor, [socketId]);
		}
		const room = this.deps.rooms(push.room_id);
		const first = push.events[0]?.seq ?? push.last_seq + 1;
		for (const [cursor, socketIds] of behind) {
			const targets = () => socketIds.map((id) => this.peers.get(id)).filter((p): p is GatewayPeer => p !== undefined);
			let reached = cursor;
			const send = (events: PushedEvent[]) => {
				const live = targets();
				for (const event of events) {
					if (event.seq <= reached) continue;
					for (const peer of live) this.deps.outbox.push(peer, event.frame);
					reached = event.seq;
				}
			};
			if (first > cursor + 1) {
				// Read the gap as a user of this group who may still read the room; if none may, or the
				// read falls short, fail the push: the room retries it rather than anyone skipping past a gap.
				let filled = false;
				for (const peer of targets()) {
					const read = await this.readRange(room, { clientId: peer.state.clientId, userId: peer.state.userId }, cursor, first - 1, send);
					if (read !== undefined) {
						filled = read >= first - 1;
						break;
					}
				}
				if (!filled && targets().length > 0) throw new Error(`could not read events ${cursor + 1}..${first - 1} of room ${push.room_id}`);
				if (targets().length === 0) continue;
			}
			send(push.events);
			const still = socketIds.filter((socketId) => sockets.has(socketId));
			for (const socketId of still) sockets.set(socketId, reached);
			// Written lazily, the newest cursor of each socket once.
			this.deps.store.advance(push.room_id, still, reached);
		}
	}

	/** Reads (after, until] from the room in pages, handing each page on; the last seq read, or undefined if refused. */
	private async readRange(
		room: RoomPort,
		caller: Caller,
		after: number,
		until: number,
		take: (events: PushedEvent[]) => void,
	): Promise<number | undefined> {
		let reached = after;
		for (;;) {
			const page = await room.range(caller, reached, PAGE);
			if (!page.ok) return undefined;
			const wanted = page.events.filter((e) => e.seq <= until);
			take(wanted.map((event) => ({ seq: event.seq, frame: encodeRoomEvent(event) })));
			if (wanted.length > 0) reached = wanted[wanted.length - 1]?.seq ?? reached;
			if (page.events.length < PAGE || wanted.length < page.events.length) return reached;
		}
	}

	/** Whether the room answers this caller at all (to tell a missing room from a missing message). */
	private async roomExists(room: RoomPort, caller: Caller): Promise<boolean> {
		const probe = await room.range(caller, Number.MAX_SAFE_INTEGER, 1);
		return probe.ok;
	}

	/** Whether a socket of the user here is joined to the room. */
	private joinedBy(roomId: string, userId: string): boolean {
		for (const socketId of this.joined.get(roomId)?.keys() ?? []) if (this.userOf.get(socketId) === userId) return true;
		return false;
	}

	/** The room hears when a user's last socket here left it (presence), and stops pushing when the last of all did. */
	private async leave(socketId: string, roomId: string): Promise<void> {
		const sockets = this.joined.get(roomId);
		if (!sockets?.delete(socketId)) return;
		this.roomsOf.get(socketId)?.delete(roomId);
		this.deps.store.unsubscribe(socketId, roomId);
		if (sockets.size === 0) this.joined.delete(roomId);
		const userId = this.userOf.get(socketId);
		if (userId !== undefined && !this.joinedBy(roomId, userId)) await this.deps.rooms(roomId).unsubscribe(this.deps.name, userId);
		else if (sockets.size === 0) await this.deps.rooms(roomId).unsubscribe(this.deps.name);
	}

	private forgetSocket(socketId: string): void {
		const rooms = [...(this.roomsOf.get(socketId) ?? [])];
		const userId = this.userOf.get(socketId);
		this.roomsOf.delete(socketId);
		if (!this.peers.has(socketId)) this.userOf.delete(socketId);
		this.deps.store.forgetSocket(socketId);
		for (const roomId of rooms) {
			const sockets = this.joined.get(roomId);
			sockets?.delete(socketId);
			if (sockets && sockets.size === 0) this.joined.delete(roomId);
			// In the room's queue, after anything this socket started there: without a socket of the user
			// left here the room counts them gone; without any socket, it stops pushing (an unknown user: the same).
			void this.onRoom(roomId, async () => {
				if (!this.joined.has(roomId)) await this.deps.rooms(roomId).unsubscribe(this.deps.name);
				else if (userId !== undefined && !this.joinedBy(roomId, userId)) await this.deps.rooms(roomId).unsubscribe(this.deps.name, userId);
			}).catch(() => undefined);
		}
	}

	private track(roomId: string, socketId: string, cursor: number): void {
		let sockets = this.joined.get(roomId);
		if (!sockets) {
			sockets = new Map();
			this.joined.set(roomId, sockets);
		}
		sockets.set(socketId, cursor);
		let rooms = this.roomsOf.get(socketId);
		if (!rooms) {
			rooms = new Set();
			this.roomsOf.set(socketId, rooms);
		}
		rooms.add(roomId);
	}

	/** Runs `work` after everything queued for the room; a failure does not block what follows. */
	private onRoom(roomId: string, work: () => Promise<void>): Promise<void> {
		const previous = this.chains.get(roomId) ?? Promise.resolve();
		const next = previous.then(work, work);
		const settled = next.then(
			() => undefined,
			() => undefined,
		);
		this.chains.set(roomId, settled);
		void settled.then(() => {
			if (this.chains.get(roomId) === settled) this.chains.delete(roomId);
		});
		return next;
	}

	private refuse(peer: GatewayPeer, refusal: Refusal, id?: string | number): void {
		this.error(peer, refusal.code, REFUSALS[refusal.code], id);
	}

	private error(peer: GatewayPeer, code: ProtocolErrorCodeT, message: string, id?: string | number): void {
		this.deps.outbox.push(peer, encodeError(code, message, id));
	}
}

/** Runs `work` on every item, at most `limit` at a time, in the items' order; `work` must not throw. */
async function eachAtMost<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
	let next = 0;
	const worker = async () => {
		while (next < items.length) {
			const item = items[next++] as T;
			await work(item);
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
