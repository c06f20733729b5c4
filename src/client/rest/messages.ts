import type { Http } from "../http";
import type { ChatMessage, HistoryOptions, MessagePageT, SendMessageInput } from "../types";

const roomPath = (roomId: string) => `/room/${encodeURIComponent(roomId)}`;

export const messagesApi = (http: Http) => ({
	/**
	 * `POST /room/{id}/message/send` (user). Pass a `client_msg_id` to make retries safe:
	 * the server stores the first and answers every retry with it.
	 */
	send: (roomId: string, input: SendMessageInput | string) =>
		http.request<ChatMessage>("POST", `${roomPath(roomId)}/message/send`, "user", {
			body: typeof input === "string" ? { text_message: input } : input,
		}),
	/** `GET /room/{id}/messages`: ascending `seq`; the newest page unless `after_seq` is given. */
	history: (roomId: string, options: HistoryOptions = {}) =>
		http.request<MessagePageT>("GET", `${roomPath(roomId)}/messages`, "any", { query: options }),
});

export type MessagesApi = ReturnType<typeof messagesApi>;
