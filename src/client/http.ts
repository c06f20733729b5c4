import { ChatApiError, type FieldIssue } from "./errors";
import type { TokenSource } from "./token-source";
import type { ApiErrorCode } from "./types";

/** Who a route accepts, mirroring the server's security schemes. */
export type Caller = "admin" | "backend" | "user" | "any";

export interface HttpOptions {
	baseUrl: string;
	/** `ADMIN_TOKEN`, for the /admin routes only. */
	adminToken?: string;
	/** The client's API token (`rk_...`): acts as your backend. */
	apiToken?: string;
	/** With `apiToken`, act as this user (`clientKey: <api_token>.<user_id>`). */
	userId?: string;
	tokens: TokenSource;
	fetch?: typeof fetch;
}

export interface RequestOptions {
	query?: Record<string, string | number | undefined>;
	body?: unknown;
}

/** Sends one REST request with the right credentials and turns failures into `ChatApiError`. */
export class Http {
	readonly baseUrl: string;
	private readonly fetchFn: typeof fetch;

	constructor(private readonly options: HttpOptions) {
		if (!/^https?:\/\//.test(options.baseUrl)) {
			throw new TypeError(`baseUrl must be an http(s) URL such as "https://chat.example.com", got ${JSON.stringify(options.baseUrl)}`);
		}
		this.baseUrl = options.baseUrl.replace(/\/+$/, "");
		// Bound, or browsers throw "Illegal invocation" when it is called as a method.
		this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
	}

	async request<T>(method: string, path: string, caller: Caller, options: RequestOptions = {}): Promise<T> {
		const first = this.credentials(caller);
		const response = await this.send(method, path, first.headers, options);
		// An expired JWT is refreshed once, when the application gave us a way to.
		if (first.usesJwt && response.status === 401 && this.options.tokens.canRefresh) {
			const error = await errorFrom(response.clone());
			if (error.code === "token_expired") {
				await this.options.tokens.refresh();
				return this.parse<T>(await this.send(method, path, this.credentials(caller).headers, options));
			}
		}
		return this.parse<T>(response);
	}

	private credentials(caller: Caller): { headers: Record<string, string>; usesJwt: boolean } {
		const { adminToken, apiToken, userId, tokens } = this.options;
		if (caller === "admin") {
			if (!adminToken) throw new TypeError("Admin routes need the adminToken option (the server's ADMIN_TOKEN)");
			return { headers: { Authorization: `Bearer ${adminToken}` }, usesJwt: false };
		}
		if (caller === "backend" && apiToken) return { headers: { clientKey: apiToken }, usesJwt: false };
		const jwt = tokens.current;
		if (jwt) return { headers: { Authorization: `Bearer ${jwt}` }, usesJwt: true };
		if (apiToken) return { headers: { clientKey: userId && caller !== "backend" ? `${apiToken}.${userId}` : apiToken }, usesJwt: false };
		return { headers: {}, usesJwt: false };
	}

	private async send(method: string, path: string, headers: Record<string, string>, { query, body }: RequestOptions): Promise<Response> {
		const url = new URL(this.baseUrl + path);
		for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
		try {
			return await this.fetchFn(url, {
				method,
				headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
				body: body === undefined ? undefined : JSON.stringify(body),
			});
		} catch (cause) {
			throw new ChatApiError(0, "network_error", `${method} ${url.pathname} failed: ${String(cause)}`, undefined, { cause });
		}
	}

	private async parse<T>(response: Response): Promise<T> {
		if (!response.ok) throw await errorFrom(response);
		if (response.status === 204) return undefined as T;
		try {
			return (await response.json()) as T;
		} catch (cause) {
			throw new ChatApiError(response.status, "unexpected_response", "The server answered with something that is not JSON", undefined, {
				cause,
			});
		}
	}
}

/** Reads the API's `{"error": {"code", "message", "fields"?}}`, or describes what came instead. */
async function errorFrom(response: Response): Promise<ChatApiError> {
	const text = await response.text().catch(() => "");
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		value = null;
	}
	const error = typeof value === "object" && value !== null ? (value as { error?: unknown }).error : undefined;
	if (typeof error === "object" && error !== null) {
		const { code, message, fields, retry_after_ms } = error as Record<string, unknown>;
		if (typeof code === "string" && typeof message === "string") {
			const wait = typeof retry_after_ms === "number" ? retry_after_ms : undefined;
			return new ChatApiError(
				response.status,
				code as ApiErrorCode,
				message,
				Array.isArray(fields) ? (fields as FieldIssue[]) : undefined,
				{},
				wait,
			);
		}
	}
	return new ChatApiError(response.status, "unexpected_response", `HTTP ${response.status}: ${text.slice(0, 200)}`);
}
