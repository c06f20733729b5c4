import type { ClientRow, MembershipRow, MessageFlagRow, RoomRow, UserRow, WebhookOutboxRow } from "./schema";

export interface Page {
	/** Return rows with ids greater than this one. */
	after?: string;
	limit: number;
}

/**
 * The one interface routes use for clients, users, rooms and memberships.
 * Implemented by drizzle over D1 (Cloudflare) and over a Durable Object's SQLite
 * (bare workerd); every method is scoped by client id where a client owns the data.
 */
export interface Directory {
	createClient(row: ClientRow): Promise<void>;
	setClientTokenHash(clientId: string, apiTokenHash: string): Promise<ClientRow | null>;
	findClientByTokenHash(apiTokenHash: string): Promise<ClientRow | null>;

	createUser(row: UserRow): Promise<void>;
	getUser(clientId: string, userId: string): Promise<UserRow | null>;
	listUsers(clientId: string, page: Page): Promise<UserRow[]>;
	/** Which of `userIds` exist in the client. */
	existingUserIds(clientId: string, userIds: string[]): Promise<string[]>;

	/** Creates the room and its initial memberships. */
	createRoom(row: RoomRow, memberIds: string[]): Promise<void>;
	getRoom(clientId: string, roomId: string): Promise<RoomRow | null>;
	listUserRooms(clientId: string, userId: string, page: Page): Promise<RoomRow[]>;

	isMember(clientId: string, roomId: string, userId: string): Promise<boolean>;
	/** Adds the membership unless it exists; returns the stored one either way. */
	addMember(row: MembershipRow): Promise<{ added: boolean; membership: MembershipRow }>;
	/** Returns false when the user was not a member. */
	removeMember(clientId: string, roomId: string, userId: string): Promise<boolean>;
	listMembers(clientId: string, roomId: string, page: Page): Promise<MembershipRow[]>;

	// Webhooks (src/webhooks): which clients get directory events, and their outbox.
	/** Turns the outbox triggers on or off for the client. */
	setWebhookEvents(clientId: string, enabled: boolean): Promise<void>;
	/** The client's oldest outbox events, in order. */
	webhookEvents(clientId: string, limit: number): Promise<WebhookOutboxRow[]>;
	/** Deletes the client's outbox events up to and including `throughSeq` (the dispatcher holds them). */
	dropWebhookEvents(clientId: string, throughSeq: number): Promise<void>;

	// Moderation: reports of messages.
	/** Stores the flag unless this user already flagged this message; returns the stored one either way. */
	flagMessage(row: MessageFlagRow): Promise<{ created: boolean; flag: MessageFlagRow }>;
}
