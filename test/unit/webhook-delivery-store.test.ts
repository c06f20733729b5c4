import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { DeliveryStore, type EndpointRow } from "../../src/webhooks/delivery-store";
import type { WebhookEvent } from "../../src/webhooks/events";
import { sqlOf, T0 } from "./room-support";

const endpoint = (id: string, over: Partial<EndpointRow> = {}): EndpointRow => ({
	id,
	url: `https://${id}.example.com/`,
	events: null,
	secret: "sealed",
	previousSecret: null,
	previousUntil: null,
	disabledReason: null,
	createdAt: T0,
	updatedAt: T0,
	...over,
});

const event = (id: string, orderKey: string, type: WebhookEvent["type"] = "message.new", occurredAt = T0 + 1): WebhookEvent => ({
	id,
	type,
	orderKey,
	occurredAt,
	body: JSON.stringify({ id }),
});

let ids = 0;
const newId = () => `d${++ids}`;

describe("the dispatcher's delivery store", () => {
	it("queues an event once per endpoint that wants it, by type and creation time (with a minute of clock grace)", () => {
		const store = new DeliveryStore(sqlOf(new DatabaseSync(":memory:")));
		const all = endpoint("a");
		const rooms = endpoint("b", { events: ["room.created"] });
		// Created 61 s after e1 and e2 happened (past the clock grace) and 59 s after e3 (within it).
		const later = endpoint("c", { createdAt: T0 + 61_001 });
		const off = endpoint("d", { disabledReason: "paused" });
		for (const e of [all, rooms, later, off]) store.insertEndpoint(e);
		const endpoints = store.endpoints();
		expect(store.enqueue(event("e1", "messages:r1"), endpoints, newId, T0)).toBe(1);
		expect(store.enqueue(event("e1", "messages:r1"), endpoints, newId, T0)).toBe(0);
		expect(store.enqueue(event("e2", "room:r1", "room.created"), endpoints, newId, T0)).toBe(2);
		expect(store.enqueue(event("e3", "messages:r1", "message.new", T0 + 2_002), endpoints, newId, T0)).toBe(2);
		expect(store.deliveries("a", 10).map((d) => d.eventId)).toEqual(["e3", "e2", "e1"]);
		expect(store.deliveries("b", 10).map((d) => d.eventId)).toEqual(["e2"]);
		expect(store.deliveries("c", 10).map((d) => d.eventId)).toEqual(["e3"]);
		expect(store.deliveries("d", 10)).toEqual([]);
	});

	it("offers only the oldest pending delivery of each lane, and the next once it is delivered", () => {
		const store = new DeliveryStore(sqlOf(new DatabaseSync(":memory:")));
		store.insertEndpoint(endpoint("a"));
		const endpoints = store.endpoints();
		for (const [id, key] of [
			["m1", "messages:r1"],
			["m2", "messages:r1"],
			["n1", "messages:r2"],
			["m3", "messages:r1"],
		] as const)
			store.enqueue(event(id, key), endpoints, newId, T0);
		expect(store.heads().map((d) => d.eventId)).toEqual(["m1", "n1"]);
		const m1 = store.heads()[0];
		if (!m1) throw new Error("no head");
		store.recordFailure(m1.id, 500, "HTTP 500", T0 + 5000);
		expect(store.heads().map((d) => [d.eventId, d.attempts, d.nextAttemptAt])).toEqual([
			["m1", 1, T0 + 5000],
			["n1", 0, T0],
		]);
		expect(store.nextDueAt()).toBe(T0);
		store.recordSuccess(store.heads()[1]?.id ?? "", 200, T0);
		// Only the failed head remains: the next alarm is its retry, not the waiting m2 behind it.
		expect(store.nextDueAt()).toBe(T0 + 5000);
		store.recordSuccess(m1.id, 204, T0 + 5000);
		expect(store.head("a", "messages:r1")?.eventId).toBe("m2");
		store.recordFailure(store.head("a", "messages:r1")?.id ?? "", null, "timeout", null);
		expect(store.head("a", "messages:r1")?.eventId).toBe("m3");
		expect(store.deliveries("a", 10).map((d) => [d.eventId, d.status])).toEqual([
			["m3", "pending"],
			["n1", "delivered"],
			["m2", "failed"],
			["m1", "delivered"],
		]);
	});

	it("holds back every lane of a disabled endpoint", () => {
		const store = new DeliveryStore(sqlOf(new DatabaseSync(":memory:")));
		const a = endpoint("a");
		store.insertEndpoint(a);
		store.enqueue(event("m1", "messages:r1"), store.endpoints(), newId, T0);
		store.updateEndpoint({ ...a, disabledReason: "the endpoint answered 410 Gone" });
		expect(store.heads()).toEqual([]);
		expect(store.nextDueAt()).toBeNull();
	});

	it("forgets finished deliveries older than the cut, never pending ones", () => {
		const store = new DeliveryStore(sqlOf(new DatabaseSync(":memory:")));
		store.insertEndpoint(endpoint("a"));
		const endpoints = store.endpoints();
		store.enqueue(event("old-done", "k1"), endpoints, newId, T0);
		store.enqueue(event("old-failed", "k2"), endpoints, newId, T0);
		store.enqueue(event("old-pending", "k3"), endpoints, newId, T0);
		store.enqueue(event("new-done", "k4"), endpoints, newId, T0 + 100);
		const id = (eventId: string) => store.deliveries("a", 10).find((d) => d.eventId === eventId)?.id ?? "";
		store.recordSuccess(id("old-done"), 200, T0);
		store.recordFailure(id("old-failed"), 500, "HTTP 500", null);
		store.recordSuccess(id("new-done"), 200, T0 + 100);
		store.prune(T0 + 50);
		expect(store.deliveries("a", 10).map((d) => d.eventId)).toEqual(["new-done", "old-pending"]);
	});
});
