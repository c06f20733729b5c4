import type { Http } from "../http";
import type { ChatClientWithToken, CreateClientInput } from "../types";

/** Operator routes: need the `adminToken` option. */
export const adminApi = (http: Http) => ({
	/** `POST /admin/clients`: a new integrating product; its `api_token` is shown only now. */
	createClient: (input: CreateClientInput) => http.request<ChatClientWithToken>("POST", "/admin/clients", "admin", { body: input }),
	/** `POST /admin/clients/{id}/rotate-token`: the old token stops working at once. */
	rotateToken: (clientId: string) =>
		http.request<ChatClientWithToken>("POST", `/admin/clients/${encodeURIComponent(clientId)}/rotate-token`, "admin"),
});

export type AdminApi = ReturnType<typeof adminApi>;
