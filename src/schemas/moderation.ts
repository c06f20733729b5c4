import { z } from "zod";
import { Id, Timestamp, WellFormedText, wellFormed } from "./common";

export const Role = z.enum(["owner", "moderator", "member"]).meta({
	id: "Role",
	description: "`owner` (the room's creator, or set by the backend), `moderator` or `member`",
});

export const SetRoleBody = z.object({ role: Role }).meta({ id: "SetRoleBody" });

/** Slow mode and any later room settings; only what is given changes. */
export const UpdateRoomBody = z
	.object({
		cooldown_seconds: z.number().int().min(0).max(3600).meta({
			description:
				"Slow mode: seconds a member waits between messages (0: off); owners, moderators and the backend's sends for a user (`clientKey: <api_token>.<user_id>`) are exempt",
		}),
	})
	.meta({ id: "UpdateRoomBody" });

const reason = z.string().trim().min(1).max(1000).refine(wellFormed, WellFormedText).meta({ description: "Why (kept for moderators)" });
const expiresAt = Timestamp.meta({ description: "When it ends by itself (a time in the future); omitted: until lifted" });

// Who restricts and when come from the server.
export const RestrictBody = z
	.object({ user_id: Id, reason: reason.optional(), expires_at: expiresAt.optional() })
	.meta({ id: "RestrictBody" });

/** A ban or a mute in a room. */
export const Restriction = z
	.object({
		room_id: Id,
		user_id: Id,
		reason: z.string().nullable(),
		expires_at: Timestamp.nullable().meta({ description: "When it ends by itself; null: until lifted" }),
		created_by: Id.nullable().meta({ description: "The moderator or owner; null for the client's backend" }),
		created_at: Timestamp,
	})
	.meta({ id: "Restriction" });
export const BanPage = z.object({ bans: z.array(Restriction), next_cursor: Id.nullable() }).meta({ id: "BanPage" });
export const MutePage = z.object({ mutes: z.array(Restriction), next_cursor: Id.nullable() }).meta({ id: "MutePage" });

// The user is the path's.
export const UserBanBody = RestrictBody.omit({ user_id: true }).meta({ id: "UserBanBody" });
export const UserBan = z
	.object({ user_id: Id, reason: z.string().nullable(), expires_at: Timestamp.nullable(), created_at: Timestamp })
	.meta({ id: "UserBan" });
