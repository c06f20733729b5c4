import type { Http } from "../http";
import type { ChatRoom, PageOptions, RestrictionPageT, RestrictionT, RestrictOptions, RoleT, RoomMember, UserBanT } from "../types";

const enc = encodeURIComponent;
const room = (roomId: string, rest = "") => `/room/${enc(roomId)}${rest}`;

/** Bans or mutes in a room, by the backend or an owner or moderator of the room. */
const restrictions = (http: Http, kind: "bans" | "mutes") => ({
	/** `POST /room/{id}/{bans|mutes}`: a ban also ends the membership and closes the user's sockets there. */
	add: (roomId: string, userId: string, options: RestrictOptions = {}) =>
		http.request<RestrictionT>("POST", room(roomId, `/${kind}`), "any", { body: { user_id: userId, ...options } }),
	/** `GET /room/{id}/{bans|mutes}`: those in force, by user id. */
	list: (roomId: string, page: PageOptions = {}) => http.request<RestrictionPageT>("GET", room(roomId, `/${kind}`), "any", { query: page }),
	/** `DELETE /room/{id}/{bans|mutes}/{user_id}`. */
	lift: (roomId: string, userId: string) => http.request<void>("DELETE", room(roomId, `/${kind}/${enc(userId)}`), "any"),
});

export const moderationApi = (http: Http) => ({
	bans: restrictions(http, "bans"),
	mutes: restrictions(http, "mutes"),
	/** `PATCH /room/{id}/members/{user_id}` (backend): `owner`, `moderator` or `member`. */
	setRole: (roomId: string, userId: string, role: RoleT) =>
		http.request<RoomMember>("PATCH", room(roomId, `/members/${enc(userId)}`), "backend", { body: { role } }),
	/** `PATCH /room/{id}` (backend): slow mode, 0 to 3600 seconds (0: off). */
	setCooldown: (roomId: string, seconds: number) =>
		http.request<ChatRoom>("PATCH", room(roomId), "backend", { body: { cooldown_seconds: seconds } }),
	/** `POST /user/{id}/ban` (backend): client-wide; the user's calls get `403 banned`, their sockets close. */
	banUser: (userId: string, options: RestrictOptions = {}) =>
		http.request<UserBanT>("POST", `/user/${enc(userId)}/ban`, "backend", { body: options }),
	/** `DELETE /user/{id}/ban` (backend). */
	unbanUser: (userId: string) => http.request<void>("DELETE", `/user/${enc(userId)}/ban`, "backend"),
});

export type ModerationApi = ReturnType<typeof moderationApi>;
