// The Roomkit chat SDK: web standards only (fetch, WebSocket), so it runs in browsers,
// Node >= 22, Deno and Workers. Types come from the server's zod schemas; no zod ships.
export { ChatClient, type ClientOptions, createClient } from "./client";
export { ChatApiError, ChatRoomError, type FieldIssue } from "./errors";
export { Http, type HttpOptions } from "./http";
export { readTokenClaims, type TokenClaims } from "./jwt";
export { type BackoffOptions, backoffDelay } from "./realtime/backoff";
export type { LogEvent, MessageDeleted, MessageUpdated, Presence, ReactionChanged, ReactionCounts } from "./realtime/frames";
export {
	type ConnectionState,
	type ConversationEvents,
	RoomConnection,
	type RoomEvents,
	type RoomOptions,
	type WebSocketConstructor,
} from "./realtime/room-connection";
export { Sequencer } from "./realtime/sequencer";
export {
	type RoomState,
	RoomSubscription,
	type SubscriptionEvents,
	UserConnection,
	type UserEvents,
	type UserOptions,
} from "./realtime/user-connection";
export { type AdminApi, adminApi } from "./rest/admin";
export { type MessagesApi, messagesApi } from "./rest/messages";
export { type ModerationApi, moderationApi } from "./rest/moderation";
export { type RoomsApi, roomsApi } from "./rest/rooms";
export { type UsersApi, usersApi } from "./rest/users";
export { type GetToken, TokenSource } from "./token-source";
export type * from "./types";
export {
	type VerifyWebhookOptions,
	verifyWebhook,
	verifyWebhookSignature,
	type WebhookEvent,
	WebhookVerificationError,
	type WebhookVerificationErrorCode,
} from "./webhooks";
