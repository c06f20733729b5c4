import type {
	ClientRow,
	MembershipRow,
	MessageFlagRow,
	NewMembershipRow,
	NewRoomRow,
	NewUserRow,
	RestrictionKind,
	Role,
	RoomRestrictionRow,
	RoomRow,
	UserRow,
	WebhookOutboxRow,
} from "./schema";

/** A room and where one user stands in it: their membership (with its role) and their ban and mute rows, expired or not. */
export interface Standing {
	room: RoomRow;
	membership: MembershipRow | null;
	ban: RoomRestrictionRow | null;
	mute: RoomRestrictionRow | null;
}

/** A client-wide ban as stored on the user. */
export interface UserBan {
	at: number;
	expiresAt: number | null;
	reason: string | null;
}

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

	createUser(row: NewUserRow): Promise<void>;
	getUser(clientId: string, userId: string): Promise<UserRow | null>;
	listUsers(clientId: string, page: Page): Promise<UserRow[]>;
	/** Which of `userIds` exist in the client. */
	existingUserIds(clientId: string, userIds: string[]): Promise<string[]>;

	/** Creates the room and its initial memberships; its creator (`createdBy`, a user) is their owner. */
	createRoom(row: NewRoomRow, memberIds: string[]): Promise<void>;
	getRoom(clientId: string, roomId: string): Promise<RoomRow | null>;
	listUserRooms(clientId: string, userId: string, page: Page): Promise<RoomRow[]>;

	isMember(clientId: string, roomId: string, userId: string): Promise<boolean>;
	/** Adds the membership unless it exists; returns the stored one either way. */
	addMember(row: NewMembershipRow): Promise<{ added: boolean; membership: MembershipRow }>;
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

	// Moderation: roles, bans and mutes in rooms, slow mode, client-wide bans.
	/** The room with the user's membership, ban and mute, in one read; null when the client has no such room. */
	standing(clientId: string, roomId: string, userId: string): Promise<Standing | null>;
	/** Sets a member's role; null when the user is not a member. */
	setRole(clientId: string, roomId: string, userId: string, role: Role): Promise<MembershipRow | null>;
	/** Records a ban or mute, replacing the user's previous one of that kind; a ban also ends the membership, in the same unit. */
	restrict(row: RoomRestrictionRow): Promise<void>;
	/** Lifts a ban or mute; false when there was none. */
	lift(clientId: string, roomId: string, userId: string, kind: RestrictionKind): Promise<boolean>;
	/** The room's bans or mutes still in force at `now`, by user id. */
	listRestrictions(clientId: string, roomId: string, kind: RestrictionKind, now: number, page: Page): Promise<RoomRestrictionRow[]>;
	/** Sets slow mode; null when the client has no such room. */
	setCooldown(clientId: string, roomId: string, seconds: number): Promise<RoomRow | null>;
	/** Records (or with null lifts) a client-wide ban; null when the client has no such user. */
	setUserBan(clientId: string, userId: string, ban: UserBan | null): Promise<UserRow | null>;
}
