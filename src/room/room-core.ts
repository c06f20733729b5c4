import { z } from "zod";
import { createDecoder, encodeAck, encodeError, encodeEvent, requestIdOf } from "../protocol/codec";
import { CLOSE_TOKEN_EXPIRED, type ClientFrameT, type ProtocolErrorCodeT } from "../protocol/frames";
import type { MessageT } from "../schemas/message";
import type { HistoryRange, MessageLog, RoomEvent, SyncSql } from "./message-log";
import type { SendRefusal } from "./moderation";
import type { Outbox, Sink } from "./outbox";
import { Presence } from "./presence";
import { KeyedLimiter } from "./rate-limit";
import { Typing } from "./typing";

/** Events read per query while a joining socket catches up. */
const CATCH_UP_PAGE = 500;

/**
 * What a socket is, as verified by the Worker at the handshake. Survives hibernation in the
 * attachment, and is parsed (not cast) when the handshake header or an attachment is read back.
 */
export const ConnState = z.object({
	userId: z.string(),
	clientId: z.string(),
	roomId: z.string(),
	/** JWT expiry in seconds since the epoch, or 0 for credentials that do not expire. */
	exp: z.number(),
	joined: z.boolean(),
});
export type ConnState = z.infer<typeof ConnState>;

/** A connected socket as the room logic sees it. */
export interface Peer extends Sink {
	readonly state: ConnState;
	/** Persists `state` so it survives hibernation. */
	saveState(): void;
}

export interface RoomLimits {
	maxMessageLength: number;
	maxFrameBytes: number;
	wsRatePerSecond: number;
	wsRateBurst: number;
	restSendRatePerSecond: number;
	restSendRateBurst: number;
	/** A typer without a refresh for this long is dropped from the typing set (default 6 s). */
	typingTtlMs?: number;
	/** Offline is announced this long after a user's last socket left (default 5 s): a reload says nothing. */
	presenceGraceMs?: number;
	/** Rooms with more members (or more online) send no presence events; join acks list at most this many online (default 100). */
	presenceMaxMembers?: number;
}

/** Who has user sockets joined to the room, through their gateways (the room's subscriptions). */
export interface GatewayJoins {
	has(userId: string): boolean;
	users(): Iterable<string>;
}

export interface RoomDeps {
	log: MessageLog;
	/** The room's storage (presence keeps each user's last transition there). */
	sql: SyncSql;
	outbox: Outbox;
	limits: RoomLimits;
	now: () => number;
	newId: () => string;
	/** The room's id (events that are not about a message, such as typing, carry it). */
	roomId?: string;
	/** Told of every stored event, after the write (the user-socket feed derives its pushes from it). */
	appended?: (event: RoomEvent) => void;
	/** Runs `run` in `ms` (typing expiry); without it typers never expire (tests drive `expireTyping`). */
	after?: (ms: number, run: () => void) => void;
	/**
	 * An ephemeral event (typing, read receipts, presence) for the user sockets that joined the room,
	 * never stored; `toMembers` also tells the gateways of every member (presence, for their `ready`).
	 */
	signal?: (event: string, data: unknown, toMembers?: boolean) => void;
	/** Users joined through user sockets; without it, only this room's own sockets count. */
	gatewayJoins?: GatewayJoins;
	/** How many members the room has (presence events stop above `presenceMaxMembers`). */
	memberCount?: () => number;
	/** The room's moderation (src/room/moderation.ts): who may send now, and who deletes others' messages. */
	moderation?: {
		/** `byBackend`: sent by the client's backend on the user's behalf (exempt from slow mode). */
		sendRefusal(userId: string, byBackend?: boolean): SendRefusal | undefined;
		moderates(userId: string): boolean;
	};
}

export interface SendInput {
	roomId: string;
	userId: string;
	text: string;
	clientMsgId?: string;
	replyTo?: string;
	metadata?: Record<string, unknown>;
	/**
	 * The client's backend sends on the user's behalf (REST with `clientKey: <api_token>.<user_id>`,
	 * as the Worker verified): exempt from slow mode, not from bans and mutes. Absent: the user's own send.
	 */
	byBackend?: boolean;
}

/**
 * Why a change was refused: `message_deleted` for an edit or reaction on a tombstone; `banned` and
 * `muted` by moderation; `rate_limited` with `retryAfterMs` by slow mode; `too_many_versions` for an
 * edit of a message that has MAX_MESSAGE_VERSIONS already.
 */
export type ChangeRefusal = {
	ok: false;
	code: "rate_limited" | "not_found" | "forbidden" | "message_deleted" | "banned" | "muted" | "too_many_versions";
	retryAfterMs?: number;
};
export type SendResult = { ok: true; message: MessageT; created: boolean } | ChangeRefusal;
export type ChangeResult = { ok: true; event: RoomEvent | null; data: unknown } | ChangeRefusal;

export interface EditInput {
	userId: string;
	messageId: string;
	text: string;
	metadata?: Record<string, unknown>;
}

/** Who deletes: a user (their own messages) or the client's backend (any message). */
export interface DeleteInput {
	userId: string | null;
	messageId: string;
}

export interface ReactInput {
	userId: string;
	messageId: string;
	type: string;
	add: boolean;
}

/** What the runtime edge must do after a frame: close the socket, or log a failure the client was told about. */
export type FrameOutcome = { close?: { code: number; reason: string }; failed?: unknown };

const REFUSAL_TEXT: Record<ChangeRefusal["code"], string> = {
	rate_limited: "Too many messages, slow down",
	not_found: "No such message in this room",
	forbidden: "Only the author may change this message",
	message_deleted: "This message was deleted",
	banned: "You are banned from this room",
	muted: "You are muted in this room",
	too_many_versions: "This message has been edited too many times",
};

/** A send refused by slow mode (the error carries `retry_after_ms`). */
export const SLOW_MODE_TEXT = "Slow mode: wait before sending again";

/** A room event as its frame: `{"event", "data"}`; `new_message` text is built once per event and shared. */
export const encodeRoomEvent = (event: RoomEvent) => encodeEvent(event.event, event.data);

/**
 * A room's behaviour, free of any runtime: validation, idempotent sends, the event log (edits,
 * deletes, reactions, replies), ordered delivery and catch-up, typing. The Durable Object feeds it
 * frames and sockets.
 */
export class RoomCore {
	private readonly peers = new Set<Peer>();
	private readonly decode;
	private readonly frameLimiter;
	private readonly restLimiter;
	readonly typing: Typing;
	readonly presence: Presence;
	/** Room sockets joined per user (a user is online while they have one, or a user socket joined). */
	private readonly joinedSockets = new Map<string, number>();

	constructor(private readonly deps: RoomDeps) {
		const { limits } = deps;
		this.decode = createDecoder(limits.maxMessageLength, limits.maxFrameBytes);
		this.frameLimiter = new KeyedLimiter<Peer>(limits.wsRatePerSecond, limits.wsRateBurst);
		this.restLimiter = new KeyedLimiter<string>(limits.restSendRatePerSecond, limits.restSendRateBurst);
		this.typing = new Typing({
			ttlMs: limits.typingTtlMs ?? 6_000,
			now: deps.now,
			after: deps.after,
			changed: (userIds, changedBy) => this.broadcastTyping(userIds, changedBy),
		});
		this.presence = new Presence({
			sql: deps.sql,
			graceMs: limits.presenceGraceMs ?? 5_000,
			now: deps.now,
			after: deps.after,
			joinedNow: (userId) => (this.joinedSockets.get(userId) ?? 0) > 0 || deps.gatewayJoins?.has(userId) === true,
			joinedUsers: () => new Set([...this.joinedSockets.keys(), ...(deps.gatewayJoins?.users() ?? [])]),
			changed: (userId, online, at) => this.broadcastPresence(userId, online, at),
		});
	}

	/** A socket: new (not joined yet) or, after a wake, one the runtime kept (joined as its attachment says). */
	attach(peer: Peer): void {
		if (this.peers.has(peer)) return;
		this.peers.add(peer);
		if (peer.state.joined) this.countJoin(peer.state.userId, 1);
	}

	detach(peer: Peer): void {
		const had = this.peers.delete(peer);
		this.frameLimiter.forget(peer);
		this.deps.outbox.forget(peer);
		if (had && peer.state.joined) {
			this.countJoin(peer.state.userId, -1);
			this.presence.left(peer.state.userId);
		}
	}

	/** Who is online as a push to the gateways carries it (for `ready`): null above the cap. */
	onlineForPush(): string[] | null {
		return this.presenceCapped() ? null : this.presence.current();
	}

	/** Changes whenever `onlineForPush()` does. */
	onlineVersion(): string {
		return this.presenceCapped() ? "capped" : String(this.presence.revision());
	}

	/** Who is online as a join ack lists it: at most `presenceMaxMembers`, by user id. */
	onlineForAck(): string[] {
		return this.presence.current().slice(0, this.maxPresence());
	}

	connected(): ReadonlySet<Peer> {
		return this.peers;
	}

	history(range: HistoryRange): MessageT[] {
		return this.deps.log.range(range);
	}

	lastSeq(): number {
		return this.deps.log.lastSeq();
	}

	/** The room's stored events after `afterSeq`, in order (webhooks, the events feed). */
	events(afterSeq: number, limit: number): RoomEvent[] {
		return this.deps.log.events(afterSeq, limit);
	}

	/** A send from REST: rate-limited per user, then the same path as a socket send. */
	sendFromRest(input: SendInput): SendResult {
		if (!this.restLimiter.take(input.userId, this.deps.now())) return { ok: false, code: "rate_limited" };
		return this.send(input);
	}

	/**
	 * A REST edit, delete or reaction takes from the same per-user budget as REST sends: false when
	 * it is spent (the socket frames have their own per-connection limit).
	 */
	restChangeAllowed(userId: string): boolean {
		return this.restLimiter.take(userId, this.deps.now());
	}

	/** A send from a user socket (`/ws`): the gateway rate-limits its frames; access was checked by the room. */
	sendFromGateway(input: SendInput): SendResult {
		return this.send(input);
	}

	/** A new version of a message, by its author (not while banned or muted). */
	edit(input: EditInput): ChangeResult {
		const refused = this.deps.moderation?.sendRefusal(input.userId);
		if (refused && refused.code !== "rate_limited") return { ok: false, code: refused.code };
		const result = this.deps.log.edit(input.messageId, input.userId, input.text, input.metadata, this.at());
		return this.changed(result);
	}

	/** A soft delete, by the author, an owner or moderator, or (userId null) the client's backend; deleting twice answers the first. */
	remove(input: DeleteInput): ChangeResult {
		const before = this.deps.log.lastSeq();
		const { userId } = input;
		const may = (m: MessageT) => userId === null || m.user_id === userId || this.deps.moderation?.moderates(userId) === true;
		const result = this.deps.log.remove(input.messageId, may, this.at());
		if (result.ok && result.event.seq <= before) return { ok: true, event: null, data: result.event.data };
		return this.changed(result);
	}

	react(input: ReactInput): ChangeResult {
		const result = this.deps.log.react(input.messageId, input.userId, input.type, input.add);
		if (result.ok && result.event === null) {
			return {
				ok: true,
				event: null,
				data: {
					room_id: this.roomIdOf(),
					message_id: input.messageId,
					user_id: input.userId,
					type: input.type,
					reactions: result.reactions,
				},
			};
		}
		return this.changed(result as Parameters<RoomCore["changed"]>[0]);
	}

	handleFrame(peer: Peer, raw: string | ArrayBuffer): FrameOutcome {
		const { state } = peer;
		const now = this.deps.now();
		if (state.exp !== 0 && now >= state.exp * 1000) {
			return { close: { code: CLOSE_TOKEN_EXPIRED, reason: "token expired" } };
		}
		if (!this.frameLimiter.take(peer, now)) {
			this.error(peer, "rate_limited", "Too many frames, slow down", requestIdOf(raw, this.deps.limits.maxFrameBytes));
			return {};
		}
		const decoded = this.decode(raw);
		if (!decoded.ok) {
			this.error(peer, decoded.code, decoded.message, decoded.id);
			return {};
		}
		const { frame } = decoded;
		if (frame.data.room_id !== state.roomId) {
			this.error(peer, "wrong_room", "This socket belongs to another room", frame.id);
			return {};
		}
		try {
			this.dispatch(peer, frame);
			return {};
		} catch (failed) {
			// Storage failed under us: answer the request in order with the others, keep the socket.
			this.error(peer, "internal_error", "The server could not handle this frame", frame.id);
			return { failed };
		}
	}

	private dispatch(peer: Peer, frame: ClientFrameT): void {
		const { state } = peer;
		switch (frame.event) {
			case "join_room": {
				// Page through what was missed so a long absence never loads the whole room at once;
				// nothing can be appended meanwhile (no await), so the ack's last_seq is exact.
				// Stop as soon as the socket is gone (closed for falling too far behind, say): a join
				// must not make the room read the rest of its history for nobody.
				let after = frame.data.last_seq;
				while (after !== undefined) {
					const page = this.deps.log.events(after, CATCH_UP_PAGE);
					for (const event of page) {
						if (!this.peers.has(peer)) return;
						this.deps.outbox.push(peer, encodeRoomEvent(event));
					}
					after = page.length === CATCH_UP_PAGE ? page[page.length - 1]?.seq : undefined;
				}
				if (!state.joined) {
					state.joined = true;
					peer.saveState();
					// Before the count: a first use rebuilds the set from who is joined, and this join is news.
					this.presence.joined(state.userId);
					this.countJoin(state.userId, 1);
				}
				this.deps.outbox.push(
					peer,
					encodeAck(frame.id, { room_id: state.roomId, last_seq: this.deps.log.lastSeq(), online: this.onlineForAck() }),
				);
				// Typing that started before this join: the whole current set, as every typing event is.
				const typing = this.typing.current().filter((id) => id !== state.userId);
				if (typing.length > 0) this.deps.outbox.push(peer, encodeEvent("typing", { room_id: state.roomId, user_ids: typing }));
				return;
			}
			case "leave_room": {
				if (state.joined) {
					state.joined = false;
					peer.saveState();
					this.countJoin(state.userId, -1);
					this.presence.left(state.userId);
				}
				this.deps.outbox.push(peer, encodeAck(frame.id, { room_id: state.roomId }));
				return;
			}
			case "send_message": {
				const { text_message, client_msg_id, reply_to, metadata } = frame.data;
				const result = this.send({
					roomId: state.roomId,
					userId: state.userId,
					text: text_message,
					clientMsgId: client_msg_id,
					replyTo: reply_to,
					metadata,
				});
				if (result.ok) this.deps.outbox.push(peer, encodeAck(frame.id, result.message));
				else this.refuse(peer, result, frame.id);
				return;
			}
			case "edit_message":
				this.answer(
					peer,
					frame.id,
					this.edit({
						userId: state.userId,
						messageId: frame.data.message_id,
						text: frame.data.text_message,
						metadata: frame.data.metadata,
					}),
				);
				return;
			case "delete_message":
				this.answer(peer, frame.id, this.remove({ userId: state.userId, messageId: frame.data.message_id }));
				return;
			case "add_reaction":
			case "remove_reaction":
				this.answer(
					peer,
					frame.id,
					this.react({
						userId: state.userId,
						messageId: frame.data.message_id,
						type: frame.data.type,
						add: frame.event === "add_reaction",
					}),
				);
				return;
			case "typing": {
				if (!state.joined) {
					this.error(peer, "forbidden", "Join the room before sending typing", frame.id);
					return;
				}
				this.typing.touch(state.userId);
				if (frame.id !== undefined) this.deps.outbox.push(peer, encodeAck(frame.id, { room_id: state.roomId }));
				return;
			}
		}
	}

	/** Persists, then queues the broadcast: frames leave only after the write (the output gate holds them). */
	private send(input: SendInput): SendResult {
		const { log } = this.deps;
		if (input.clientMsgId !== undefined) {
			const existing = log.findByClientMsgId(input.userId, input.clientMsgId);
			if (existing) return { ok: true, message: existing, created: false };
		}
		// After the retry check: a retry of a stored message is answered even in slow mode.
		const refused = this.deps.moderation?.sendRefusal(input.userId, input.byBackend === true);
		if (refused) return { ok: false, ...refused };
		if (input.replyTo !== undefined && !log.byId(input.replyTo)) return { ok: false, code: "not_found" };
		const message = log.append({
			id: this.deps.newId(),
			room_id: input.roomId,
			user_id: input.userId,
			text_message: input.text,
			created_at: this.at(),
			client_msg_id: input.clientMsgId,
			reply_to: input.replyTo,
			metadata: input.metadata,
		});
		// A message ends its author's typing.
		this.typing.stop(input.userId);
		this.broadcast({ seq: message.seq, event: "new_message", data: message });
		return { ok: true, message, created: true };
	}

	private changed(
		result: { ok: true; event: RoomEvent } | { ok: false; code: "not_found" | "forbidden" | "deleted" | "too_many_versions" },
	): ChangeResult {
		if (!result.ok) return { ok: false, code: result.code === "deleted" ? "message_deleted" : result.code };
		this.broadcast(result.event);
		return { ok: true, event: result.event, data: result.event.data };
	}

	private broadcast(event: RoomEvent): void {
		const encoded = encodeRoomEvent(event);
		for (const peer of this.peers) if (peer.state.joined) this.deps.outbox.push(peer, encoded);
		this.deps.appended?.(event);
	}

	/** An ephemeral event for every joined socket of both kinds (read receipts); never stored. */
	announce(event: string, data: { room_id?: string } & Record<string, unknown>): void {
		const payload = { ...data, room_id: this.roomIdOf() };
		const encoded = encodeEvent(event, payload);
		for (const peer of this.peers) if (peer.state.joined) this.deps.outbox.push(peer, encoded);
		this.deps.signal?.(event, payload);
	}

	/**
	 * The whole set, to every joined socket whose view changed: all but the typer's own when one
	 * user's change goes out; everyone when it carries several users' changes (each changer must
	 * learn of the others).
	 */
	private broadcastTyping(userIds: string[], changedBy: readonly string[]): void {
		const roomId = this.roomIdOf();
		const encoded = encodeEvent("typing", { room_id: roomId, user_ids: userIds });
		const except = changedBy.length === 1 ? changedBy[0] : undefined;
		for (const peer of this.peers) if (peer.state.joined && peer.state.userId !== except) this.deps.outbox.push(peer, encoded);
		this.deps.signal?.("typing", { room_id: roomId, user_ids: userIds, ...(except === undefined ? {} : { except_user_id: except }) });
	}

	/**
	 * A user came online or went offline: to every joined socket of both kinds but the user's own
	 * (their ack said it), with the room's whole online set for the gateways' room lists. Nothing
	 * above the cap: a big room would drown in these.
	 */
	private broadcastPresence(userId: string, online: boolean, at: number): void {
		if (this.presenceCapped()) return;
		const roomId = this.roomIdOf();
		const data = { room_id: roomId, user_id: userId, online, last_active_at: new Date(at).toISOString() };
		const encoded = encodeEvent("presence", data);
		for (const peer of this.peers) if (peer.state.joined && peer.state.userId !== userId) this.deps.outbox.push(peer, encoded);
		this.deps.signal?.("presence", { ...data, except_user_id: userId, room_online: this.presence.current() }, true);
	}

	private presenceCapped(): boolean {
		const max = this.maxPresence();
		return (this.deps.memberCount?.() ?? 0) > max || this.presence.size() > max;
	}

	private maxPresence(): number {
		return this.deps.limits.presenceMaxMembers ?? 100;
	}

	private countJoin(userId: string, delta: 1 | -1): void {
		const count = (this.joinedSockets.get(userId) ?? 0) + delta;
		if (count > 0) this.joinedSockets.set(userId, count);
		else this.joinedSockets.delete(userId);
	}

	private roomIdOf(): string {
		if (this.deps.roomId) return this.deps.roomId;
		for (const peer of this.peers) return peer.state.roomId;
		return "";
	}

	private answer(peer: Peer, id: string | number | undefined, result: ChangeResult): void {
		if (result.ok) this.deps.outbox.push(peer, encodeAck(id, result.data));
		else this.refuse(peer, result, id);
	}

	private refuse(peer: Peer, refusal: ChangeRefusal, id?: string | number): void {
		if (refusal.retryAfterMs !== undefined) {
			this.deps.outbox.push(peer, encodeError("rate_limited", SLOW_MODE_TEXT, id, { retry_after_ms: refusal.retryAfterMs }));
		} else this.error(peer, refusal.code, REFUSAL_TEXT[refusal.code], id);
	}

	private at(): string {
		return new Date(this.deps.now()).toISOString();
	}

	private error(peer: Peer, code: ProtocolErrorCodeT, message: string, id?: string | number): void {
		this.deps.outbox.push(peer, encodeError(code, message, id));
	}
}
