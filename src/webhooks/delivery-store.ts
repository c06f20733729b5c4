import type { SyncSql } from "../room/message-log";
import type { EventTypeT, WebhookEvent } from "./events";

/** An endpoint as the dispatcher stores it (secrets sealed, see secret-box.ts). */
export interface EndpointRow {
	id: string;
	url: string;
	/** Subscribed types, or null for every type (including ones added later). */
	events: EventTypeT[] | null;
	secret: string;
	previousSecret: string | null;
	previousUntil: number | null;
	disabledReason: string | null;
	createdAt: number;
	updatedAt: number;
}

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface DeliveryRow {
	seq: number;
	id: string;
	endpointId: string;
	eventId: string;
	type: string;
	orderKey: string;
	body: string;
	status: DeliveryStatus;
	attempts: number;
	lastStatus: number | null;
	lastError: string | null;
	nextAttemptAt: number | null;
	createdAt: number;
	deliveredAt: number | null;
}

const SCHEMA = [
	`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS endpoints (
		id TEXT PRIMARY KEY,
		url TEXT NOT NULL,
		events TEXT,
		secret TEXT NOT NULL,
		previous_secret TEXT,
		previous_until INTEGER,
		disabled_reason TEXT,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS deliveries (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		id TEXT NOT NULL UNIQUE,
		endpoint_id TEXT NOT NULL,
		event_id TEXT NOT NULL,
		type TEXT NOT NULL,
		order_key TEXT NOT NULL,
		body TEXT NOT NULL,
		status TEXT NOT NULL,
		attempts INTEGER NOT NULL DEFAULT 0,
		last_status INTEGER,
		last_error TEXT,
		next_attempt_at INTEGER,
		created_at INTEGER NOT NULL,
		delivered_at INTEGER,
		UNIQUE (endpoint_id, event_id)
	)`,
	`CREATE INDEX IF NOT EXISTS deliveries_lanes ON deliveries (endpoint_id, order_key, seq) WHERE status = 'pending'`,
	`CREATE INDEX IF NOT EXISTS deliveries_by_endpoint ON deliveries (endpoint_id, seq)`,
	`CREATE INDEX IF NOT EXISTS deliveries_finished ON deliveries (created_at) WHERE status != 'pending'`,
];

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

const toEndpoint = (r: Record<string, unknown>): EndpointRow => ({
	id: String(r.id),
	url: String(r.url),
	events: r.events === null ? null : (JSON.parse(String(r.events)) as EventTypeT[]),
	secret: String(r.secret),
	previousSecret: str(r.previous_secret),
	previousUntil: num(r.previous_until),
	disabledReason: str(r.disabled_reason),
	createdAt: Number(r.created_at),
	updatedAt: Number(r.updated_at),
});

const toDelivery = (r: Record<string, unknown>): DeliveryRow => ({
	seq: Number(r.seq),
	id: String(r.id),
	endpointId: String(r.endpoint_id),
	eventId: String(r.event_id),
	type: String(r.type),
	orderKey: String(r.order_key),
	body: String(r.body),
	status: String(r.status) as DeliveryStatus,
	attempts: Number(r.attempts),
	lastStatus: num(r.last_status),
	lastError: str(r.last_error),
	nextAttemptAt: num(r.next_attempt_at),
	createdAt: Number(r.created_at),
	deliveredAt: num(r.delivered_at),
});

/**
 * Events are stamped by the object that stored them (a room, the Worker) and endpoints by their
 * dispatcher, possibly on another machine: an event up to this much older than the endpoint is
 * still its, so clock differences never cost an endpoint an event that came after it.
 */
export const CLOCK_GRACE_MS = 60_000;

/** Whether an endpoint takes an event: enabled, subscribed to its type, and not older than the endpoint (with grace). */
export const wants = (endpoint: EndpointRow, event: WebhookEvent): boolean =>
	endpoint.disabledReason === null &&
	(endpoint.events === null || endpoint.events.includes(event.type)) &&
	event.occurredAt >= endpoint.createdAt - CLOCK_GRACE_MS;

/**
 * A client's endpoints and deliveries in its dispatcher's SQLite. Deliveries of one endpoint
 * with the same order key form a lane: only the oldest pending one of a lane is attempted.
 */
export class DeliveryStore {
	constructor(private readonly sql: SyncSql) {
		for (const statement of SCHEMA) sql.exec(statement);
	}

	getMeta(key: string): string | null {
		return str(this.sql.exec("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value);
	}

	setMeta(key: string, value: string): void {
		this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
	}

	// Endpoints.

	endpoints(): EndpointRow[] {
		return this.sql.exec("SELECT * FROM endpoints ORDER BY id").toArray().map(toEndpoint);
	}

	endpoint(id: string): EndpointRow | null {
		const row = this.sql.exec("SELECT * FROM endpoints WHERE id = ?", id).toArray()[0];
		return row ? toEndpoint(row) : null;
	}

	insertEndpoint(e: EndpointRow): void {
		this.sql.exec(
			"INSERT INTO endpoints (id, url, events, secret, previous_secret, previous_until, disabled_reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			e.id,
			e.url,
			e.events === null ? null : JSON.stringify(e.events),
			e.secret,
			e.previousSecret,
			e.previousUntil,
			e.disabledReason,
			e.createdAt,
			e.updatedAt,
		);
	}

	updateEndpoint(e: EndpointRow): void {
		this.sql.exec(
			"UPDATE endpoints SET url = ?, events = ?, secret = ?, previous_secret = ?, previous_until = ?, disabled_reason = ?, updated_at = ? WHERE id = ?",
			e.url,
			e.events === null ? null : JSON.stringify(e.events),
			e.secret,
			e.previousSecret,
			e.previousUntil,
			e.disabledReason,
			e.updatedAt,
			e.id,
		);
	}

	deleteEndpoint(id: string): void {
		this.sql.exec("DELETE FROM deliveries WHERE endpoint_id = ?", id);
		this.sql.exec("DELETE FROM endpoints WHERE id = ?", id);
	}

	// Deliveries.

	/** Queues the event for every endpoint that wants it; an event already queued for an endpoint is skipped. */
	enqueue(event: WebhookEvent, endpoints: EndpointRow[], newId: () => string, now: number): number {
		let queued = 0;
		for (const endpoint of endpoints) {
			if (!wants(endpoint, event)) continue;
			const result = this.sql.exec(
				`INSERT INTO deliveries (id, endpoint_id, event_id, type, order_key, body, status, attempts, next_attempt_at, created_at)
				 VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING seq`,
				newId(),
				endpoint.id,
				event.id,
				event.type,
				event.orderKey,
				event.body,
				now,
				now,
			);
			queued += result.toArray().length;
		}
		return queued;
	}

	/** The oldest pending delivery of each lane of enabled endpoints. */
	heads(): DeliveryRow[] {
		return this.sql
			.exec(
				`SELECT d.* FROM deliveries d
				 JOIN (SELECT MIN(seq) AS seq FROM deliveries WHERE status = 'pending' GROUP BY endpoint_id, order_key) h ON h.seq = d.seq
				 JOIN endpoints e ON e.id = d.endpoint_id AND e.disabled_reason IS NULL
				 ORDER BY d.seq`,
			)
			.toArray()
			.map(toDelivery);
	}

	/** The oldest pending delivery of one lane. */
	head(endpointId: string, orderKey: string): DeliveryRow | null {
		const row = this.sql
			.exec(
				"SELECT * FROM deliveries WHERE endpoint_id = ? AND order_key = ? AND status = 'pending' ORDER BY seq LIMIT 1",
				endpointId,
				orderKey,
			)
			.toArray()[0];
		return row ? toDelivery(row) : null;
	}

	delivery(endpointId: string, id: string): DeliveryRow | null {
		const row = this.sql.exec("SELECT * FROM deliveries WHERE endpoint_id = ? AND id = ?", endpointId, id).toArray()[0];
		return row ? toDelivery(row) : null;
	}

	/** Newest first; `beforeSeq` pages back. */
	deliveries(endpointId: string, limit: number, beforeSeq?: number): DeliveryRow[] {
		return this.sql
			.exec(
				"SELECT * FROM deliveries WHERE endpoint_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
				endpointId,
				beforeSeq ?? Number.MAX_SAFE_INTEGER,
				limit,
			)
			.toArray()
			.map(toDelivery);
	}

	recordSuccess(id: string, status: number, now: number): void {
		this.sql.exec(
			"UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_status = ?, last_error = NULL, next_attempt_at = NULL, delivered_at = ? WHERE id = ?",
			status,
			now,
			id,
		);
	}

	/** A failed attempt: retried at `nextAt`, or given up (`failed`) when `nextAt` is null. */
	recordFailure(id: string, status: number | null, error: string, nextAt: number | null): void {
		this.sql.exec(
			"UPDATE deliveries SET status = ?, attempts = attempts + 1, last_status = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
			nextAt === null ? "failed" : "pending",
			status,
			error,
			nextAt,
			id,
		);
	}

	/** Puts a delivery back at the front of its lane's schedule, with a fresh retry schedule. */
	retryNow(id: string, now: number): void {
		this.sql.exec("UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, delivered_at = NULL WHERE id = ?", now, id);
	}

	/** When the next lane head is due, or null when nothing is pending for an enabled endpoint. */
	nextDueAt(): number | null {
		const row = this.sql
			.exec(
				`SELECT MIN(d.next_attempt_at) AS due FROM deliveries d
				 JOIN (SELECT MIN(seq) AS seq FROM deliveries WHERE status = 'pending' GROUP BY endpoint_id, order_key) h ON h.seq = d.seq
				 JOIN endpoints e ON e.id = d.endpoint_id AND e.disabled_reason IS NULL`,
			)
			.toArray()[0];
		return num(row?.due);
	}

	/** Forgets finished deliveries older than `before` (kept for GET .../deliveries meanwhile). */
	prune(before: number): void {
		this.sql.exec("DELETE FROM deliveries WHERE status != 'pending' AND created_at < ?", before);
	}
}
