import { Emitter } from "../emitter";
import { ChatApiError, ChatRoomError } from "../errors";
import { readTokenClaims } from "../jwt";
import type { TokenSource } from "../token-source";
import type { ChatMessage } from "../types";
import { type BackoffOptions, backoffDelay } from "./backoff";
import {
	CLOSE_REMOVED,
	CLOSE_TOKEN_EXPIRED,
	isStoredMessage,
	joinedOf,
	type LogEvent,
	type MessageDeleted,
	type MessageUpdated,
	PING,
	PROTOCOL_LABEL,
	type Presence,
	parseServerFrame,
	type ReactionChanged,
} from "./frames";
import { Sequencer } from "./sequencer";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";

/** A room's events, the same on the room socket and on the user socket. */
export interface ConversationEvents extends Record<string, unknown> {
	/** Every message of the room from the resume point on, exactly once, in `seq` order (with the changes below). */
	new_message: ChatMessage;
	/** A message was edited: the message as it is now. */
	message_updated: MessageUpdated;
	/** A message was deleted: it is a tombstone now (no text, metadata or reactions). */
	message_deleted: MessageDeleted;
	reaction_added: ReactionChanged;
	reaction_removed: ReactionChanged;
	/** Everyone typing in the room now: the whole set, which can name you when others' changes came with yours (filter your own id). */
	typing: { room_id: string; user_ids: string[] };
	/** A member read up to `last_read_seq` (rooms up to `RECEIPT_MAX_MEMBERS` members, 100 by default). */
	read_receipt: { room_id: string; user_id: string; last_read_seq: number };
	/** Someone else came online in the room or went offline (never your own sockets). */
	presence: Presence;
	/** Each (re)join's answer: the room's last `seq` and who is online in it now (you too). */
	joined: { room_id: string; last_seq: number; online: string[] };
}

export interface RoomEvents extends ConversationEvents {
	state: ConnectionState;
	/** A socket went away; `willReconnect` says whether the SDK tries again. */
	disconnected: { code: number; reason: string; willReconnect: boolean };
	/** A protocol error not tied to a send, or why the room closed for good. */
	error: ChatRoomError;
}

/** The WebSocket constructor: the global one, or any implementation with the same shape. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

export interface RoomOptions extends BackoffOptions {
	/** Resume after this `seq` (e.g. the last message of the history you rendered); missed messages are replayed. */
	lastSeq?: number;
	/** A ping every this many ms (default 25 s). */
	heartbeatIntervalMs?: number;
	/** Without any frame for this long after a ping, the socket is treated as dead (default 10 s). */
	heartbeatTimeoutMs?: number;
	/** Refresh the token shortly before `exp` instead of waiting for the server's 4001 (default true). */
	refreshBeforeExpiry?: boolean;
}

export interface RoomDeps {
	baseUrl: string;
	roomId: string;
	tokens: TokenSource;
	WebSocket?: WebSocketConstructor;
	/** Asks the REST API why the socket cannot open (a browser never sees the handshake's status). */
	probe?: () => Promise<unknown>;
}

interface PendingSend {
	text: string;
	replyTo?: string;
	metadata?: Record<string, unknown>;
	resolve: (message: ChatMessage) => void;
	reject: (error: unknown) => void;
}

const OPEN = 1;
/** A token is refreshed before connecting when it has less than this left. */
const MIN_TOKEN_VALIDITY_MS = 2_000;

/** A client-chosen idempotency key; `crypto.randomUUID` is missing outside secure contexts. */
function newClientMsgId(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(16));
	return `c_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * One room over its own WebSocket. It keeps the application's view of the room whole
 * across drops: it reconnects with backoff, resumes with `join_room` + `last_seq`, drops
 * replayed duplicates, re-sends unacknowledged messages under their first `client_msg_id`
 * (so the server stores each once), and refreshes the JWT through `getToken()`.
 */
export class RoomConnection {
	readonly roomId: string;
	private readonly events = new Emitter<RoomEvents>();
	private readonly sequencer: Sequencer<LogEvent>;
	private readonly requests = new Map<string, { resolve: (data: Record<string, unknown>) => void; reject: (e: unknown) => void }>();
	private requestCount = 0;
	private readonly pending = new Map<string, PendingSend>();
	private readonly WebSocketImpl: WebSocketConstructor;
	private socket: WebSocket | null = null;
	private joined = false;
	private everJoined = false;
	private attempt = 0;
	private joinCount = 0;
	/** A `join_room` is on its way; a gap waits for its answer instead of asking again. */
	private joinInFlight = false;
	private resendScheduled = false;
	private currentState: ConnectionState = "connecting";
	private readonly timers = new Set<ReturnType<typeof setTimeout>>();
	private heartbeat: ReturnType<typeof setInterval> | undefined;
	private pongDeadline: ReturnType<typeof setTimeout> | undefined;
	private refreshTimer: ReturnType<typeof setTimeout> | undefined;

	constructor(
		private readonly deps: RoomDeps,
		private readonly options: RoomOptions = {},
	) {
		this.roomId = deps.roomId;
		this.sequencer = new Sequencer<LogEvent>(options.lastSeq);
		const impl = deps.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
		if (!impl)
			throw new TypeError("No WebSocket implementation: pass the WebSocket option (Node >= 22, browsers, Deno and Workers have one)");
		this.WebSocketImpl = impl;
		void this.connect();
	}

	/** Subscribes to an event; returns the function that unsubscribes. */
	on<K extends keyof RoomEvents>(event: K, listener: (value: RoomEvents[K]) => void): () => void {
		return this.events.on(event, listener);
	}

	get state(): ConnectionState {
		return this.currentState;
	}

	/** The highest `seq` delivered to the application so far. */
	get lastSeq(): number | undefined {
		return this.sequencer.last;
	}

	/**
	 * Sends a message and resolves with it as stored (its `seq`) once the server acknowledges.
	 * While offline it waits in a queue; after a reconnect it is re-sent with the same
	 * `client_msg_id`, so it is stored once however often it is sent.
	 */
	send(text: string, options: { signal?: AbortSignal; replyTo?: string; metadata?: Record<string, unknown> } = {}): Promise<ChatMessage> {
		if (this.currentState === "closed") return Promise.reject(new ChatRoomError("room_closed", "This room connection is closed"));
		const clientMsgId = newClientMsgId();
		return new Promise<ChatMessage>((resolve, reject) => {
			const { signal } = options;
			if (signal?.aborted) return reject(signal.reason);
			const onAbort = () => {
				// It may already be stored; aborting only stops waiting and re-sending.
				this.pending.delete(clientMsgId);
				reject(signal?.reason);
			};
			signal?.addEventListener("abort", onAbort, { once: true });
			this.pending.set(clientMsgId, {
				text,
				replyTo: options.replyTo,
				metadata: options.metadata,
				resolve: (message) => {
					signal?.removeEventListener("abort", onAbort);
					resolve(message);
				},
				reject: (error) => {
					signal?.removeEventListener("abort", onAbort);
					reject(error);
				},
			});
			if (this.joined) this.transmit(clientMsgId);
		});
	}

	/** Edits your message (a new version; the old one stays readable). Resolves with the message as it is now. */
	edit(messageId: string, text: string, options: { metadata?: Record<string, unknown> } = {}) {
		return this.request<MessageUpdated>("edit_message", { room_id: this.roomId, message_id: messageId, text_message: text, ...options });
	}

	/** Deletes your message (a tombstone stays); deleting twice answers the first deletion. */
	delete(messageId: string) {
		return this.request<MessageDeleted>("delete_message", { room_id: this.roomId, message_id: messageId });
	}

	/** Adds your reaction (e.g. an emoji); adding it again changes nothing. */
	react(messageId: string, type: string) {
		return this.request<ReactionChanged>("add_reaction", { room_id: this.roomId, message_id: messageId, type });
	}

	unreact(messageId: string, type: string) {
		return this.request<ReactionChanged>("remove_reaction", { room_id: this.roomId, message_id: messageId, type });
	}

	/** Tells the room you are typing; call it again within 6 s (e.g. on input, at most once a second) to stay typing. */
	typing(): void {
		if (this.joined) this.write({ event: "typing", data: { room_id: this.roomId } });
	}

	private request<T>(event: string, data: unknown): Promise<T> {
		const id = `req:${++this.requestCount}`;
		return new Promise<T>((resolve, reject) => {
			if (!this.joined) return reject(new ChatRoomError("internal_error", "Not connected"));
			this.requests.set(id, { resolve: (value) => resolve(value as T), reject });
			this.write({ event, data, id });
		});
	}

	/** Closes the socket for good; unacknowledged sends reject with `room_closed`. */
	close(): void {
		this.finish(new ChatRoomError("room_closed", "Closed by the application"), 1000, "closed by the application");
	}

	private async connect(): Promise<void> {
		if (this.currentState === "closed") return;
		this.setState(this.everJoined || this.attempt > 0 ? "reconnecting" : "connecting");
		let token: string | undefined;
		try {
			token = await this.deps.tokens.valid(MIN_TOKEN_VALIDITY_MS);
		} catch (error) {
			this.events.emit("error", new ChatRoomError("token_expired", `getToken() failed: ${String(error)}`));
			return this.retryLater();
		}
		if (this.isClosed()) return;
		if (!token) return this.finish(new ChatRoomError("token_expired", "Realtime needs a user JWT: pass token or getToken"));
		const url = `${this.deps.baseUrl.replace(/^http/, "ws")}/room/${encodeURIComponent(this.roomId)}/ws`;
		let socket: WebSocket;
		try {
			socket = new this.WebSocketImpl(url, [PROTOCOL_LABEL, token]);
		} catch (error) {
			this.events.emit("error", new ChatRoomError("internal_error", `Could not open a WebSocket: ${String(error)}`));
			return this.retryLater();
		}
		this.socket = socket;
		let opened = false;
		socket.addEventListener("open", () => {
			if (this.socket !== socket) return;
			opened = true;
			this.startHeartbeat();
			this.sendJoin();
		});
		socket.addEventListener("message", (event: MessageEvent) => {
			if (this.socket !== socket) return;
			this.alive();
			if (typeof event.data === "string") this.handleFrame(event.data);
		});
		socket.addEventListener("close", (event: CloseEvent) => {
			if (this.socket !== socket) return;
			void this.dropped(event.code, event.reason, opened);
		});
		// Browsers follow an error with a close, which is where the handling is. Node's WebSocket
		// (undici) fires only the error when the connection is refused and stays CONNECTING, so a
		// socket that never opened is given up here; its late close, if any, is then ignored.
		socket.addEventListener("error", () => {
			if (this.socket !== socket || opened) return;
			void this.dropped(1006, "connection failed", false);
		});
	}

	private handleFrame(frame: string): void {
		for (const event of parseServerFrame(frame)) {
			switch (event.event) {
				case "log":
					this.deliver(this.sequencer.accept(event.entry));
					// A hole in seq: ask the room to replay from what we have (duplicates are dropped).
					if (this.joined && this.sequencer.hasGap && !this.joinInFlight) this.sendJoin();
					break;
				case "typing":
				case "read_receipt":
				case "presence":
					this.events.emit(event.event, event.data as never);
					break;
				case "ack":
					this.handleAck(event.id, event.data);
					break;
				case "error":
					this.handleError(event.id, event.data.code, event.data.message, event.data.retry_after_ms);
					break;
				case "pong":
					break;
			}
		}
	}

	private handleAck(id: string | number | undefined, data: Record<string, unknown>): void {
		if (typeof id === "string" && id.startsWith("join:")) {
			this.joinInFlight = false;
			if (typeof data.last_seq === "number") {
				this.onJoined(data.last_seq);
				this.events.emit("joined", joinedOf(this.roomId, data));
			}
			return;
		}
		const request = typeof id === "string" ? this.requests.get(id) : undefined;
		if (request) {
			this.requests.delete(id as string);
			request.resolve(data);
			return;
		}
		const pending = typeof id === "string" ? this.pending.get(id) : undefined;
		if (pending && isStoredMessage(data)) {
			this.pending.delete(id as string);
			pending.resolve(data);
		}
	}

	private handleError(id: string | number | undefined, code: ChatRoomError["code"], message: string, retryAfterMs?: number): void {
		const request = typeof id === "string" ? this.requests.get(id) : undefined;
		if (request) {
			this.requests.delete(id as string);
			request.reject(new ChatRoomError(code, message, retryAfterMs));
			return;
		}
		const pending = typeof id === "string" ? this.pending.get(id) : undefined;
		if (code === "rate_limited") {
			// The frame was dropped, possibly before the server could read its id: send everything
			// unacknowledged again once the bucket refilled; `client_msg_id` keeps that safe.
			if (!this.resendScheduled) {
				this.resendScheduled = true;
				// Slow mode says how long; the frame rate limit refills within a second.
				this.later(
					() => {
						this.resendScheduled = false;
						this.resendPending();
					},
					Math.max(1_000, retryAfterMs ?? 0),
				);
			}
			if (!pending) this.events.emit("error", new ChatRoomError(code, message, retryAfterMs));
			return;
		}
		if (pending) {
			this.pending.delete(id as string);
			pending.reject(new ChatRoomError(code, message));
			return;
		}
		this.events.emit("error", new ChatRoomError(code, message));
	}

	private onJoined(roomLastSeq: number): void {
		this.joined = true;
		this.everJoined = true;
		this.attempt = 0;
		this.deliver(this.sequencer.start(roomLastSeq));
		this.setState("connected");
		this.resendPending();
		this.scheduleRefresh();
	}

	private deliver(entries: LogEvent[]): void {
		for (const entry of entries) this.events.emit(entry.event, entry.data as never);
	}

	private sendJoin(): void {
		this.joinInFlight = true;
		const last = this.sequencer.last;
		this.write({
			event: "join_room",
			id: `join:${++this.joinCount}`,
			data: last === undefined ? { room_id: this.roomId } : { room_id: this.roomId, last_seq: last },
		});
	}

	private resendPending(): void {
		if (!this.joined) return;
		for (const clientMsgId of this.pending.keys()) this.transmit(clientMsgId);
	}

	private transmit(clientMsgId: string): void {
		const pending = this.pending.get(clientMsgId);
		if (!pending) return;
		this.write({
			event: "send_message",
			id: clientMsgId,
			data: {
				room_id: this.roomId,
				text_message: pending.text,
				client_msg_id: clientMsgId,
				...(pending.replyTo ? { reply_to: pending.replyTo } : {}),
				...(pending.metadata ? { metadata: pending.metadata } : {}),
			},
		});
	}

	private write(frame: unknown): void {
		const socket = this.socket;
		if (socket?.readyState !== OPEN) return;
		try {
			socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
		} catch {
			// The socket is going away; its close event schedules the reconnect.
		}
	}

	private startHeartbeat(): void {
		const interval = this.options.heartbeatIntervalMs ?? 25_000;
		const timeout = this.options.heartbeatTimeoutMs ?? 10_000;
		this.heartbeat = setInterval(() => {
			this.write(PING);
			this.pongDeadline ??= setTimeout(() => {
				// No frame at all since the ping: the connection is gone even if TCP has not noticed.
				const socket = this.socket;
				if (socket) void this.dropped(4000, "heartbeat timeout", true);
			}, timeout);
		}, interval);
	}

	private alive(): void {
		if (this.pongDeadline !== undefined) clearTimeout(this.pongDeadline);
		this.pongDeadline = undefined;
	}

	/** Refreshes the token shortly before it expires, then moves the socket onto the new one. */
	private scheduleRefresh(): void {
		if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
		if (this.options.refreshBeforeExpiry === false || !this.deps.tokens.canRefresh) return;
		const token = this.deps.tokens.current ?? "";
		const { exp, iat } = readTokenClaims(token);
		if (exp === undefined) return;
		const lifetimeMs = iat === undefined ? 3_600_000 : (exp - iat) * 1000;
		const lead = Math.min(60_000, lifetimeMs / 5);
		const wait = Math.min(2 ** 31 - 1, Math.max(0, exp * 1000 - lead - Date.now()));
		this.refreshTimer = setTimeout(async () => {
			if (this.deps.tokens.current === token) {
				try {
					await this.deps.tokens.refresh();
				} catch (error) {
					this.events.emit("error", new ChatRoomError("token_expired", `getToken() failed: ${String(error)}`));
					return;
				}
			}
			// Resuming from last_seq makes the switch lossless; the server closes old-token sockets anyway.
			if (this.socket) void this.dropped(1000, "token refreshed", true, 0);
		}, wait);
	}

	private async dropped(code: number, reason: string, opened: boolean, delayMs?: number): Promise<void> {
		this.teardownSocket(code === 4000 ? 4000 : 1000, reason);
		if (this.currentState === "closed") return;
		if (code === CLOSE_REMOVED) {
			this.events.emit("disconnected", { code, reason, willReconnect: false });
			return this.finish(new ChatRoomError("removed", "You were removed from this room"));
		}
		if (code === CLOSE_TOKEN_EXPIRED) {
			const willReconnect = this.deps.tokens.canRefresh;
			this.events.emit("disconnected", { code, reason, willReconnect });
			if (!willReconnect) return this.finish(new ChatRoomError("token_expired", "The token expired and there is no getToken callback"));
			this.setState("reconnecting");
			try {
				await this.deps.tokens.refresh();
			} catch (error) {
				this.events.emit("error", new ChatRoomError("token_expired", `getToken() failed: ${String(error)}`));
				return this.retryLater();
			}
			return this.retryLater(0);
		}
		this.events.emit("disconnected", { code, reason, willReconnect: true });
		if (!opened && this.attempt > 0 && this.deps.probe && (await this.diagnose())) return;
		this.retryLater(delayMs);
	}

	/** After a failed handshake: a REST call tells a dead token or a lost membership from an outage. */
	private async diagnose(): Promise<boolean> {
		try {
			await this.deps.probe?.();
			return false;
		} catch (error) {
			if (!(error instanceof ChatApiError) || this.currentState === "closed") return false;
			if (error.code === "token_expired" && this.deps.tokens.canRefresh) return false;
			if (error.status === 401 || error.status === 403 || error.status === 404) {
				this.finish(new ChatRoomError(error.status === 401 ? "token_expired" : "forbidden", error.message));
				return true;
			}
			return false;
		}
	}

	private retryLater(delayMs?: number): void {
		if (this.currentState === "closed") return;
		this.setState(this.everJoined || this.attempt > 0 ? "reconnecting" : "connecting");
		const delay = delayMs ?? backoffDelay(this.attempt, this.options);
		this.attempt += 1;
		this.later(() => void this.connect(), delay);
	}

	private later(fn: () => void, ms: number): void {
		const timer = setTimeout(() => {
			this.timers.delete(timer);
			fn();
		}, ms);
		this.timers.add(timer);
	}

	private teardownSocket(code: number, reason: string): void {
		const socket = this.socket;
		this.socket = null;
		this.joined = false;
		this.joinInFlight = false;
		for (const request of this.requests.values()) request.reject(new ChatRoomError("internal_error", "Connection lost"));
		this.requests.clear();
		if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
		this.alive();
		if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
		if (!socket) return;
		try {
			// Not waiting for the close handshake: on a dead connection it may never finish.
			if (socket.readyState <= OPEN) socket.close(code, reason);
		} catch {
			// Already closing.
		}
	}

	private finish(error: ChatRoomError, code = 1000, reason = "closed"): void {
		if (this.currentState === "closed") return;
		this.teardownSocket(code, reason);
		for (const timer of this.timers) clearTimeout(timer);
		this.timers.clear();
		this.setState("closed");
		for (const pending of this.pending.values()) pending.reject(error);
		this.pending.clear();
		if (error.code !== "room_closed") this.events.emit("error", error);
	}

	/** A method, so TypeScript does not narrow the state across an `await`. */
	private isClosed(): boolean {
		return this.currentState === "closed";
	}

	private setState(state: ConnectionState): void {
		if (this.currentState === state) return;
		this.currentState = state;
		this.events.emit("state", state);
	}
}
