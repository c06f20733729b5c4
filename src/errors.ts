import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Stable error codes: clients switch on these, so they never change meaning. */
export type ErrorCode =
	| "validation_failed"
	| "invalid_json"
	| "unauthorized"
	| "token_expired"
	| "forbidden"
	| "not_found"
	| "payload_too_large"
	| "rate_limited"
	| "too_many_connections"
	| "message_deleted"
	| "banned"
	| "muted"
	| "too_many_versions"
	| "not_configured"
	| "rotation_in_progress"
	| "internal_error";

export interface FieldIssue {
	path: string;
	message: string;
}

/** An error the API renders as `{"error": {"code", "message", "fields"?}}` with its status. */
export class ApiError extends Error {
	constructor(
		readonly status: ContentfulStatusCode,
		readonly code: ErrorCode,
		message: string,
		readonly fields?: FieldIssue[],
		/** Extra members of `error` (slow mode's `retry_after_ms`). */
		readonly details?: Record<string, unknown>,
	) {
		super(message);
		this.name = "ApiError";
	}

	toJSON() {
		return {
			error: { code: this.code, message: this.message, ...(this.fields ? { fields: this.fields } : {}), ...this.details },
		};
	}
}

export const badRequest = (message: string, fields?: FieldIssue[]) => new ApiError(400, "validation_failed", message, fields);
export const unauthorized = (message = "Missing or invalid credentials") => new ApiError(401, "unauthorized", message);
export const forbidden = (message = "You may not do this") => new ApiError(403, "forbidden", message);
export const notFound = (what: string) => new ApiError(404, "not_found", `${what} not found`);
export const rateLimited = (message = "Too many requests, slow down") => new ApiError(429, "rate_limited", message);
export const banned = (message = "You are banned from this room") => new ApiError(403, "banned", message);
export const notConfigured = (message: string) => new ApiError(503, "not_configured", message);

/** Turns zod issues into the `fields` list of a validation error. */
export function fieldsFromIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): FieldIssue[] {
	return issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }));
}
