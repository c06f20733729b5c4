import type { DirectoryObject } from "./runtimes/cloudflare/directory-object";
import type { GatewayObject } from "./runtimes/cloudflare/gateway-object";
import type { RoomObject } from "./runtimes/cloudflare/room-object";
import type { WebhookDispatcher } from "./runtimes/cloudflare/webhook-dispatcher";

/** Every binding and setting the Worker reads, each documented in one line. */
export interface Env {
	/** D1 database holding clients, users, rooms and memberships (Cloudflare). */
	DB?: D1Database;
	/** SQLite-backed Durable Object holding the same directory when D1 is absent (bare workerd). */
	DIRECTORY?: DurableObjectNamespace<DirectoryObject>;
	/** One Durable Object per room: its messages, sequence numbers and WebSockets. */
	ROOMS: DurableObjectNamespace<RoomObject>;
	/** User sockets (`GET /ws`): one object per client and shard of its users. */
	GATEWAYS: DurableObjectNamespace<GatewayObject>;
	/** Bearer token for the /admin routes; when unset the admin routes answer 503. */
	ADMIN_TOKEN?: string;
	/** HS256 secret that signs user JWTs. */
	JWT_SECRET?: string;
	/** The previous JWT secret, still accepted for verification while tokens signed with it expire. */
	JWT_SECRET_PREVIOUS?: string;
	/** Lifetime of minted JWTs in seconds (default 3600). */
	JWT_TTL_SECONDS?: string;
	/** Maximum `text_message` length in characters (default 4000). */
	MAX_MESSAGE_LENGTH?: string;
	/** Comma-separated origins allowed by CORS, or `*` (default `*`). */
	CORS_ORIGINS?: string;
	/** Comma-separated browser origins allowed to open WebSockets; empty allows any. */
	WS_ALLOWED_ORIGINS?: string;
	/** Sustained WebSocket frames per second per connection (default 20). */
	WS_RATE_PER_SECOND?: string;
	/** WebSocket frame burst per connection (default 40). */
	WS_RATE_BURST?: string;
	/** Sustained REST sends per second per user and room (default 20). */
	REST_SEND_RATE_PER_SECOND?: string;
	/** REST send burst per user and room (default 40). */
	REST_SEND_RATE_BURST?: string;
	/** Maximum open WebSockets per room (default 10000). */
	MAX_SOCKETS_PER_ROOM?: string;
	/** Maximum open WebSockets per user in one room (default 20). */
	MAX_SOCKETS_PER_USER?: string;
	/** Bytes sent to a socket with no frame or heartbeat from it before it is closed with 4008 (default 16 MiB). */
	MAX_UNREAD_BYTES?: string;
	/** Gateway objects per client that hold its user sockets; a room calls at most this many per flush (default 16). Changing it moves users: their sockets reconnect. */
	GATEWAY_SHARDS?: string;
	/** Rooms one user socket may have joined at once (default 500). */
	MAX_ROOMS_PER_SOCKET?: string;
	/** Rooms listed in the user socket's `ready` frame, those with unread first (default 200; the rest by REST). */
	READY_MAX_ROOMS?: string;
	/** Room-list pushes (`inbox_update`, `read`) to a gateway without sockets joined to the room come at most this often, in ms (default 1000). */
	INBOX_DEBOUNCE_MS?: string;
	/** A typer without a refresh for this long (ms) leaves the typing set (default 6000). */
	TYPING_TTL_MS?: string;
	/** A user whose last socket left a room is announced offline this long after (ms, default 5000). */
	PRESENCE_GRACE_MS?: string;
	/** Rooms with more members or online users than this send no presence events (default 100). */
	PRESENCE_MAX_MEMBERS?: string;
	/** Rooms with more members than this send no read receipts (default 100). */
	RECEIPT_MAX_MEMBERS?: string;
	/** `on` lets sockets negotiate permessage-deflate when the client offers it; `off` (default) declines it. */
	WS_COMPRESSION?: string;
	/** `info` (default) logs one structured line per request; `error` logs only unhandled errors (tests set it). */
	LOG_LEVEL?: string;
	/** `1`: the gateway's 101 names the instance that took the socket (benchmarks; see bench/user-socket.mjs). */
	EXPOSE_INSTANCE?: string;
	/** Set to "1" to enable the /demo page's "mint a user" helper with the admin token (local development). */
	DEMO_DEV_MODE?: string;
	/** One Durable Object per client: its webhook endpoints, deliveries and retries (src/webhooks). */
	WEBHOOKS?: DurableObjectNamespace<WebhookDispatcher>;
	/** Bare workerd only: a network service that may reach private and loopback addresses, used when WEBHOOK_ALLOW_INSECURE=1. */
	WEBHOOK_PRIVATE_NETWORK?: Fetcher;
	/** Set to "1" to allow http:// and private/loopback webhook URLs (local development, tests). */
	WEBHOOK_ALLOW_INSECURE?: string;
	/** Comma-separated seconds between webhook attempts (default 5,300,1800,7200,18000,36000,50400,72000,86400). */
	WEBHOOK_RETRY_SCHEDULE?: string;
	/** Milliseconds one webhook attempt may take (default 15000). */
	WEBHOOK_TIMEOUT_MS?: string;
	/** Seconds between a dispatcher's checks of the directory outbox when no kick came (default 300). */
	WEBHOOK_SWEEP_SECONDS?: string;
	/** Secret the webhook endpoint secrets are encrypted under (AES-GCM, key by HKDF); falls back to JWT_SECRET. */
	WEBHOOK_ENCRYPTION_KEY?: string;
	/** Seconds the previous webhook secret keeps signing after a rotation (default 86400). */
	WEBHOOK_SECRET_OVERLAP_SECONDS?: string;
	/** Deno host only (src/runtimes/deno): hands an in-process object the client's own request to upgrade (Deno cannot upgrade a copy). Unset on workerd. */
	LOCAL_UPGRADE?: (object: unknown, forwarded: Request, original: Request) => Promise<Response>;
}
