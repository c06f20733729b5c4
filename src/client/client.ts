import { Http } from "./http";
import { RoomConnection, type RoomOptions, type WebSocketConstructor } from "./realtime/room-connection";
import { UserConnection, type UserOptions } from "./realtime/user-connection";
import { adminApi } from "./rest/admin";
import { messagesApi } from "./rest/messages";
import { moderationApi } from "./rest/moderation";
import { roomsApi } from "./rest/rooms";
import { usersApi } from "./rest/users";
import { type GetToken, TokenSource } from "./token-source";

export interface ClientOptions {
	/** Where the chat service runs, e.g. `https://chat.example.com`. */
	baseUrl: string;
	/** Your client's API token (`rk_...`), on your backend only: never ship it to a browser. */
	apiToken?: string;
	/** With `apiToken`: act as this user, and mint its JWTs for realtime automatically. */
	userId?: string;
	/** A user JWT (from `POST /auth/{user_id}`), e.g. in a browser. */
	token?: string;
	/** Called for a fresh JWT when the current one expires (socket close 4001, shortly before `exp`, or a REST 401). */
	getToken?: GetToken;
	/** The server's `ADMIN_TOKEN`, for `client.admin` only. */
	adminToken?: string;
	/** Replaces the global `fetch`. */
	fetch?: typeof fetch;
	/** Replaces the global `WebSocket`. */
	WebSocket?: WebSocketConstructor;
}

/** The REST API as typed methods, plus `joinRoom` for realtime. */
export class ChatClient {
	readonly admin;
	readonly users;
	readonly rooms;
	readonly messages;
	readonly moderation;
	private readonly http: Http;
	private readonly tokens: TokenSource;

	constructor(private readonly options: ClientOptions) {
		const { apiToken, userId } = options;
		// A backend acting as a user can mint that user's JWTs itself.
		const getToken = options.getToken ?? (apiToken && userId ? async () => (await this.users.token(userId)).token : undefined);
		this.tokens = new TokenSource(options.token, getToken);
		this.http = new Http({ ...options, tokens: this.tokens });
		this.admin = adminApi(this.http);
		this.users = usersApi(this.http);
		this.rooms = roomsApi(this.http);
		this.messages = messagesApi(this.http);
		this.moderation = moderationApi(this.http);
	}

	/** The JWT in use (after any refresh). */
	get token(): string | undefined {
		return this.tokens.current;
	}

	/** Replaces the JWT, e.g. after your own refresh; open rooms use it on their next connect. */
	setToken(token: string): void {
		this.tokens.set(token);
	}

	/**
	 * Opens the user socket: one WebSocket for all of the user's rooms. `chat.rooms` is the room
	 * list with unread counts (kept current); `chat.join(roomId)` subscribes to a room's messages;
	 * `chat.send(roomId, text)` and `chat.markRead(roomId, seq)` work for any of the user's rooms.
	 */
	connect(options: UserOptions = {}): UserConnection {
		return new UserConnection({ baseUrl: this.http.baseUrl, tokens: this.tokens, WebSocket: this.options.WebSocket }, options);
	}

	/**
	 * Opens the room's WebSocket and keeps it open until `close()`. Listen with
	 * `room.on("new_message" | "state" | "disconnected" | "error", fn)`; `await room.send(text)`.
	 * Each call opens its own socket, so several rooms work at once.
	 */
	joinRoom(roomId: string, options: RoomOptions = {}): RoomConnection {
		return new RoomConnection(
			{
				baseUrl: this.http.baseUrl,
				roomId,
				tokens: this.tokens,
				WebSocket: this.options.WebSocket,
				probe: () => this.rooms.get(roomId),
			},
			options,
		);
	}
}

export const createClient = (options: ClientOptions): ChatClient => new ChatClient(options);
