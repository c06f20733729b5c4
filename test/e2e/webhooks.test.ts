// Webhooks over real TCP on the three runtimes (wrangler dev with D1, bare workerd with the directory
// object, the Deno host with its directory file): a node:http receiver on 127.0.0.1 that fails the first
// attempts, then acknowledges. Every event arrives, once acknowledged never again, in seq order
// per room, signed as Standard Webhooks 1.0 says (checked with node:crypto), and only to the
// client it belongs to.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api } from "./api-client";
import { freePort, ROOT, RUNTIMES, type RunningServer, startDeno, startSelfhost, stopChild } from "./harness";
import { type Attempt, eventually, type Receiver, startReceiver, verifySignature } from "./webhook-receiver";
import { openRoomSocket } from "./ws-client";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MESSAGES_PER_ROOM = 25;

// biome-ignore lint/suspicious/noExplicitAny: the test reads the JSON bodies it received and asserts on them exactly
const bodyOf = (a: Attempt): any => JSON.parse(a.body);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A short attempt timeout and secret overlap, so the tests can wait them out. */
const TIMEOUT_MS = 2000;
const OVERLAP_SECONDS = 6;

describe.each(RUNTIMES)("webhooks on $runtime", ({ start }) => {
	let server: RunningServer;
	let api: Api;
	const receivers: Receiver[] = [];

	beforeAll(async () => {
		// No WEBHOOK_SWEEP_SECONDS: the default (300 s) sweep never runs during these tests, so every
		// directory event they wait for comes from the nudge after its change (kickWebhooks).
		server = await start({
			vars: {
				WEBHOOK_ALLOW_INSECURE: "1",
				WEBHOOK_RETRY_SCHEDULE: "0.1,0.2,0.3,0.5,1,1,1,1,1,1,1,1",
				WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
				WEBHOOK_SECRET_OVERLAP_SECONDS: String(OVERLAP_SECONDS),
			},
		});
		api = new Api(server.base);
	});
	afterAll(async () => {
		// The server first: it stops retrying, then the receivers close.
		await server?.stop();
		await Promise.all(receivers.map((r) => r.close()));
	});

	const receiver = async (...args: Parameters<typeof startReceiver>) => {
		const r = await startReceiver(...args);
		receivers.push(r);
		return r;
	};

	it("delivers every event through failures, in seq order per room, without duplicates, signed, to its own client only", async () => {
		// The first six attempts fail with 500, the seventh is told to come back in 1 s, then all succeed.
		const a = await receiver((n) =>
			n < 6 ? { status: 500 } : n === 6 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 },
		);
		const b = await receiver();
		const tenantA = await api.tenant(server.adminToken);
		const tenantB = await api.tenant(server.adminToken);
		const keyA = { clientKey: tenantA.key };
		const keyB = { clientKey: tenantB.key };

		const hookA = await api.call("POST", "/webhooks", keyA, { url: a.url });
		expect(hookA).toEqual({
			status: 201,
			json: {
				id: expect.stringMatching(UUID),
				url: a.url,
				events: null,
				disabled: false,
				disabled_reason: null,
				created_at: expect.stringMatching(ISO),
				updated_at: expect.stringMatching(ISO),
				secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
			},
		});
		const hookB = await api.call("POST", "/webhooks", keyB, { url: b.url });
		expect(hookB.status).toBe(201);
		const secretA = hookA.json.secret as string;
		const secretB = hookB.json.secret as string;

		// Directory events: a user, two rooms with members, a removal.
		const [alice, bob] = tenantA.users as [{ id: string; token: string }, { id: string; token: string }];
		const carol = await api.call("POST", "/user", keyA, { name: "carol", metadata: { plan: "pro" } });
		expect(carol.status).toBe(201);
		const room1 = await api.call("POST", "/room", keyA, { name: "one", members: [alice.id, bob.id] });
		const room2 = await api.call("POST", "/room", keyA, { name: "two", private: true, members: [alice.id] });
		expect([room1.status, room2.status]).toEqual([201, 201]);
		expect((await api.call("DELETE", `/room/${room1.json.id}/members/${bob.id}`, keyA)).status).toBe(204);
		const roomB = await api.call("POST", "/room", keyB, { name: "b" });

		// Messages: REST in room 1, a socket in room 2, and a few in the other client's room.
		const asAlice = { Authorization: `Bearer ${alice.token}` };
		const socket = await openRoomSocket(server.base, room2.json.id, alice.token);
		const sent: Record<string, unknown>[] = [];
		for (let i = 1; i <= MESSAGES_PER_ROOM; i++) {
			const rest = await api.call("POST", `/room/${room1.json.id}/message/send`, asAlice, { text_message: `one ${i}` });
			expect(rest.status).toBe(201);
			sent.push(rest.json);
			const ack = await socket.request("send_message", { room_id: room2.json.id, text_message: `two ${i}` }, i);
			expect(ack.event).toBe("ack");
		}
		await socket.close();
		// bob was removed from room 1, so alice reports the third message there.
		const flag = await api.call("POST", `/room/${room1.json.id}/messages/${sent[2]?.id}/flag`, asAlice, { reason: "spam" });
		expect(flag.status).toBe(201);
		const asB = { Authorization: `Bearer ${tenantB.users[0]?.token}` };
		for (let i = 1; i <= 3; i++) {
			expect((await api.call("POST", `/room/${roomB.json.id}/message/send`, asB, { text_message: `b ${i}` })).status).toBe(201);
		}

		const expectedA = 1 + 2 + 3 + 1 + 1 + 2 * MESSAGES_PER_ROOM; // user, rooms, members added (2 + 1), removed, flag, messages
		await eventually(
			"client A's events acknowledged",
			() => new Set(a.acknowledged().map((x) => x.id)).size,
			(n) => n === expectedA,
			60_000,
		);
		await eventually(
			"client B's events acknowledged",
			() => new Set(b.acknowledged().map((x) => x.id)).size,
			(n) => n === 1 + 3,
		);
		// Let any stray retry or duplicate arrive before counting.
		await new Promise((r) => setTimeout(r, 1500));

		// Exactly the failures the receiver served, then each event acknowledged exactly once.
		expect(a.attempts.slice(0, 7).map((x) => x.status)).toEqual([500, 500, 500, 500, 500, 500, 429]);
		const acked = a.acknowledged();
		expect(acked).toHaveLength(expectedA);
		expect(new Set(acked.map((x) => x.id)).size).toBe(expectedA);
		// webhook-id is stable across retries: every failed attempt's id was acknowledged later.
		for (const failed of a.attempts.filter((x) => x.status >= 300)) expect(acked.map((x) => x.id)).toContain(failed.id);
		// The 429's Retry-After held that delivery back for at least a second.
		const limited = a.attempts[6] as Attempt;
		const afterLimit = a.attempts.find((x, i) => i > 6 && x.id === limited.id) as Attempt;
		expect(afterLimit.receivedAt - limited.receivedAt).toBeGreaterThanOrEqual(950);

		// Signatures and timestamps, on every attempt, checked with node:crypto.
		for (const [r, secret] of [
			[a, secretA],
			[b, secretB],
		] as const) {
			for (const x of r.attempts) {
				expect(verifySignature(secret, x.id, x.timestamp, x.body, x.signatures)).toBe(true);
				// And by the official Standard Webhooks library.
				const headers = { "webhook-id": x.id, "webhook-timestamp": String(x.timestamp), "webhook-signature": x.signatures.join(" ") };
				expect(new Webhook(secret).verify(x.body, headers)).toEqual(JSON.parse(x.body));
				expect(Math.abs(x.timestamp - Date.now() / 1000)).toBeLessThan(300);
				expect(x.signatures).toHaveLength(1);
			}
		}
		// A's secret does not verify B's deliveries.
		const firstB = b.attempts[0] as Attempt;
		expect(verifySignature(secretA, firstB.id, firstB.timestamp, firstB.body, firstB.signatures)).toBe(false);

		// The types, exactly.
		const types = (r: Receiver) => r.acknowledged().map((x) => bodyOf(x).type as string);
		const count = (list: string[]) => Object.fromEntries([...new Set(list)].sort().map((t) => [t, list.filter((x) => x === t).length]));
		expect(count(types(a))).toEqual({
			"member.added": 3,
			"member.removed": 1,
			"message.flagged": 1,
			"message.new": 2 * MESSAGES_PER_ROOM,
			"room.created": 2,
			"user.created": 1,
		});
		expect(count(types(b))).toEqual({ "message.new": 3, "room.created": 1 });

		// Per room, every attempt (failed or not) went out in seq order, and each seq was acknowledged once.
		for (const roomId of [room1.json.id, room2.json.id]) {
			const attempted = a.attempts.map(bodyOf).filter((p) => p.type === "message.new" && p.data.room_id === roomId);
			const seqs = attempted.map((p) => p.data.seq as number);
			expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
			const ackedSeqs = acked.map(bodyOf).filter((p) => p.type === "message.new" && p.data.room_id === roomId);
			expect(ackedSeqs.map((p) => p.data.seq)).toEqual(Array.from({ length: MESSAGES_PER_ROOM }, (_, i) => i + 1));
		}

		// Bodies: {type, timestamp, data}, data as the REST API returns it.
		const first = acked.find((x) => bodyOf(x).type === "message.new" && bodyOf(x).data.id === sent[0]?.id) as Attempt;
		expect(bodyOf(first)).toEqual({ type: "message.new", timestamp: sent[0]?.created_at, data: sent[0] });
		expect(first.id).toBe(`evt_${sent[0]?.id}`);
		const userCreated = acked.map(bodyOf).find((p) => p.type === "user.created");
		expect(userCreated).toEqual({ type: "user.created", timestamp: carol.json.created_at, data: carol.json });
		const roomCreated = acked.map(bodyOf).find((p) => p.type === "room.created" && p.data.room_id === room2.json.id);
		expect(roomCreated).toEqual({
			type: "room.created",
			timestamp: room2.json.created_at,
			data: { room_id: room2.json.id, name: "two", private: true, created_by: null, created_at: room2.json.created_at },
		});
		const removed = acked.map(bodyOf).find((p) => p.type === "member.removed");
		expect(removed).toEqual({
			type: "member.removed",
			timestamp: expect.stringMatching(ISO),
			data: { room_id: room1.json.id, user_id: bob.id },
		});
		// room.created reached the endpoint before its members were added (same lane, outbox order).
		const room1Lane = acked.map(bodyOf).filter((p) => p.type !== "message.new" && p.data.room_id === room1.json.id);
		expect(room1Lane.map((p) => [p.type, p.data.user_id ?? p.data.flagged_by ?? null])).toEqual([
			["room.created", null],
			["member.added", alice.id],
			["member.added", bob.id],
			["member.removed", bob.id],
			["message.flagged", alice.id],
		]);
		const flagged = acked.map(bodyOf).find((p) => p.type === "message.flagged");
		expect(flagged).toEqual({ type: "message.flagged", timestamp: flag.json.created_at, data: flag.json });
		expect(flagged.data).toMatchObject({ message_id: sent[2]?.id, seq: 3, reason: "spam" });

		// Tenant isolation: nothing of B's reached A, nor the reverse.
		const roomsOf = (r: Receiver) => new Set(r.attempts.map(bodyOf).map((p) => p.data.room_id ?? null));
		expect([...roomsOf(b)]).toEqual([roomB.json.id]);
		expect(roomsOf(a).has(roomB.json.id)).toBe(false);
		expect((await api.call("GET", "/webhooks", keyB)).json.webhooks.map((w: { id: string }) => w.id)).toEqual([hookB.json.id]);
		for (const [method, path] of [
			["GET", `/webhooks/${hookA.json.id}`],
			["PATCH", `/webhooks/${hookA.json.id}`],
			["DELETE", `/webhooks/${hookA.json.id}`],
			["POST", `/webhooks/${hookA.json.id}/rotate-secret`],
			["GET", `/webhooks/${hookA.json.id}/deliveries`],
			["GET", `/room/${room1.json.id}/events`],
		] as const) {
			const res = await api.call(method, path, keyB, method === "PATCH" ? { enabled: false } : undefined);
			expect(res.status, `${method} ${path}`).toBe(404);
		}

		// Operations: the deliveries list tells what happened to each event.
		const deliveries = await api.call("GET", `/webhooks/${hookA.json.id}/deliveries?limit=200`, keyA);
		expect(deliveries.status).toBe(200);
		expect(deliveries.json.deliveries).toHaveLength(expectedA);
		expect(new Set(deliveries.json.deliveries.map((d: { status: string }) => d.status))).toEqual(new Set(["delivered"]));
		const retried = deliveries.json.deliveries.find((d: { event_id: string }) => d.event_id === limited.id);
		expect(retried).toEqual({
			id: expect.stringMatching(UUID),
			event_id: limited.id,
			type: bodyOf(limited).type,
			status: "delivered",
			attempts: a.attempts.filter((x) => x.id === limited.id).length,
			last_status_code: 200,
			last_error: null,
			next_attempt_at: null,
			created_at: expect.stringMatching(ISO),
			delivered_at: expect.stringMatching(ISO),
		});
		expect(retried.attempts).toBeGreaterThanOrEqual(2);

		// Tenant isolation for replays: B, naming A's real endpoint and delivery, finds neither, and replays nothing.
		const beforeB = a.attempts.length;
		expect(await api.call("POST", `/webhooks/${hookA.json.id}/deliveries/${retried.id}/retry`, keyB)).toEqual({
			status: 404,
			json: { error: { code: "not_found", message: "Delivery not found" } },
		});
		expect(await api.call("GET", `/webhooks/${hookA.json.id}/deliveries`, keyB)).toEqual({
			status: 404,
			json: { error: { code: "not_found", message: "Webhook not found" } },
		});
		await sleep(1000);
		expect(a.attempts).toHaveLength(beforeB);
		const afterB = await api.call("GET", `/webhooks/${hookA.json.id}/deliveries?limit=200`, keyA);
		expect(afterB.json.deliveries.find((d: { id: string }) => d.id === retried.id)).toEqual(retried);

		// A manual retry sends the same event, with the same id, again.
		const before = a.attempts.length;
		const manual = await api.call("POST", `/webhooks/${hookA.json.id}/deliveries/${retried.id}/retry`, keyA);
		expect(manual.status).toBe(202);
		expect(manual.json).toMatchObject({ id: retried.id, status: "pending", attempts: 0 });
		await eventually(
			"the manual retry",
			() => a.attempts.slice(before),
			(l) => l.length === 1,
		);
		expect(a.attempts[before]).toMatchObject({ id: limited.id, body: limited.body, status: 200 });

		// The room's events, as the receiver saw them, from the log.
		const events = await api.call("GET", `/room/${room1.json.id}/events?after_seq=20&limit=3`, keyA);
		expect(events).toEqual({
			status: 200,
			json: {
				events: sent.slice(20, 23).map((m) => ({ id: `evt_${m.id}`, type: "message.new", timestamp: m.created_at, data: m })),
				last_seq: 23,
			},
		});
		expect(events.json.events.map((e: { id: string }) => e.id)).toEqual(
			acked
				.filter((x) => bodyOf(x).type === "message.new" && bodyOf(x).data.room_id === room1.json.id)
				.slice(20, 23)
				.map((x) => x.id),
		);
	});

	it("delivers a room's edits, deletes and reactions as numbered events in the room's lane, and lists them in the events feed", async () => {
		const r = await receiver();
		const tenant = await api.tenant(server.adminToken);
		const key = { clientKey: tenant.key };
		const hook = await api.call("POST", "/webhooks", key, {
			url: r.url,
			events: ["message.new", "message.updated", "message.deleted", "reaction.added"],
		});
		expect(hook.status).toBe(201);
		const [alice, bob] = tenant.users as [{ id: string; token: string }, { id: string; token: string }];
		const room = (await api.call("POST", "/room", key, { members: [alice.id, bob.id] })).json.id as string;
		const asAlice = { Authorization: `Bearer ${alice.token}` };
		const sent = (await api.call("POST", `/room/${room}/message/send`, asAlice, { text_message: "helo" })).json;
		expect((await api.call("PATCH", `/room/${room}/messages/${sent.id}`, asAlice, { text_message: "hello" })).status).toBe(200);
		expect(
			(await api.call("POST", `/room/${room}/messages/${sent.id}/reactions`, { Authorization: `Bearer ${bob.token}` }, { type: "🎉" }))
				.status,
		).toBe(200);
		// Not subscribed: reaction.removed is stored in the log but not delivered to this endpoint.
		expect(
			(
				await api.call("DELETE", `/room/${room}/messages/${sent.id}/reactions/${encodeURIComponent("🎉")}`, {
					Authorization: `Bearer ${bob.token}`,
				})
			).status,
		).toBe(200);
		expect((await api.call("DELETE", `/room/${room}/messages/${sent.id}`, key)).status).toBe(200);
		const acked = await eventually(
			"the room's four subscribed events",
			() => r.acknowledged().filter((x) => bodyOf(x).data.room_id === room),
			(l) => l.length >= 4,
		);
		expect(acked.map((x) => [bodyOf(x).type, bodyOf(x).data.seq])).toEqual([
			["message.new", 1],
			["message.updated", 2],
			["reaction.added", 3],
			["message.deleted", 5],
		]);
		expect(bodyOf(acked[1] as Attempt).data).toMatchObject({
			room_id: room,
			seq: 2,
			message: { id: sent.id, text_message: "hello", version: 2 },
		});
		expect(bodyOf(acked[2] as Attempt).data).toEqual({
			room_id: room,
			message_id: sent.id,
			user_id: bob.id,
			type: "🎉",
			reactions: { "🎉": 1 },
			seq: 3,
		});
		for (const x of acked) expect(verifySignature(hook.json.secret, x.id, x.timestamp, x.body, x.signatures)).toBe(true);
		// The feed lists every stored event, reaction.removed too, with the same ids.
		const feed = await api.call("GET", `/room/${room}/events`, key);
		expect(feed.json.events.map((e: { type: string }) => e.type)).toEqual([
			"message.new",
			"message.updated",
			"reaction.added",
			"reaction.removed",
			"message.deleted",
		]);
		expect(feed.json.last_seq).toBe(5);
		const byId = new Map<string, { timestamp: string }>(feed.json.events.map((e: { id: string; timestamp: string }) => [e.id, e]));
		for (const x of acked) expect(byId.has(x.id)).toBe(true);
		// The same time in the delivery and in the feed: when the room's log stored the event, not when either was built.
		for (const x of acked) expect([bodyOf(x).type, byId.get(x.id)?.timestamp]).toEqual([bodyOf(x).type, bodyOf(x).timestamp]);
		const reaction = acked[2] as Attempt;
		expect(bodyOf(reaction).timestamp).toMatch(ISO);
		expect(Date.parse(bodyOf(reaction).timestamp)).toBeLessThanOrEqual(reaction.receivedAt);
		expect(Date.parse(bodyOf(reaction).timestamp)).toBeGreaterThanOrEqual(Date.parse(sent.created_at));
	});

	it("signs with the old and the new secret during the overlap, refuses a second rotation meanwhile, and signs with the new one only after it", async () => {
		const r = await receiver();
		const tenant = await api.tenant(server.adminToken);
		const key = { clientKey: tenant.key };
		const hook = await api.call("POST", "/webhooks", key, { url: r.url, events: ["user.created"] });
		const rotated = await api.call("POST", `/webhooks/${hook.json.id}/rotate-secret`, key);
		expect(rotated.status).toBe(200);
		expect(rotated.json.secret).toMatch(/^whsec_/);
		expect(rotated.json.secret).not.toBe(hook.json.secret);
		const expiresAt = Date.parse(rotated.json.previous_secret_expires_at);
		expect(expiresAt - Date.now()).toBeGreaterThan(OVERLAP_SECONDS * 1000 - 3000);
		expect(expiresAt - Date.now()).toBeLessThanOrEqual(OVERLAP_SECONDS * 1000);
		// One rotation at a time: replacing the previous secret now would cut it before its overlap ends.
		expect(await api.call("POST", `/webhooks/${hook.json.id}/rotate-secret`, key)).toEqual({
			status: 409,
			json: {
				error: {
					code: "rotation_in_progress",
					message: "The previous secret still signs until previous_secret_expires_at; rotate again after that",
					previous_secret_expires_at: rotated.json.previous_secret_expires_at,
				},
			},
		});
		await api.call("POST", "/user", key, { name: "dave" });
		const [attempt] = await eventually(
			"the delivery",
			() => r.attempts,
			(l) => l.length === 1,
		);
		if (!attempt) throw new Error("no attempt");
		expect(attempt.signatures).toHaveLength(2);
		expect(verifySignature(rotated.json.secret, attempt.id, attempt.timestamp, attempt.body, attempt.signatures.slice(0, 1))).toBe(true);
		expect(verifySignature(hook.json.secret, attempt.id, attempt.timestamp, attempt.body, attempt.signatures.slice(1))).toBe(true);
		// Subscribed to user.created only: the room created next is not sent.
		const room = await api.call("POST", "/room", key, { name: "quiet" });
		expect(room.status).toBe(201);
		await api.call("POST", "/user", key, { name: "erin" });
		await eventually(
			"the second user",
			() => r.attempts,
			(l) => l.length === 2,
		);
		expect(r.attempts.map((x) => bodyOf(x).type)).toEqual(["user.created", "user.created"]);

		// After the overlap the old secret signs nothing: one signature, by the new secret.
		await sleep(Math.max(0, expiresAt - Date.now() + 200));
		const ivan = await api.call("POST", "/user", key, { name: "ivan" });
		const [late] = (
			await eventually(
				"the delivery after the overlap",
				() => r.attempts,
				(l) => l.length === 3,
			)
		).slice(2);
		if (!late) throw new Error("no attempt");
		expect(bodyOf(late).data.id).toBe(ivan.json.id);
		expect(late.signatures).toHaveLength(1);
		expect(verifySignature(rotated.json.secret, late.id, late.timestamp, late.body, late.signatures)).toBe(true);
		expect(verifySignature(hook.json.secret, late.id, late.timestamp, late.body, late.signatures)).toBe(false);
		// And the next rotation is allowed again.
		const again = await api.call("POST", `/webhooks/${hook.json.id}/rotate-secret`, key);
		expect(again.status).toBe(200);
		expect(again.json.secret).not.toBe(rotated.json.secret);
	});

	it("disables an endpoint that answers 410 Gone, keeps what it was owed, and takes nothing new until re-enabled", async () => {
		const gone = await receiver(() => ({ status: 410 }));
		const tenant = await api.tenant(server.adminToken);
		const key = { clientKey: tenant.key };
		const hook = await api.call("POST", "/webhooks", key, { url: gone.url });
		const frank = await api.call("POST", "/user", key, { name: "frank" });
		await eventually(
			"the first attempt",
			() => gone.attempts.length,
			(n) => n === 1,
		);
		const got = await api.call("GET", `/webhooks/${hook.json.id}`, key);
		expect(got.json).toMatchObject({ disabled: true, disabled_reason: "the endpoint answered 410 Gone" });
		// While disabled: no attempts, and new events are not queued for it.
		await api.call("POST", "/user", key, { name: "grace" });
		await new Promise((r) => setTimeout(r, 1500));
		expect(gone.attempts).toHaveLength(1);
		const deliveries = await api.call("GET", `/webhooks/${hook.json.id}/deliveries`, key);
		expect(
			deliveries.json.deliveries.map((d: { status: string; attempts: number; last_status_code: number | null }) => [
				d.status,
				d.attempts,
				d.last_status_code,
			]),
		).toEqual([["pending", 1, 410]]);
		// Re-enabled, it receives what it was owed, then new events again.
		gone.setPolicy(() => ({ status: 200 }));
		expect((await api.call("PATCH", `/webhooks/${hook.json.id}`, key, { enabled: true })).json.disabled).toBe(false);
		await eventually(
			"the owed event",
			() => gone.acknowledged().length,
			(n) => n === 1,
		);
		expect(bodyOf(gone.acknowledged()[0] as Attempt).data.id).toBe(frank.json.id);
		const heidi = await api.call("POST", "/user", key, { name: "heidi" });
		await eventually(
			"the next event",
			() => gone.acknowledged().length,
			(n) => n === 2,
		);
		expect(bodyOf(gone.acknowledged()[1] as Attempt).data.id).toBe(heidi.json.id);
	});

	it("delivers a room ban's member.removed within seconds: the ban nudges the dispatcher (the sweep is 300 s)", async () => {
		const r = await receiver();
		const tenant = await api.tenant(server.adminToken);
		const key = { clientKey: tenant.key };
		const hook = await api.call("POST", "/webhooks", key, { url: r.url, events: ["member.added", "member.removed"] });
		expect(hook.status).toBe(201);
		const [alice, bob] = tenant.users as [{ id: string; token: string }, { id: string; token: string }];
		const room = (await api.call("POST", "/room", key, { name: "bans", members: [alice.id] })).json.id as string;
		const within = (what: string, count: number) =>
			eventually(
				what,
				() => r.acknowledged().map((x) => [bodyOf(x).type, bodyOf(x).data.user_id]),
				(l) => l.length === count,
				5000,
			);
		await within("alice's member.added", 1);
		expect((await api.call("POST", `/room/${room}/members`, key, { user_id: bob.id })).status).toBe(201);
		await within("bob's member.added", 2);
		const ban = await api.call("POST", `/room/${room}/bans`, key, { user_id: bob.id, reason: "spam" });
		expect(ban.status).toBe(201);
		const banned = Date.now();
		expect(await within("the ban's member.removed", 3)).toEqual([
			["member.added", alice.id],
			["member.added", bob.id],
			["member.removed", bob.id],
		]);
		expect((r.acknowledged()[2] as Attempt).receivedAt - banned).toBeLessThan(5000);
		expect(bodyOf(r.acknowledged()[2] as Attempt).data).toEqual({ room_id: room, user_id: bob.id });
	});

	it(`times out an attempt that takes longer than WEBHOOK_TIMEOUT_MS (${TIMEOUT_MS} ms), records it, and delivers the event once on the retry`, async () => {
		// The first attempt is held well past the timeout; the retry is answered after 800 ms, long
		// enough to read the recorded timeout while it is under way.
		const r = await receiver((n) => ({ status: 200, delayMs: n === 0 ? 2 * TIMEOUT_MS : 800 }));
		const tenant = await api.tenant(server.adminToken);
		const key = { clientKey: tenant.key };
		const hook = await api.call("POST", "/webhooks", key, { url: r.url, events: ["user.created"] });
		const slow = await api.call("POST", "/user", key, { name: "slow" });
		const deliveries = async () => (await api.call("GET", `/webhooks/${hook.json.id}/deliveries`, key)).json.deliveries;
		const started = Date.now();
		let recorded: Record<string, unknown> | undefined;
		while (!recorded && Date.now() - started < 30_000) {
			const [d] = await deliveries();
			if (d?.attempts === 1) recorded = d;
			else await sleep(50);
		}
		expect(recorded).toEqual({
			id: expect.stringMatching(UUID),
			event_id: expect.stringMatching(/^evt_/),
			type: "user.created",
			status: "pending",
			attempts: 1,
			last_status_code: null,
			last_error: `timed out after ${TIMEOUT_MS} ms`,
			next_attempt_at: expect.stringMatching(ISO),
			created_at: expect.stringMatching(ISO),
			delivered_at: null,
		});
		// The held first attempt was given up on before its answer; the retry carried the same event.
		await eventually(
			"the first attempt's held answer",
			() => r.attempts.map((x) => x.status),
			(l) => l.length === 2 && l[0] === 0,
			15_000,
		);
		const [first, second] = r.attempts as [Attempt, Attempt];
		expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
		expect([first.id, second.id]).toEqual([recorded?.event_id, recorded?.event_id]);
		expect(second.body).toBe(first.body);
		expect(bodyOf(second).data.id).toBe(slow.json.id);
		await sleep(1500);
		expect(r.attempts.map((x) => [x.id, x.status])).toEqual([
			[recorded?.event_id, 0],
			[recorded?.event_id, 200],
		]);
		expect(await deliveries()).toEqual([
			{
				...recorded,
				status: "delivered",
				attempts: 2,
				last_status_code: 200,
				last_error: null,
				next_attempt_at: null,
				delivered_at: expect.stringMatching(ISO),
			},
		]);
	});

	it("drops the events that happen while an endpoint is paused, keeps none for later, and delivers what comes after it resumes", async () => {
		const r = await receiver();
		const tenant = await api.tenant(server.adminToken);
		const key = { clientKey: tenant.key };
		const hook = await api.call("POST", "/webhooks", key, { url: r.url, events: ["user.created", "message.new"] });
		const [alice] = tenant.users as [{ id: string; token: string }];
		const asAlice = { Authorization: `Bearer ${alice.token}` };
		const room = (await api.call("POST", "/room", key, { members: [alice.id] })).json.id as string;
		const before = await api.call("POST", "/user", key, { name: "before" });
		await eventually(
			"the event before the pause",
			() => r.acknowledged().length,
			(n) => n === 1,
		);
		const paused = await api.call("PATCH", `/webhooks/${hook.json.id}`, key, { enabled: false });
		expect(paused.json).toMatchObject({ disabled: true, disabled_reason: "disabled by the client" });
		const during = await api.call("POST", "/user", key, { name: "during" });
		const duringMessage = await api.call("POST", `/room/${room}/message/send`, asAlice, { text_message: "during" });
		expect([during.status, duringMessage.status]).toEqual([201, 201]);
		// Long enough for the dispatcher to take both (the nudge, the room's feed) while paused.
		await sleep(2000);
		expect((await api.call("PATCH", `/webhooks/${hook.json.id}`, key, { enabled: true })).json.disabled).toBe(false);
		const after = await api.call("POST", "/user", key, { name: "after" });
		const afterMessage = await api.call("POST", `/room/${room}/message/send`, asAlice, { text_message: "after" });
		await eventually(
			"the events after resuming",
			() => r.acknowledged().length,
			(n) => n >= 3,
		);
		await sleep(1500);
		const got = r.attempts.map((x) => [bodyOf(x).type, bodyOf(x).data.id]);
		expect(got.slice(0, 1)).toEqual([["user.created", before.json.id]]);
		expect(got.slice(1).sort()).toEqual(
			[
				["message.new", afterMessage.json.id],
				["user.created", after.json.id],
			].sort(),
		);
		const listed = (await api.call("GET", `/webhooks/${hook.json.id}/deliveries`, key)).json.deliveries;
		expect(listed.map((d: { event_id: string }) => d.event_id)).not.toContain(`evt_${duringMessage.json.id}`);
		expect(listed).toHaveLength(3);
	});

	it("the README's 15-line receiver verifies a real delivery and refuses a forged one", async () => {
		const readme = readFileSync(join(ROOT, "README.md"), "utf8");
		const section = readme.slice(readme.indexOf("## Webhooks"));
		const code = /```js\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
		expect(code.trim().split("\n")).toHaveLength(15);
		const file = join(mkdtempSync(join(tmpdir(), "roomkit-receiver-")), "receiver.mjs");
		writeFileSync(file, code);
		const port = await freePort();
		const tenant = await api.tenant(server.adminToken);
		const key = { clientKey: tenant.key };
		const hook = await api.call("POST", "/webhooks", key, { url: `http://127.0.0.1:${port}/`, events: ["user.created"] });
		const child: ChildProcess = spawn(process.execPath, [file], {
			env: { PATH: process.env.PATH ?? "", WEBHOOK_SECRET: hook.json.secret, PORT: String(port) },
			stdio: ["ignore", "pipe", "pipe"],
		});
		let output = "";
		child.stdout?.on("data", (d) => (output += d));
		child.stderr?.on("data", (d) => (output += d));
		try {
			let listening = false;
			while (!listening) {
				listening = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "{}" }).then(
					(r) => r.status === 401,
					() => false,
				);
				if (!listening) await new Promise((r) => setTimeout(r, 50));
			}
			const user = await api.call("POST", "/user", key, { name: "readme" });
			await eventually(
				"the receiver to print the event",
				() => output,
				(o) => o.includes(user.json.id),
			);
			expect(output).toContain("user.created");
			// A forged signature with a fresh timestamp is refused.
			const forged = await fetch(`http://127.0.0.1:${port}/`, {
				method: "POST",
				headers: {
					"webhook-id": "evt_forged",
					"webhook-timestamp": String(Math.floor(Date.now() / 1000)),
					"webhook-signature": `v1,${Buffer.alloc(32).toString("base64")}`,
				},
				body: '{"type":"user.created"}',
			});
			expect(forged.status).toBe(401);
			const deliveries = await api.call("GET", `/webhooks/${hook.json.id}/deliveries`, key);
			expect(deliveries.json.deliveries.map((d: { status: string; last_status_code: number }) => [d.status, d.last_status_code])).toEqual([
				["delivered", 204],
			]);
		} finally {
			await stopChild(child);
		}
	});
});

describe.each([
	{ runtime: "bare workerd", start: startSelfhost },
	{ runtime: "the Deno host", start: startDeno },
])("webhooks across a SIGKILL of $runtime", ({ start }) => {
	let server: RunningServer | undefined;
	let receiver: Receiver | undefined;
	afterAll(async () => {
		await receiver?.close();
		await server?.stop();
	});

	it("delivers what was stored before the kill and never logs a secret", async () => {
		const vars = { WEBHOOK_ALLOW_INSECURE: "1", WEBHOOK_RETRY_SCHEDULE: "0.2,0.2,0.5,1,1,1,1,1,1,1", WEBHOOK_SWEEP_SECONDS: "1" };
		let up = false;
		receiver = await startReceiver(() => ({ status: up ? 200 : 503 }));
		const first = await start({ vars });
		server = first;
		const api = new Api(first.base);
		const tenant = await api.tenant(first.adminToken);
		const key = { clientKey: tenant.key };
		const hook = await api.call("POST", "/webhooks", key, { url: receiver.url });
		const rotated = await api.call("POST", `/webhooks/${hook.json.id}/rotate-secret`, key);
		const [alice] = tenant.users as [{ id: string; token: string }];
		const room = await api.call("POST", "/room", key, { name: "k", members: [alice.id] });
		const asAlice = { Authorization: `Bearer ${alice.token}` };
		for (let i = 1; i <= 20; i++) {
			expect((await api.call("POST", `/room/${room.json.id}/message/send`, asAlice, { text_message: `k${i}` })).status).toBe(201);
		}
		// The receiver is failing; kill the server while deliveries are owed, then start it on the same data.
		await eventually(
			"a failed attempt",
			() => receiver?.attempts.length ?? 0,
			(n) => n > 0,
		);
		await first.stop("SIGKILL");
		const logsBefore = first.logs();
		server = await start({ stateDir: first.stateDir, adminToken: first.adminToken, jwtSecret: first.jwtSecret, vars });
		up = true;
		const expected = 1 + 1 + 20; // room.created, member.added, 20 messages
		await eventually(
			"every event after the restart",
			() => new Set(receiver?.acknowledged().map((a) => a.id)).size,
			(n) => n === expected,
		);
		const acked = receiver.acknowledged();
		const messages = acked.map((a) => JSON.parse(a.body)).filter((p) => p.type === "message.new");
		expect([...new Set(messages.map((p) => p.data.seq))]).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
		for (const a of receiver.attempts) {
			expect(verifySignature(rotated.json.secret, a.id, a.timestamp, a.body, a.signatures.slice(0, 1))).toBe(true);
			expect(verifySignature(hook.json.secret, a.id, a.timestamp, a.body, a.signatures.slice(1))).toBe(true);
		}
		// Neither secret appears in anything the server printed, before or after the kill.
		for (const secret of [hook.json.secret, rotated.json.secret]) {
			const body = secret.slice("whsec_".length);
			expect(logsBefore).not.toContain(body);
			expect(server.logs()).not.toContain(body);
		}
	});
});
