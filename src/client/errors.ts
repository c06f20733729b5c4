import type { ApiErrorCode, RoomErrorCode } from "./types";

export interface FieldIssue {
	path: string;
	message: string;
}

/** A REST call that failed: `code` is stable, switch on it; `fields` lists invalid input. */
export class ChatApiError extends Error {
	override readonly name = "ChatApiError";

	constructor(
		/** HTTP status, or 0 when the request never got an answer. */
		readonly status: number,
		readonly code: ApiErrorCode,
		message: string,
		readonly fields?: FieldIssue[],
		options?: { cause?: unknown },
		/** `rate_limited` in slow mode: how long to wait before sending again. */
		readonly retryAfterMs?: number,
	) {
		super(message, options);
	}
}

/** A realtime failure: a rejected `send`, an `error` event, or why a room closed. */
export class ChatRoomError extends Error {
	override readonly name = "ChatRoomError";

	constructor(
		readonly code: RoomErrorCode,
		message: string,
		/** `rate_limited` in slow mode: how long to wait before sending again. */
		readonly retryAfterMs?: number,
	) {
		super(message);
	}
}
