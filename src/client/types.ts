// Types only: every shape comes from the server's zod schemas, so the SDK cannot drift
// from the API, and `import type` keeps zod out of the bundle.
import type { z } from "zod";
import type { ErrorCode } from "../errors";
import type { ProtocolErrorCodeT } from "../protocol/frames";
import type { Client, ClientWithToken, CreateClientBody } from "../schemas/client";
import type { PageQuery } from "../schemas/common";
import type { HistoryQuery, Message, MessagePage, SendMessageBody } from "../schemas/message";
import type { BanPage, MutePage, RestrictBody, Restriction, Role, UserBan } from "../schemas/moderation";
import type {
	AddMemberBody,
	CreateRoomBody,
	Member,
	MemberPage,
	ReadResult,
	ReadState,
	Room,
	UnreadSummary,
	UserRoomPage,
} from "../schemas/room";
import type { AuthToken, CreateUserBody, User, UserPage } from "../schemas/user";

export type ChatClientRecord = z.infer<typeof Client>;
export type ChatClientWithToken = z.infer<typeof ClientWithToken>;
export type CreateClientInput = z.input<typeof CreateClientBody>;

export type ChatUser = z.infer<typeof User>;
export type UserPageT = z.infer<typeof UserPage>;
export type CreateUserInput = z.input<typeof CreateUserBody>;
export type AuthTokenT = z.infer<typeof AuthToken>;

export type ChatRoom = z.infer<typeof Room>;
/** `GET /user/{id}/rooms`: each room with the user's read state and unread count. */
export type RoomPageT = z.infer<typeof UserRoomPage>;
export type ReadStateT = z.infer<typeof ReadState>;
export type ReadResultT = z.infer<typeof ReadResult>;
export type UnreadSummaryT = z.infer<typeof UnreadSummary>;
export type CreateRoomInput = z.input<typeof CreateRoomBody>;
export type RoomMember = z.infer<typeof Member>;
export type MemberPageT = z.infer<typeof MemberPage>;
export type AddMemberInput = z.input<typeof AddMemberBody>;

export type RoleT = z.infer<typeof Role>;
/** A ban or mute in a room. */
export type RestrictionT = z.infer<typeof Restriction>;
export type RestrictionPageT = z.infer<typeof BanPage> | z.infer<typeof MutePage>;
export type RestrictOptions = Omit<z.input<typeof RestrictBody>, "user_id">;
export type UserBanT = z.infer<typeof UserBan>;

export type ChatMessage = z.infer<typeof Message>;
export type MessagePageT = z.infer<typeof MessagePage>;
export type SendMessageInput = z.input<typeof SendMessageBody>;
export type HistoryOptions = z.infer<typeof HistoryQuery>;
export type PageOptions = z.infer<typeof PageQuery>;

/** Stable REST error codes, plus the two the SDK adds for failures that never reached the API. */
export type ApiErrorCode = ErrorCode | "network_error" | "unexpected_response";
/** Codes of `error` events on the room socket, plus the SDK's own for a closed room, a removal, an expired token or a refused handshake. */
export type RoomErrorCode = ProtocolErrorCodeT | "room_closed" | "removed" | "token_expired" | "forbidden";
