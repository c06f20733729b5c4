import type { Http } from "../http";
import type { AuthTokenT, ChatUser, CreateUserInput, PageOptions, RoomPageT, UnreadSummaryT, UserPageT } from "../types";

const userPath = (userId: string) => `/user/${encodeURIComponent(userId)}`;

export const usersApi = (http: Http) => ({
	/** `POST /user` (backend): store the returned `id` in your system. */
	create: (input: CreateUserInput = {}) => http.request<ChatUser>("POST", "/user", "backend", { body: input }),
	/** `GET /user/{id}`. */
	get: (userId: string) => http.request<ChatUser>("GET", userPath(userId), "any"),
	/** `GET /user` (backend): oldest first; pass `next_cursor` back as `cursor`. */
	list: (page: PageOptions = {}) => http.request<UserPageT>("GET", "/user", "backend", { query: page }),
	/** `GET /user/{id}/unread`: the user's unread counts (badges in emails and pushes). */
	unread: (userId: string) => http.request<UnreadSummaryT>("GET", `${userPath(userId)}/unread`, "any"),
	/** `GET /user/{id}/rooms`: rooms the user is a member of, with read state and unread counts. */
	rooms: (userId: string, page: PageOptions = {}) => http.request<RoomPageT>("GET", `${userPath(userId)}/rooms`, "any", { query: page }),
	/** `POST /auth/{id}` (backend): a JWT to hand to that user's browser. */
	token: (userId: string) => http.request<AuthTokenT>("POST", `/auth/${encodeURIComponent(userId)}`, "backend"),
});

export type UsersApi = ReturnType<typeof usersApi>;
