// A tiny typed-enough REST helper for black-box tests (the SDK has its own tests).
export class Api {
	constructor(readonly base: string) {}

	async call(method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
		const res = await fetch(`${this.base}${path}`, {
			method,
			headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const text = await res.text();
		// biome-ignore lint/suspicious/noExplicitAny: black-box tests read arbitrary JSON
		const json: any = text ? JSON.parse(text) : null;
		return { status: res.status, json };
	}

	/** Creates a client, two users and their JWTs. */
	async tenant(adminToken: string) {
		const client = await this.call("POST", "/admin/clients", { Authorization: `Bearer ${adminToken}` }, { name: "e2e" });
		if (client.status !== 201) throw new Error(`create client: ${client.status} ${JSON.stringify(client.json)}`);
		const key = client.json.api_token as string;
		const users = [];
		for (const name of ["alice", "bob"]) {
			const user = await this.call("POST", "/user", { clientKey: key }, { name });
			const token = await this.call("POST", `/auth/${user.json.id}`, { clientKey: key });
			users.push({ id: user.json.id as string, token: token.json.token as string });
		}
		return { clientId: client.json.id as string, key, users };
	}
}
