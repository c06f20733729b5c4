import type { Env } from "../../env";
import type { RoomEvent } from "../../room/message-log";
import { DispatcherCore, type EndpointPatch } from "../../webhooks/dispatcher-core";
import type { EventTypeT } from "../../webhooks/events";
import type { AlarmSlot } from "./alarms";
import type { GroupCommit } from "./group-commit";
import type { SqliteFile } from "./sqlite-file";

/** What the routes and the rooms call on a dispatcher (WebhookDispatcher's RPC methods). */
export const WEBHOOK_METHODS = [
	"createEndpoint",
	"listEndpoints",
	"getEndpoint",
	"updateEndpoint",
	"deleteEndpoint",
	"rotateSecret",
	"listDeliveries",
	"retryDelivery",
	"acceptRoomEvents",
	"kick",
] as const;

export interface WebhookHostDeps {
	env: Env;
	file: SqliteFile;
	alarm: AlarmSlot;
	group: GroupCommit;
}

/**
 * One client's webhook dispatcher in this process: the same DispatcherCore as
 * src/runtimes/cloudflare/webhook-dispatcher.ts, its SQLite in a file of its own, its alarm a
 * slot in alarms.sqlite, its attempts through Deno's fetch.
 */
export class WebhookHost {
	private readonly core: DispatcherCore;
	/** The alarm's run in progress: as on workerd, runs never overlap. */
	private run: Promise<void> | null = null;
	private again = false;

	constructor(deps: WebhookHostDeps) {
		this.core = new DispatcherCore({
			sql: deps.file.sql,
			env: deps.env,
			getAlarm: async () => deps.alarm.getAlarm(),
			setAlarm: async (at) => deps.alarm.setAlarm(at),
			// workerd's output gate holds an outgoing call until the writes before it are stored; here an
			// attempt waits for the group commit, so no receiver hears of an event a crash could still undo.
			fetch: async (url, init) => {
				await deps.group.settled();
				return fetch(url, init);
			},
			// Written in this turn's transaction: durable once the group commit has synced it (workerd's output gate, by hand).
			durable: () => deps.group.settled(),
			now: Date.now,
		});
	}

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
	listDeliveries(clientId: string, endpointId: string, limit: number, beforeSeq?: number) {
		return this.core.listDeliveries(clientId, endpointId, limit, beforeSeq);
	}
	retryDelivery(clientId: string, endpointId: string, deliveryId: string) {
		return this.core.retryDelivery(clientId, endpointId, deliveryId);
	}
	/** Resolves once the events it queued are on disk: only then does the room move its cursor. */
	acceptRoomEvents(clientId: string, events: RoomEvent[]) {
		return this.core.acceptRoomEvents(clientId, events);
	}
	kick(clientId: string) {
		return this.core.kick(clientId);
	}

	/**
	 * The alarm. The host's timers fire whenever they are due, so an alarm that comes while a run is
	 * in progress runs again right after it (workerd, too, never runs two of an object's alarms at once).
	 */
	alarm(): Promise<void> {
		if (this.run) {
			this.again = true;
			return this.run;
		}
		// A run spans many turns (attempts of up to 15 s); if the process dies during it, the alarm
		// fires again after the restart (src/runtimes/deno/alarms.ts), as workerd retries it.
		this.run = (async () => {
			do {
				this.again = false;
				await this.core.alarm();
			} while (this.again);
		})().finally(() => {
			this.run = null;
		});
		return this.run;
	}
}
