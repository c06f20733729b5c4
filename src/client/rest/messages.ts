import type { Http } from "../http";
import type { MessageDeleted, MessageUpdated, ReactionChanged } from "../realtime/frames";
import type { ChatMessage, HistoryOptions, MessagePageT, SendMessageInput } from "../types";

const roomPath = (roomId: string) => `/room/${encodeURIComponent(roomId)}`;
const messagePath = (roomId: string, messageId: string) => `${roomPath(roomId)}/messages/${encodeURIComponent(messageId)}`;

export interface MessageVersion {
	version: number;
	text_message: string;
	metadata?: Record<string, unknown>;
	at: string;
}

export const messagesApi = (http: Http) => ({
	/**
	 * `POST /room/{id}/message/send` (user). Pass a `client_msg_id` to make retries safe:
	 * the server stores the first and answers every retry with it. `reply_to` and `metadata` are optional.
	 */
	send: (roomId: string, input: SendMessageInput | string) =>
		http.request<ChatMessage>("POST", `${roomPath(roomId)}/message/send`, "user", {
			body: typeof input === "string" ? { text_message: input } : input,
		}),
	/** `GET /room/{id}/messages`: ascending `seq`; the newest page unless `after_seq` is given. */
	history: (roomId: string, options: HistoryOptions = {}) =>
		http.request<MessagePageT>("GET", `${roomPath(roomId)}/messages`, "any", { query: options }),
	/** `PATCH /room/{id}/messages/{message_id}` (the author): a new version. */
	edit: (roomId: string, messageId: string, input: { text_message: string; metadata?: Record<string, unknown> }) =>
		http.request<MessageUpdated>("PATCH", messagePath(roomId, messageId), "user", { body: input }),
	/** `DELETE /room/{id}/messages/{message_id}` (the author, or the backend for any message). */
	delete: (roomId: string, messageId: string) => http.request<MessageDeleted>("DELETE", messagePath(roomId, messageId), "any"),
	/** `GET .../versions`: every version, oldest first. */
	versions: (roomId: string, messageId: string) =>
		http.request<{ versions: MessageVersion[] }>("GET", `${messagePath(roomId, messageId)}/versions`, "any"),
	/** `GET .../replies`: replies in ascending `seq`. */
	replies: (roomId: string, messageId: string, options: { after_seq?: number; limit?: number } = {}) =>
		http.request<MessagePageT>("GET", `${messagePath(roomId, messageId)}/replies`, "any", { query: options }),
	/** `POST .../reactions` (user). */
	react: (roomId: string, messageId: string, type: string) =>
		http.request<ReactionChanged>("POST", `${messagePath(roomId, messageId)}/reactions`, "user", { body: { type } }),
	/** `DELETE .../reactions/{type}` (user). */
	unreact: (roomId: string, messageId: string, type: string) =>
		http.request<ReactionChanged>("DELETE", `${messagePath(roomId, messageId)}/reactions/${encodeURIComponent(type)}`, "user"),
	/** `GET /room/{id}/reads`: each member's read position. */
	reads: (roomId: string) =>
		http.request<{ reads: Array<{ user_id: string; last_read_seq: number }> }>("GET", `${roomPath(roomId)}/reads`, "any"),
	/** `GET /room/{id}/presence`: who is online and when each was last active. */
	presence: (roomId: string) =>
		http.request<{ presence: Array<{ user_id: string; online: boolean; last_active_at: string | null }> }>(
			"GET",
			`${roomPath(roomId)}/presence`,
			"any",
		),
});

export type MessagesApi = ReturnType<typeof messagesApi>;
