import type { Env } from "../env";
import { uuidv7 } from "../ids";
import type { RoomEvent, SyncSql } from "../room/message-log";
import { openDirectory } from "../storage";
import { encryptionSecretOf, loadWebhookConfig, type WebhookConfig } from "./config";
import { type DeliveryRow, DeliveryStore, type EndpointRow } from "./delivery-store";
import { directoryEvent, type EventTypeT, ROOM_EVENT_TYPES, roomEvent } from "./events";
import { retryAfterMs, retryDelayMs } from "./schedule";
import { SecretBox } from "./secret-box";
import { generateSecret, signedHeaders } from "./signing";

/** Attempts in flight at once, across lanes. */
const CONCURRENCY = 8;
/** An alarm stops starting attempts after this long and comes back at once for the rest. */
const RUN_BUDGET_MS = 60_000;
/** Finished deliveries are listed for this long, then forgotten. */
const KEEP_FINISHED_MS = 7 * 24 * 3600 * 1000;
/** How often a dispatcher forgets old finished deliveries. */
const PRUNE_EVERY_MS = 10 * 60 * 1000;
/** Directory outbox rows taken per read. */
const OUTBOX_PAGE = 100;

export interface EndpointView {
	id: string;
	url: string;
	events: EventTypeT[] | null;
	disabled: boolean;
	disabled_reason: string | null;
	created_at: string;
	updated_at: string;
}

export interface DeliveryView {
	id: string;
	event_id: string;
	type: string;
	status: DeliveryRow["status"];
	attempts: number;
	last_status_code: number | null;
	last_error: string | null;
	next_attempt_at: string | null;
	created_at: string;
	delivered_at: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const endpointView = (e: EndpointRow): EndpointView => ({
	id: e.id,
	url: e.url,
	events: e.events,
	disabled: e.disabledReason !== null,
	disabled_reason: e.disabledReason,
	created_at: new Date(e.createdAt).toISOString(),
	updated_at: new Date(e.updatedAt).toISOString(),
});

const deliveryView = (d: DeliveryRow): DeliveryView => ({
	id: d.id,
	event_id: d.eventId,
	type: d.type,
	status: d.status,
	attempts: d.attempts,
	last_status_code: d.lastStatus,
	last_error: d.lastError,
	next_attempt_at: d.status === "pending" ? iso(d.nextAttemptAt) : null,
	created_at: new Date(d.createdAt).toISOString(),
	delivered_at: iso(d.deliveredAt),
});

export type EndpointPatch = { url?: string; events?: EventTypeT[] | null; enabled?: boolean };

/** What a runtime gives the dispatcher: its SQLite, its alarm, the network and a clock. */
export interface DispatcherDeps {
	/** The dispatcher's own SQLite (a Durable Object's `ctx.storage.sql`, or a file on the Deno host). */
	sql: SyncSql;
	/** Settings and the directory (openDirectory). */
	env: Env;
	/** The object's one alarm, as a Durable Object's storage offers it. */
	getAlarm(): Promise<number | null>;
	setAlarm(at: number): Promise<void>;
	/** Sends an attempt (the private network service on bare workerd, or plain fetch). */
	fetch(url: string, init: RequestInit): Promise<Response>;
	/**
	 * Resolves once this object's writes so far are durable. Awaited before another object is told
	 * that an event is taken (a room moving its cursor, the directory dropping outbox rows). On
	 * workerd the output gate already holds every reply and outgoing call until then.
	 */
	durable(): Promise<void>;
	now(): number;
}

/**
 * One client's webhooks: its endpoints and every delivery owed to them, in SQLite. Events arrive
 * from the directory outbox (pulled here) and from room objects (handed over by their feeds);
 * the alarm attempts the head of each lane and schedules the retries, so nothing waits in memory.
 * Every call names the client; the object is addressed by that id, so clients never share one.
 * Runtime-free: src/runtimes/cloudflare/webhook-dispatcher.ts and src/runtimes/deno/webhook-host.ts
 * wrap it.
 */
export class DispatcherCore {
	private readonly store: DeliveryStore;
	private readonly config: WebhookConfig;
	private readonly env: Env;
	private box: Promise<SecretBox> | null = null;
	private prunedAt = 0;
	/** An alarm is running; a kick meanwhile sets `kicked`, so the run's end does not push the next alarm past it. */
	private running = false;
	private kicked = false;

	constructor(private readonly deps: DispatcherDeps) {
		this.env = deps.env;
		this.store = new DeliveryStore(deps.sql);
		this.config = loadWebhookConfig(deps.env);
	}

	// Endpoints.

	async createEndpoint(clientId: string, url: string, events: EventTypeT[] | null) {
		this.bind(clientId);
		if (this.store.endpoints().length >= this.config.maxEndpoints) return { error: "too_many" as const };
		const now = this.deps.now();
		const id = uuidv7(now);
		const secret = generateSecret();
		// Sealed first: once the directory writes events for this client, nothing here may fail.
		const sealed = await (await this.secretBox()).seal(secret, id);
		// Directory events are written only for clients with this row: write it before the endpoint exists.
		await openDirectory(this.env).setWebhookEvents(clientId, true);
		const row: EndpointRow = {
			id,
			url,
			events,
			secret: sealed,
			previousSecret: null,
			previousUntil: null,
			disabledReason: null,
			createdAt: now,
			updatedAt: now,
		};
		this.store.insertEndpoint(row);
		return { endpoint: endpointView(row), secret };
	}

	listEndpoints(clientId: string): EndpointView[] {
		this.bind(clientId);
		return this.store.endpoints().map(endpointView);
	}

	getEndpoint(clientId: string, id: string): EndpointView | null {
		this.bind(clientId);
		const row = this.store.endpoint(id);
		return row ? endpointView(row) : null;
	}

	async updateEndpoint(clientId: string, id: string, patch: EndpointPatch): Promise<EndpointView | null> {
		this.bind(clientId);
		const row = this.store.endpoint(id);
		if (!row) return null;
		if (patch.url !== undefined) row.url = patch.url;
		if (patch.events !== undefined) row.events = patch.events;
		if (patch.enabled === true) row.disabledReason = null;
		if (patch.enabled === false) row.disabledReason = "disabled by the client";
		row.updatedAt = this.deps.now();
		this.store.updateEndpoint(row);
		// A re-enabled endpoint resumes its lanes where they stopped.
		if (patch.enabled === true) await this.arm(this.deps.now());
		return endpointView(row);
	}

	async deleteEndpoint(clientId: string, id: string): Promise<boolean> {
		this.bind(clientId);
		if (!this.store.endpoint(id)) return false;
		this.store.deleteEndpoint(id);
		if (this.store.endpoints().length === 0) {
			await openDirectory(this.env).setWebhookEvents(clientId, false);
			// One more run takes (and, with no endpoint left, drops) what the outbox still holds.
			await this.arm(this.deps.now());
		}
		return true;
	}

	/**
	 * A new secret; the current one keeps signing beside it for the overlap. One rotation at a
	 * time: while a previous secret is still within its overlap, another rotation is refused
	 * (replacing it would cut a secret receivers may still rely on before its promised end).
	 */
	async rotateSecret(clientId: string, id: string) {
		this.bind(clientId);
		const row = this.store.endpoint(id);
		if (!row) return null;
		const now = this.deps.now();
		if (row.previousSecret !== null && (row.previousUntil ?? 0) > now) {
			return { error: "rotation_in_progress" as const, previous_secret_expires_at: new Date(row.previousUntil ?? now).toISOString() };
		}
		const secret = generateSecret();
		row.previousSecret = row.secret;
		row.previousUntil = now + this.config.secretOverlapMs;
		row.secret = await (await this.secretBox()).seal(secret, id);
		row.updatedAt = now;
		this.store.updateEndpoint(row);
		return { endpoint: endpointView(row), secret, previous_secret_expires_at: new Date(row.previousUntil).toISOString() };
	}

	// Deliveries.

	listDeliveries(clientId: string, endpointId: string, limit: number, beforeSeq?: number) {
		this.bind(clientId);
		if (!this.store.endpoint(endpointId)) return null;
		const rows = this.store.deliveries(endpointId, limit, beforeSeq);
		const last = rows[rows.length - 1];
		return { deliveries: rows.map(deliveryView), next_cursor: rows.length === limit && last ? String(last.seq) : null };
	}

	async retryDelivery(clientId: string, endpointId: string, deliveryId: string): Promise<DeliveryView | null> {
		this.bind(clientId);
		const delivery = this.store.delivery(endpointId, deliveryId);
		if (!delivery) return null;
		const now = this.deps.now();
		this.store.retryNow(delivery.id, now);
		await this.arm(now);
		const updated = this.store.delivery(endpointId, deliveryId);
		return updated ? deliveryView(updated) : null;
	}

	// Events.

	/**
	 * From a room's feed: stored messages, in seq order. `active` tells the room whether anyone
	 * listens. Resolves once what it queued is durable: the room moves its cursor past them then.
	 */
	async acceptRoomEvents(clientId: string, events: RoomEvent[]): Promise<{ active: boolean }> {
		this.bind(clientId);
		const endpoints = this.store.endpoints().filter((e) => e.disabledReason === null);
		const wants = (type: EventTypeT) => endpoints.filter((e) => e.events === null || e.events.includes(type));
		if (!Object.values(ROOM_EVENT_TYPES).some((type) => wants(type).length > 0)) return { active: false };
		const now = this.deps.now();
		let queued = 0;
		for (const event of events) {
			const hook = roomEvent(event, now);
			const listening = wants(hook.type);
			if (listening.length > 0) queued += this.store.enqueue(hook, listening, uuidv7, now);
		}
		if (queued > 0) await this.arm(now);
		await this.deps.durable();
		return { active: true };
	}

	/** From the Worker after a change that may have written directory events: take them soon. */
	async kick(clientId: string): Promise<void> {
		this.bind(clientId);
		if (this.store.endpoints().length === 0) return;
		// A running alarm may already have read the outbox: it must run again as soon as it ends.
		if (this.running) this.kicked = true;
		await this.arm(this.deps.now());
	}

	// The alarm: take directory events, attempt what is due, schedule the rest.

	async alarm(): Promise<void> {
		const clientId = this.store.getMeta("client_id");
		if (clientId === null) return;
		const started = this.deps.now();
		this.running = true;
		this.kicked = false;
		// workerd gives up on an alarm that keeps throwing, so a failure here is logged and the
		// next alarm is set whatever happened: a directory outage delays events, never strands them.
		try {
			await this.pullDirectory(clientId);
			if (started - this.prunedAt > PRUNE_EVERY_MS) {
				this.store.prune(started - KEEP_FINISHED_MS);
				this.prunedAt = started;
			}
			await this.deliverDue(started);
		} catch (error) {
			console.error(JSON.stringify({ msg: "webhook dispatcher run failed", client_id: clientId, error: String(error) }));
		}
		// Computed and set with no await in between: an event accepted meanwhile is already in the
		// store, and a kick meanwhile (outbox rows this run may have missed) brings the next run forward.
		this.running = false;
		const due = this.kicked ? this.deps.now() : this.store.nextDueAt();
		const sweep = this.store.endpoints().length > 0 ? this.deps.now() + this.config.sweepMs : null;
		const next = Math.min(due ?? Number.POSITIVE_INFINITY, sweep ?? Number.POSITIVE_INFINITY);
		if (Number.isFinite(next)) await this.deps.setAlarm(Math.max(next, this.deps.now()));
	}

	private async pullDirectory(clientId: string): Promise<void> {
		const directory = openDirectory(this.env);
		for (;;) {
			const rows = await directory.webhookEvents(clientId, OUTBOX_PAGE);
			const last = rows[rows.length - 1];
			if (!last) return;
			const endpoints = this.store.endpoints();
			const now = this.deps.now();
			// Enqueued (and durable) before the rows are dropped: a crash in between re-reads them, and enqueue dedups by event id.
			for (const row of rows) {
				const event = directoryEvent(row);
				if (event) this.store.enqueue(event, endpoints, uuidv7, now);
			}
			await this.deps.durable();
			await directory.dropWebhookEvents(clientId, last.seq);
			if (rows.length < OUTBOX_PAGE) return;
		}
	}

	/** Works through the lanes, CONCURRENCY at a time; a lane stops at its first failure (order). */
	private async deliverDue(started: number): Promise<void> {
		const lanes = this.store.heads().filter((d) => (d.nextAttemptAt ?? 0) <= this.deps.now());
		const runLane = async (head: DeliveryRow) => {
			let current: DeliveryRow | null = head;
			while (current && this.deps.now() - started < RUN_BUDGET_MS) {
				// Read for every attempt: a PATCH or DELETE made while this run waits on the network applies at once.
				const endpoint = this.store.endpoint(current.endpointId);
				if (!endpoint || endpoint.disabledReason !== null) return;
				const ok = await this.attempt(endpoint, current);
				if (!ok) return;
				current = this.store.head(current.endpointId, current.orderKey);
				if (current && (current.nextAttemptAt ?? 0) > this.deps.now()) return;
			}
		};
		let next = 0;
		const workers = Array.from({ length: Math.min(CONCURRENCY, lanes.length) }, async () => {
			while (next < lanes.length) {
				const lane = lanes[next++];
				if (lane) await runLane(lane);
			}
		});
		await Promise.all(workers);
	}

	/** One attempt; true on success. Failures are recorded with their next attempt. */
	private async attempt(endpoint: EndpointRow, delivery: DeliveryRow): Promise<boolean> {
		const now = this.deps.now();
		let status: number | null = null;
		let retryAfter: number | null = null;
		let error: string;
		try {
			const headers = await signedHeaders(await this.secretsOf(endpoint, now), delivery.eventId, Math.floor(now / 1000), delivery.body);
			const response = await this.deps.fetch(endpoint.url, {
				method: "POST",
				headers: { ...headers, "content-type": "application/json", "user-agent": "roomkit-webhooks/1" },
				body: delivery.body,
				redirect: "manual",
				signal: AbortSignal.timeout(this.config.timeoutMs),
			});
			status = response.status;
			await response.body?.cancel();
			if (status >= 200 && status < 300) {
				this.store.recordSuccess(delivery.id, status, this.deps.now());
				return true;
			}
			error = `HTTP ${status}`;
			retryAfter = retryAfterMs(response.headers.get("retry-after"), this.deps.now());
		} catch (failure) {
			error = failure instanceof Error && failure.name === "TimeoutError" ? `timed out after ${this.config.timeoutMs} ms` : String(failure);
		}
		if (status === 410) {
			// The receiver says the endpoint is gone for good: stop sending, keep what is owed.
			endpoint.disabledReason = "the endpoint answered 410 Gone";
			endpoint.updatedAt = this.deps.now();
			this.store.updateEndpoint(endpoint);
			this.store.recordFailure(delivery.id, status, error, this.deps.now());
			return false;
		}
		const delay = retryDelayMs(this.config.retrySchedule, delivery.attempts + 1, Math.random());
		const at = delay === null ? null : this.deps.now() + Math.max(delay, retryAfter ?? 0);
		this.store.recordFailure(delivery.id, status, error.slice(0, 500), at);
		return false;
	}

	private async secretsOf(endpoint: EndpointRow, now: number): Promise<string[]> {
		const box = await this.secretBox();
		const secrets = [await box.open(endpoint.secret, endpoint.id)];
		if (endpoint.previousSecret !== null && (endpoint.previousUntil ?? 0) > now) {
			secrets.push(await box.open(endpoint.previousSecret, endpoint.id));
		}
		return secrets;
	}

	private secretBox(): Promise<SecretBox> {
		if (!this.box) {
			const operatorSecret = encryptionSecretOf(this.env);
			if (!operatorSecret) throw new Error("set WEBHOOK_ENCRYPTION_KEY (or JWT_SECRET) to use webhooks");
			this.box = SecretBox.fromOperatorSecret(operatorSecret);
		}
		return this.box;
	}

	private bind(clientId: string): void {
		const known = this.store.getMeta("client_id");
		if (known === null) this.store.setMeta("client_id", clientId);
		else if (known !== clientId) throw new Error("webhook dispatcher addressed with another client's id");
	}

	/** Makes the alarm fire no later than `at`. */
	private async arm(at: number): Promise<void> {
		const current = await this.deps.getAlarm();
		if (current === null || current > at) await this.deps.setAlarm(at);
	}
}
