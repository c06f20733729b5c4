import type { Env } from "../env";

/** The client's webhook dispatcher: one Durable Object per client id. */
export function dispatcherStub(env: Env, clientId: string) {
	if (!env.WEBHOOKS)
		throw new Error("No webhook dispatcher: bind the WebhookDispatcher class as WEBHOOKS (wrangler.toml, selfhost/workerd.capnp)");
	return env.WEBHOOKS.get(env.WEBHOOKS.idFromName(clientId));
}
