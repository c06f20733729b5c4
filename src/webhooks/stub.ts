import type { Env } from "../env";
import { notConfigured } from "../errors";

/** The client's webhook dispatcher: one Durable Object per client id. */
export function dispatcherStub(env: Env, clientId: string) {
	// 503 for a route; the Deno host has no dispatcher (README, "Running on Deno").
	if (!env.WEBHOOKS)
		throw notConfigured(
			"Webhooks need the WebhookDispatcher object (bound as WEBHOOKS on Cloudflare and bare workerd; not on the Deno host)",
		);
	return env.WEBHOOKS.get(env.WEBHOOKS.idFromName(clientId));
}
