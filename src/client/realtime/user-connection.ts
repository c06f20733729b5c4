import { Emitter } from "../emitter";
import { ChatRoomError } from "../errors";
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
	parseServerFrame,
	type ReactionChanged,
	type RoomState,
} from "./frames";
import type { ConnectionState, ConversationEvents, WebSocketConstructor } from "./room-connection";
import { Sequencer } from "./sequencer";

export type { RoomState } from "./frames";

export interface UserEvents extends Record<string, unknown> {
	/** The room list after (re)connecting: the rooms with news first, and the total unread. */
	ready: { rooms: RoomState[]; unread_total: number };
	/** One room's place in the room list changed (a message, a read on any device, a removal). */
	room: RoomState & { message?: ChatMessage | null; removed?: boolean };
	/**
	 * The user's unread over all their rooms: `ready`'s total, kept current by every update since.
	 * Exact whenever `ready` listed every room with unread messages (it lists those first, up to the
	 * server's `READY_MAX_ROOMS`); see `UserConnection.unreadTotal` for the case beyond.
	 */
	unread_total: number;
	state: ConnectionState;
	disconnected: { code: number; reason: string; willReconnect: boolean };
	error: ChatRoomError;
}

export interface SubscriptionEvents extends ConversationEvents {
	/** The user was removed from this private room; the subscription has ended. */
	removed: { room_id: string };
	error: ChatRoomError;
}

export interface UserOptions extends BackoffOptions {
	/** A ping every this many ms (default 25 s). */
	heartbeatIntervalMs?: number;
	/** Without any frame for this long after a ping, the socket is treated as dead (default 10 s). */
	heartbeatTimeoutMs?: number;
}

export interface UserDeps {
	baseUrl: string;
	tokens: TokenSource;
	WebSocket?: WebSocketConstructor;
}

interface Pending {
	roomId: string;
	text: string;
	replyTo?: string;
	metadata?: Record<string, unknown>;
	resolve: (message: ChatMessage) => void;
	reject: (error: unknown) => void;
}

const OPEN = 1;
/** Joins sent at once after a (re)connect; the rest follow a second later each (the frame rate limit is 20/s, bursts of 40). */
const JOINS_PER_SECOND = 15;
/** Errors after which a request is tried again (the frame was dropped or the room failed; nothing was stored twice). */
const RETRIED = new Set(["rate_limited", "internal_error"]);

function newClientMsgId(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(16));
	return `c_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** One joined room on the user socket: its messages, exactly once and in order, across reconnects. */
export class RoomSubscription {
	readonly events = new Emitter<SubscriptionEvents>();
	readonly sequencer: Sequencer<LogEvent>;
	joined = false;
	ended = false;

	constructor(
		readonly roomId: string,
		private readonly connection: UserConnection,
		lastSeq?: number,
	) {
		this.sequencer = new Sequencer<LogEvent>(lastSeq);
	}

	on<K extends keyof SubscriptionEvents>(event: K, listener: (value: SubscriptionEvents[K]) => void): () => void {
		return this.events.on(event, listener);
	}

	/** The highest `seq` delivered so far. */
	get lastSeq(): number | undefined {
		return this.sequencer.last;
	}

	send(text: string, options: { replyTo?: string; metadata?: Record<string, unknown> } = {}): Promise<ChatMessage> {
		return this.connection.send(this.roomId, text, options);
	}

	/** Edits your message (a new version; the old one stays readable). */
	edit(messageId: string, text: string, options: { metadata?: Record<string, unknown> } = {}) {
		return this.connection.request<MessageUpdated>("edit_message", {
			room_id: this.roomId,
			message_id: messageId,
			text_message: text,
			...options,
		});
	}

	/** Deletes your message (a tombstone stays). */
	delete(messageId: string) {
		return this.connection.request<MessageDeleted>("delete_message", { room_id: this.roomId, message_id: messageId });
	}

	react(messageId: string, type: string) {
		return this.connection.request<ReactionChanged>("add_reaction", { room_id: this.roomId, message_id: messageId, type });
	}

	unreact(messageId: string, type: string) {
		return this.connection.request<ReactionChanged>("remove_reaction", { room_id: this.roomId, message_id: messageId, type });
	}

	/** You are typing: call again within 6 s (at most once a second) to stay in the set. */
	typing(): void {
		if (this.joined) this.connection.fire("typing", { room_id: this.roomId });
	}

	/** Marks everything delivered so far (or up to `seq`) as read. */
	markRead(seq = this.sequencer.last ?? 0) {
		return this.connection.markRead(this.roomId, seq);
	}

	/** Stops live delivery for this room on this connection (the room stays in the room list). */
	leave(): void {
		this.connection.leave(this.roomId);
	}
}

/**
 * The user socket (`/ws`): one WebSocket for all of a user's rooms. It keeps the room list and
 * unread counts current (`ready`, `inbox_update`, `read`, `room_removed`), delivers each joined
 * room's messages exactly once and in order, and across drops reconnects with backoff, re-joins
 * every room from its last delivered `seq` and re-sends unacknowledged messages under their first
 * `client_msg_id` (stored once however often sent).
 */
export class UserConnection {
	/** The room list: every room the server told us about, with its read state. */
	readonly rooms = new Map<string, RoomState>();
	private readonly events = new Emitter<UserEvents>();
	private readonly subscriptions = new Map<string, RoomSubscription>();
	private readonly pending = new Map<string, Pending>();
	private readonly requests = new Map<string, { resolve: (data: Record<string, unknown>) => void; reject: (e: unknown) => void }>();
	private readonly WebSocketImpl: WebSocketConstructor;
	private socket: WebSocket | null = null;
	private ready = false;
	/** The sum of `unread` over `rooms`. */
	private listed = 0;
	/** What `ready`'s total counted in rooms it did not list (past READY_MAX_ROOMS): not in `rooms`. */
	private unlisted = 0;
	private joinQueue: RoomSubscription[] = [];
	private joinTimer: ReturnType<typeof setTimeout> | undefined;
	private attempt = 0;
	private counter = 0;
	private currentState: ConnectionState = "connecting";
	private heartbeat: ReturnType<typeof setInterval> | undefined;
	private pongDeadline: ReturnType<typeof setTimeout> | undefined;
	private retryTimer: ReturnType<typeof setTimeout> | undefined;

	constructor(
		private readonly deps: UserDeps,
		private readonly options: UserOptions = {},
	) {
		const impl = deps.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
		if (!impl) throw new TypeError("No WebSocket implementation: pass the WebSocket option");
		this.WebSocketImpl = impl;
		void this.connect();
	}

	on<K extends keyof UserEvents>(event: K, listener: (value: UserEvents[K]) => void): () => void {
		return this.events.on(event, listener);
	}

	get state(): ConnectionState {
		return this.currentState;
	}

	/**
	 * The user's unread over all their rooms: the rooms in `rooms`, exactly, plus what `ready`'s
	 * total counted in rooms it did not list. Such a room, once an update names it, joins `rooms`
	 * with its count, and its earlier share leaves the remainder: that share is not known, so it is
	 * taken to be its count now, as far as the remainder holds (never below zero). Exact when the
	 * remainder is 0 (`ready` listed every room with unread); otherwise it never counts a room
	 * twice, and the next `ready` makes it exact again.
	 */
	get unreadTotal(): number {
		return this.unlisted + this.listed;
	}

	/** Joins a room on this connection: missed messages after `lastSeq` first, then live ones. */
	join(roomId: string, options: { lastSeq?: number } = {}): RoomSubscription {
		let subscription = this.subscriptions.get(roomId);
		if (!subscription) {
			subscription = new RoomSubscription(roomId, this, options.lastSeq);
			this.subscriptions.set(roomId, subscription);
			if (this.ready) this.queueJoin(subscription);
		}
		return subscription;
	}

	leave(roomId: string): void {
		const subscription = this.subscriptions.get(roomId);
		if (!subscription) return;
		this.subscriptions.delete(roomId);
		subscription.ended = true;
		this.write({ event: "leave_room", data: { room_id: roomId } });
	}

	/** Sends to any room the user may send in, joined or not; resolves with the stored message. */
	send(roomId: string, text: string, options: { replyTo?: string; metadata?: Record<string, unknown> } = {}): Promise<ChatMessage> {
		if (this.currentState === "closed") return Promise.reject(new ChatRoomError("room_closed", "This connection is closed"));
		const clientMsgId = newClientMsgId();
		return new Promise((resolve, reject) => {
			this.pending.set(clientMsgId, { roomId, text, ...options, resolve, reject });
			if (this.ready) this.transmit(clientMsgId);
		});
	}

	/** Moves the read position forward; the user's other devices get the new count too. */
	async markRead(roomId: string, seq: number): Promise<{ room_id: string; last_read_seq: number; unread: number }> {
		const data = await this.request("mark_read", { room_id: roomId, seq });
		const result = { room_id: roomId, last_read_seq: Number(data.last_read_seq), unread: Number(data.unread) };
		this.updateRoom({ room_id: roomId, last_read_seq: result.last_read_seq, unread: result.unread });
		return result;
	}

	close(): void {
		if (this.currentState === "closed") return;
		this.teardown(1000, "closed by the application");
		if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
		this.setState("closed");
		const error = new ChatRoomError("room_closed", "Closed by the application");
		for (const p of this.pending.values()) p.reject(error);
		for (const r of this.requests.values()) r.reject(error);
		this.pending.clear();
		this.requests.clear();
	}

	private async connect(): Promise<void> {
		if (this.currentState === "closed") return;
		let token: string | undefined;
		try {
			token = await this.deps.tokens.valid(2_000);
		} catch (error) {
			this.events.emit("error", new ChatRoomError("token_expired", `getToken() failed: ${String(error)}`));
			return this.retryLater();
		}
		if (!token) {
			this.events.emit("error", new ChatRoomError("token_expired", "Realtime needs a user JWT: pass token or getToken"));
			return this.close();
		}
		const socket = new this.WebSocketImpl(`${this.deps.baseUrl.replace(/^http/, "ws")}/ws`, [PROTOCOL_LABEL, token]);
		this.socket = socket;
		let opened = false;
		socket.addEventListener("open", () => {
			if (this.socket !== socket) return;
			opened = true;
			this.startHeartbeat();
		});
		socket.addEventListener("message", (event: MessageEvent) => {
			if (this.socket !== socket) return;
			this.alive();
			if (typeof event.data === "string") this.handleFrame(event.data);
		});
		socket.addEventListener("close", (event: CloseEvent) => {
			if (this.socket === socket) void this.dropped(event.code, event.reason);
		});
		socket.addEventListener("error", () => {
			if (this.socket === socket && !opened) void this.dropped(1006, "connection failed");
		});
	}

	private handleFrame(frame: string): void {
		for (const event of parseServerFrame(frame)) {
			switch (event.event) {
				case "ready": {
					this.ready = true;
					this.attempt = 0;
					// The server's list replaces ours: rooms left while offline go.
					this.rooms.clear();
					for (const room of event.data.rooms) this.rooms.set(room.room_id, { ...room });
					this.listed = event.data.rooms.reduce((sum, room) => sum + room.unread, 0);
					this.unlisted = Math.max(0, event.data.unread_total - this.listed);
					this.events.emit("ready", { rooms: event.data.rooms, unread_total: event.data.unread_total });
					this.events.emit("unread_total", this.unreadTotal);
					this.setState("connected");
					this.joinQueue = [...this.subscriptions.values()];
					this.drainJoins();
					for (const clientMsgId of this.pending.keys()) this.transmit(clientMsgId);
					break;
				}
				case "log": {
					const { entry } = event;
					const roomId = entry.event === "message_updated" ? entry.data.message.room_id : entry.data.room_id;
					const subscription = this.subscriptions.get(roomId);
					if (!subscription) break;
					for (const ready of subscription.sequencer.accept(entry)) subscription.events.emit(ready.event, ready.data as never);
					if (subscription.joined && subscription.sequencer.hasGap) this.sendJoin(subscription);
					break;
				}
				case "typing":
				case "read_receipt":
				case "presence":
					this.subscriptions.get(event.data.room_id)?.events.emit(event.event, event.data as never);
					break;
				case "inbox_update": {
					const { room_id, last_seq, unread, message } = event.data;
					this.updateRoom({ room_id, last_seq, unread }, message);
					break;
				}
				case "read":
					this.updateRoom(event.data);
					break;
				case "room_removed": {
					const { room_id } = event.data;
					const known = this.rooms.get(room_id);
					this.rooms.delete(room_id);
					// A room `ready` did not list keeps its unknown share of the remainder until the next `ready`.
					this.listed -= known?.unread ?? 0;
					this.events.emit("room", {
						room_id,
						last_seq: known?.last_seq ?? 0,
						last_read_seq: known?.last_read_seq ?? 0,
						unread: 0,
						removed: true,
					});
					this.events.emit("unread_total", this.unreadTotal);
					const subscription = this.subscriptions.get(room_id);
					if (subscription) {
						this.subscriptions.delete(room_id);
						subscription.ended = true;
						subscription.events.emit("removed", { room_id });
					}
					break;
				}
				case "ack":
					this.handleAck(event.id, event.data);
					break;
				case "error":
					this.handleError(event.id, new ChatRoomError(event.data.code, event.data.message, event.data.retry_after_ms));
					break;
				case "pong":
					break;
			}
		}
	}

	private handleAck(id: string | number | undefined, data: Record<string, unknown>): void {
		if (typeof id !== "string") return;
		if (id.startsWith("join:")) {
			const subscription = this.subscriptions.get(id.slice(5));
			if (!subscription || typeof data.last_seq !== "number") return;
			subscription.joined = true;
			for (const entry of subscription.sequencer.start(data.last_seq)) subscription.events.emit(entry.event, entry.data as never);
			subscription.events.emit("joined", joinedOf(subscription.roomId, data));
			return;
		}
		const request = this.requests.get(id);
		if (request) {
			this.requests.delete(id);
			request.resolve(data);
			return;
		}
		const pending = this.pending.get(id);
		if (pending && isStoredMessage(data)) {
			this.pending.delete(id);
			pending.resolve(data);
		}
	}

	private handleError(id: string | number | undefined, error: ChatRoomError): void {
		if (typeof id === "string" && id.startsWith("join:")) {
			const subscription = this.subscriptions.get(id.slice(5));
			if (subscription && RETRIED.has(error.code)) {
				setTimeout(() => {
					if (this.subscriptions.get(subscription.roomId) === subscription) this.queueJoin(subscription);
				}, 1_000);
				return;
			}
			if (subscription) {
				this.subscriptions.delete(subscription.roomId);
				subscription.ended = true;
				subscription.events.emit("error", error);
			}
			return;
		}
		const request = typeof id === "string" ? this.requests.get(id) : undefined;
		if (request) {
			this.requests.delete(id as string);
			request.reject(error);
			return;
		}
		const pending = typeof id === "string" ? this.pending.get(id) : undefined;
		if (pending && !RETRIED.has(error.code)) {
			this.pending.delete(id as string);
			pending.reject(error);
			return;
		}
		if (pending) {
			setTimeout(() => this.transmit(id as string), 1_000);
			return;
		}
		this.events.emit("error", error);
	}

	private updateRoom(change: Partial<RoomState> & { room_id: string }, message?: ChatMessage | null): void {
		const previous = this.rooms.get(change.room_id);
		const next = { ...(previous ?? { room_id: change.room_id, last_seq: 0, last_read_seq: 0, unread: 0 }), ...change };
		this.rooms.set(change.room_id, next);
		// A room not in the list yet: counted in `unlisted` (see unreadTotal), up to its count now.
		if (!previous) this.unlisted -= Math.min(this.unlisted, next.unread);
		this.listed += next.unread - (previous?.unread ?? 0);
		this.events.emit("room", message === undefined ? next : { ...next, message });
		this.events.emit("unread_total", this.unreadTotal);
	}

	/** A request answered by an `ack` (or `error`) with its id. */
	request<T = Record<string, unknown>>(event: string, data: unknown): Promise<T> {
		const id = `req:${++this.counter}`;
		return new Promise<T>((resolve, reject) => {
			if (!this.ready) return reject(new ChatRoomError("internal_error", "Not connected"));
			this.requests.set(id, { resolve: (value) => resolve(value as T), reject });
			this.write({ event, data, id });
		});
	}

	/** A frame nobody waits for (typing). */
	fire(event: string, data: unknown): void {
		this.write({ event, data });
	}

	private queueJoin(subscription: RoomSubscription): void {
		this.joinQueue.push(subscription);
		this.drainJoins();
	}

	/** Joins go out JOINS_PER_SECOND at a time, so a user in hundreds of rooms stays under the frame rate limit. */
	private drainJoins(): void {
		if (this.joinTimer !== undefined || !this.ready) return;
		for (const subscription of this.joinQueue.splice(0, JOINS_PER_SECOND)) {
			if (this.subscriptions.get(subscription.roomId) === subscription) this.sendJoin(subscription);
		}
		if (this.joinQueue.length > 0) {
			this.joinTimer = setTimeout(() => {
				this.joinTimer = undefined;
				this.drainJoins();
			}, 1_000);
		}
	}

	private sendJoin(subscription: RoomSubscription): void {
		subscription.joined = false;
		const last = subscription.sequencer.last;
		this.write({
			event: "join_room",
			id: `join:${subscription.roomId}`,
			data: last === undefined ? { room_id: subscription.roomId } : { room_id: subscription.roomId, last_seq: last },
		});
	}

	private transmit(clientMsgId: string): void {
		const pending = this.pending.get(clientMsgId);
		if (!pending) return;
		this.write({
			event: "send_message",
			id: clientMsgId,
			data: {
				room_id: pending.roomId,
				text_message: pending.text,
				client_msg_id: clientMsgId,
				...(pending.replyTo ? { reply_to: pending.replyTo } : {}),
				...(pending.metadata ? { metadata: pending.metadata } : {}),
			},
		});
	}

	private write(frame: unknown): void {
		if (this.socket?.readyState !== OPEN) return;
		try {
			this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
		} catch {
			// Going away; the close event reconnects.
		}
	}

	private startHeartbeat(): void {
		const interval = this.options.heartbeatIntervalMs ?? 25_000;
		const timeout = this.options.heartbeatTimeoutMs ?? 10_000;
		this.heartbeat = setInterval(() => {
			this.write(PING);
			this.pongDeadline ??= setTimeout(() => void this.dropped(4000, "heartbeat timeout"), timeout);
		}, interval);
	}

	private alive(): void {
		if (this.pongDeadline !== undefined) clearTimeout(this.pongDeadline);
		this.pongDeadline = undefined;
	}

	private async dropped(code: number, reason: string): Promise<void> {
		this.teardown(1000, reason);
		if (this.currentState === "closed") return;
		// 4003: the user was banned client-wide; reconnecting would be refused.
		const banned = code === CLOSE_REMOVED;
		this.events.emit("disconnected", { code, reason, willReconnect: !banned });
		if (banned) return this.close();
		if (code === CLOSE_TOKEN_EXPIRED && this.deps.tokens.canRefresh) {
			try {
				await this.deps.tokens.refresh();
			} catch (error) {
				this.events.emit("error", new ChatRoomError("token_expired", `getToken() failed: ${String(error)}`));
			}
			return this.retryLater(0);
		}
		this.retryLater();
	}

	private retryLater(delayMs?: number): void {
		if (this.currentState === "closed") return;
		this.setState("reconnecting");
		const delay = delayMs ?? backoffDelay(this.attempt, this.options);
		this.attempt += 1;
		this.retryTimer = setTimeout(() => void this.connect(), delay);
	}

	private teardown(code: number, reason: string): void {
		const socket = this.socket;
		this.socket = null;
		this.ready = false;
		if (this.joinTimer !== undefined) clearTimeout(this.joinTimer);
		this.joinTimer = undefined;
		this.joinQueue = [];
		for (const subscription of this.subscriptions.values()) subscription.joined = false;
		for (const request of this.requests.values()) request.reject(new ChatRoomError("internal_error", "Connection lost"));
		this.requests.clear();
		if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
		this.alive();
		try {
			if (socket && socket.readyState <= OPEN) socket.close(code, reason);
		} catch {
			// Already closing.
		}
	}

	private setState(state: ConnectionState): void {
		if (this.currentState === state) return;
		this.currentState = state;
		this.events.emit("state", state);
	}
}
