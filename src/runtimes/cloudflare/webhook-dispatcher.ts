import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../env";
import type { RoomEvent } from "../../room/message-log";
import { loadWebhookConfig } from "../../webhooks/config";
import { DispatcherCore, type EndpointPatch } from "../../webhooks/dispatcher-core";
import type { EventTypeT } from "../../webhooks/events";

export type { DeliveryView, EndpointPatch, EndpointView } from "../../webhooks/dispatcher-core";

/**
 * One client's webhooks as a Durable Object: the runtime-free DispatcherCore
 * (src/webhooks/dispatcher-core.ts) over the object's SQLite storage and alarm. Every RPC names
 * the client; the object is addressed by that id, so clients never share one.
 */
export class WebhookDispatcher extends DurableObject<Env> {
	private readonly core: DispatcherCore;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		// Private and loopback targets only through the network service that allows them (bare workerd).
		const network = loadWebhookConfig(env).allowInsecure ? env.WEBHOOK_PRIVATE_NETWORK : undefined;
		this.core = new DispatcherCore({
			sql: ctx.storage.sql,
			env,
			getAlarm: () => ctx.storage.getAlarm(),
			setAlarm: (at) => ctx.storage.setAlarm(at),
			fetch: (url, init) => (network ? network.fetch(url, init) : fetch(url, init)),
			// The output gate holds every reply and outgoing call until the writes before it are stored.
			durable: async () => {},
			now: Date.now,
		});
	}

	// RPC: endpoints.
	createEndpoint(clientId: string, url: string, events: EventTypeT[] | null) {
		return this.core.createEndpoint(clientId, url, events);
	}
	listEndpoints(clientId: string) {
		return this.core.listEndpoints(clientId);
	}
	getEndpoint(clientId: string, id: string) {
		return this.core.getEndpoint(clientId, id);
	}
	updateEndpoint(clientId: string, id: string, patch: EndpointPatch) {
		return this.core.updateEndpoint(clientId, id, patch);
	}
	deleteEndpoint(clientId: string, id: string) {
		return this.core.deleteEndpoint(clientId, id);
	}
	rotateSecret(clientId: string, id: string) {
		return this.core.rotateSecret(clientId, id);
	}

	// RPC: deliveries.
	listDeliveries(clientId: string, endpointId: string, limit: number, beforeSeq?: number) {
		return this.core.listDeliveries(clientId, endpointId, limit, beforeSeq);
	}
	retryDelivery(clientId: string, endpointId: string, deliveryId: string) {
		return this.core.retryDelivery(clientId, endpointId, deliveryId);
	}

	// RPC: events.
	acceptRoomEvents(clientId: string, events: RoomEvent[]) {
		return this.core.acceptRoomEvents(clientId, events);
	}
	kick(clientId: string) {
		return this.core.kick(clientId);
	}

	override alarm(): Promise<void> {
		return this.core.alarm();
	}
}
