import type { Http } from "../http";
import type { ChatRoom, CreateRoomInput, MemberPageT, PageOptions, ReadResultT, RoomMember } from "../types";

const roomPath = (roomId: string) => `/room/${encodeURIComponent(roomId)}`;

export const roomsApi = (http: Http) => ({
	/** `POST /room`: a user who creates a room becomes its member. */
	create: (input: CreateRoomInput = {}) => http.request<ChatRoom>("POST", "/room", "any", { body: input }),
	/** `GET /room/{id}`. */
	get: (roomId: string) => http.request<ChatRoom>("GET", roomPath(roomId), "any"),
	/** `POST /room/{id}/join` (user): become a member of a public room. */
	join: (roomId: string) => http.request<RoomMember>("POST", `${roomPath(roomId)}/join`, "user"),
	/** `POST /room/{id}/read` (user): move the read position forward (the user's sockets get `read`). */
	markRead: (roomId: string, seq: number) => http.request<ReadResultT>("POST", `${roomPath(roomId)}/read`, "user", { body: { seq } }),
	/** `GET /room/{id}/members`. */
	members: (roomId: string, page: PageOptions = {}) =>
		http.request<MemberPageT>("GET", `${roomPath(roomId)}/members`, "any", { query: page }),
	/** `POST /room/{id}/members` (backend): invite a user. */
	addMember: (roomId: string, userId: string) =>
		http.request<RoomMember>("POST", `${roomPath(roomId)}/members`, "backend", { body: { user_id: userId } }),
	/** `DELETE /room/{id}/members/{user_id}` (backend): their sockets in a private room close with 4003. */
	removeMember: (roomId: string, userId: string) =>
		http.request<void>("DELETE", `${roomPath(roomId)}/members/${encodeURIComponent(userId)}`, "backend"),
});

export type RoomsApi = ReturnType<typeof roomsApi>;
