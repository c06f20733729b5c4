import { readTokenClaims } from "./jwt";

/** Returns a fresh user JWT, e.g. by asking your backend (which calls `POST /auth/{user_id}`). */
export type GetToken = () => string | Promise<string>;

/**
 * The user's current JWT, shared by REST calls and every room socket, so one refresh
 * serves them all. Concurrent refreshes share one `getToken()` call.
 */
export class TokenSource {
	private inFlight: Promise<string> | null = null;

	constructor(
		private token: string | undefined,
		private readonly getToken?: GetToken,
		private readonly now: () => number = Date.now,
	) {}

	get current(): string | undefined {
		return this.token;
	}

	get canRefresh(): boolean {
		return this.getToken !== undefined;
	}

	set(token: string | undefined): void {
		this.token = token;
	}

	/** Milliseconds until the current token expires, or undefined when it carries no `exp`. */
	msUntilExpiry(): number | undefined {
		const { exp } = readTokenClaims(this.token ?? "");
		return exp === undefined ? undefined : exp * 1000 - this.now();
	}

	/** Calls `getToken()` (once for concurrent callers) and keeps what it returns. */
	refresh(): Promise<string> {
		const getToken = this.getToken;
		if (!getToken) return Promise.reject(new Error("No getToken callback to refresh the token with"));
		this.inFlight ??= (async () => {
			try {
				const token = await getToken();
				if (typeof token !== "string" || token === "") throw new Error("getToken() must return a JWT string");
				this.token = token;
				return token;
			} finally {
				this.inFlight = null;
			}
		})();
		return this.inFlight;
	}

	/** The current token, refreshed first when it expires within `minValidityMs` and a refresh is possible. */
	async valid(minValidityMs: number): Promise<string | undefined> {
		if (!this.canRefresh) return this.token;
		const left = this.msUntilExpiry();
		if (this.token === undefined || (left !== undefined && left < minValidityMs)) return this.refresh();
		return this.token;
	}
}
