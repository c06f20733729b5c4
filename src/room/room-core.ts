import { z } from "zod";
import { createDecoder, encodeAck, encodeError, encodeNewMessage, requestIdOf } from "../protocol/codec";
import { CLOSE_TOKEN_EXPIRED, type ClientFrameT, type ProtocolErrorCodeT } from "../protocol/frames";
import type { MessageT } from "../schemas/message";
import type { HistoryRange, MessageLog } from "./message-log";
import type { Outbox, Sink } from "./outbox";
import { KeyedLimiter } from "./rate-limit";

/** Messages read per query while a joining socket catches up. */
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
}

export interface RoomDeps {
	log: MessageLog;
	outbox: Outbox;
	limits: RoomLimits;
	now: () => number;
	newId: () => string;
	/** Told of every stored message, after the write (the user-socket feed derives its pushes from it). */
	appended?: (message: MessageT) => void;
}

export interface SendInput {
	roomId: string;
	userId: string;
	text: string;
	clientMsgId?: string;
}

export type SendResult = { ok: true; message: MessageT; created: boolean } | { ok: false; code: "rate_limited" };

/** What the runtime edge must do after a frame: close the socket, or log a failure the client was told about. */
export type FrameOutcome = { close?: { code: number; reason: string }; failed?: unknown };

/**
 * A room's behaviour, free of any runtime: validation, idempotent sends, ordered
 * delivery and catch-up. The Durable Object feeds it frames and sockets.
 */
export class RoomCore {
	private readonly peers = new Set<Peer>();
	private readonly decode;
	private readonly frameLimiter;
	private readonly restLimiter;

	constructor(private readonly deps: RoomDeps) {
		const { limits } = deps;
		this.decode = createDecoder(limits.maxMessageLength, limits.maxFrameBytes);
		this.frameLimiter = new KeyedLimiter<Peer>(limits.wsRatePerSecond, limits.wsRateBurst);
		this.restLimiter = new KeyedLimiter<string>(limits.restSendRatePerSecond, limits.restSendRateBurst);
	}

	attach(peer: Peer): void {
		this.peers.add(peer);
	}

	detach(peer: Peer): void {
		this.peers.delete(peer);
		this.frameLimiter.forget(peer);
		this.deps.outbox.forget(peer);
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

	/** A send from REST: rate-limited per user, then the same path as a socket send. */
	sendFromRest(input: SendInput): SendResult {
		if (!this.restLimiter.take(input.userId, this.deps.now())) return { ok: false, code: "rate_limited" };
		return this.send(input);
	}

	/** A send from a user socket (`/ws`): the gateway rate-limits its frames; access was checked by the room. */
	sendFromGateway(input: SendInput): SendResult {
		return this.send(input);
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
					const page = this.deps.log.range({ afterSeq: after, limit: CATCH_UP_PAGE });
					for (const message of page) {
						if (!this.peers.has(peer)) return;
						this.deps.outbox.push(peer, encodeNewMessage(message));
					}
					after = page.length === CATCH_UP_PAGE ? page[page.length - 1]?.seq : undefined;
				}
				if (!state.joined) {
					state.joined = true;
					peer.saveState();
				}
				this.deps.outbox.push(peer, encodeAck(frame.id, { room_id: state.roomId, last_seq: this.deps.log.lastSeq() }));
				return;
			}
			case "leave_room": {
				if (state.joined) {
					state.joined = false;
					peer.saveState();
				}
				this.deps.outbox.push(peer, encodeAck(frame.id, { room_id: state.roomId }));
				return;
			}
			case "send_message": {
				const result = this.send({
					roomId: state.roomId,
					userId: state.userId,
					text: frame.data.text_message,
					clientMsgId: frame.data.client_msg_id,
				});
				if (result.ok) this.deps.outbox.push(peer, encodeAck(frame.id, result.message));
				return;
			}
		}
	}

	/** Persists, then queues the broadcast: frames leave only after the write (the output gate holds them). */
	private send(input: SendInput): SendResult {
		const { log, outbox } = this.deps;
		if (input.clientMsgId !== undefined) {
			const existing = log.findByClientMsgId(input.userId, input.clientMsgId);
			if (existing) return { ok: true, message: existing, created: false };
		}
		const message = log.append({
			id: this.deps.newId(),
			room_id: input.roomId,
			user_id: input.userId,
			text_message: input.text,
			created_at: new Date(this.deps.now()).toISOString(),
			client_msg_id: input.clientMsgId,
		});
		const encoded = encodeNewMessage(message);
		for (const peer of this.peers) if (peer.state.joined) outbox.push(peer, encoded);
		this.deps.appended?.(message);
		return { ok: true, message, created: true };
	}

	private error(peer: Peer, code: ProtocolErrorCodeT, message: string, id?: string | number): void {
		this.deps.outbox.push(peer, encodeError(code, message, id));
	}
}
