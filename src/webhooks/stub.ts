import type { Env } from "../env";
import { notConfigured } from "../errors";

/** The client's webhook dispatcher: one object per client id (a Durable Object, or in-process on the Deno host). */
export function dispatcherStub(env: Env, clientId: string) {
	// 503 for a route: every host binds WEBHOOKS, so only a misconfigured one gets here.
	if (!env.WEBHOOKS)
		throw notConfigured(
			"Webhooks need the webhook dispatcher bound as WEBHOOKS (the WebhookDispatcher Durable Object on Cloudflare and bare workerd; the Deno host binds its own)",
		);
	return env.WEBHOOKS.get(env.WEBHOOKS.idFromName(clientId));
}
