/** Who is calling, as established from the request's credentials. */
export type Principal =
	/** The integrating product's backend, with `clientKey: <api_token>`. */
	| { kind: "backend"; clientId: string }
	/**
	 * One of its users, with a JWT or `clientKey: <api_token>.<user_id>`; `exp` is 0 for the latter.
	 * `via: "clientKey"`: the backend acting on the user's behalf (it holds the API token).
	 */
	| { kind: "user"; clientId: string; userId: string; exp: number; via: "jwt" | "clientKey" };

export type UserPrincipal = Extract<Principal, { kind: "user" }>;
