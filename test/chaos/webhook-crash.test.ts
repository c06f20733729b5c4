// Webhooks across crashes and an outage: REST senders put 2,000 messages into four rooms (and a
// reaction on every tenth) while a backend creates users and rooms and adds and removes members,
// bare workerd is SIGKILLed three times and the receiver (node:http on 127.0.0.1) is down for a
// stretch (503s, then dropped connections). The endpoint takes every event type. After the dust
// settles, every event the rooms' logs hold (GET /room/{id}/events) and every directory change that
// happened must have reached the receiver (0 lost), each room's first acknowledgments in seq order,
// and every attempt signed. Redeliveries of an event the receiver acknowledged just before a kill are
// possible (at-least-once: the dispatcher died before recording the 2xx) and counted.
import { afterAll, expect, it } from "vitest";
import { eventually, type Receiver, startReceiver, verifySignature } from "../e2e/webhook-receiver";
import { readRoom, record, setup, sleep, Workerd } from "./support";

const ROOMS = 4;
const MESSAGES = Number(process.env.CHAOS_WEBHOOK_MESSAGES ?? 2000);
const KILLS = 3;

let server: Workerd | undefined;
let receiver: Receiver | undefined;
afterAll(async () => {
	await receiver?.close();
	await server?.stop();
});

it(`delivers every event of ${MESSAGES} messages, their reactions and the directory's changes as webhooks across ${KILLS} SIGKILLs and a receiver outage`, async () => {
	server = await Workerd.start({
		REST_SEND_RATE_PER_SECOND: "100000",
		REST_SEND_RATE_BURST: "100000",
		WEBHOOK_ALLOW_INSECURE: "1",
		// Short, but long enough in all (about 40 s) to outlast the outage and the kills.
		WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 40 }, (_, i) => (i < 3 ? "0.2" : "1")).join(","),
		WEBHOOK_SWEEP_SECONDS: "1",
	});
	let down: "no" | "503" | "drop" = "no";
	receiver = await startReceiver(() => ({ status: down === "no" ? 200 : down === "503" ? 503 : 0 }));
	const { key, users, rooms } = await setup(server.base, server.adminToken, 4, ROOMS);
	const hook = await fetch(`${server.base}/webhooks`, {
		method: "POST",
		headers: { clientKey: key, "content-type": "application/json" },
		// Every type: no `events` filter.
		body: JSON.stringify({ url: receiver.url }),
	});
	expect(hook.status).toBe(201);
	const { secret } = (await hook.json()) as { secret: string };

	/** A REST call retried until the server answers one of `ok` (a kill drops calls in flight). */
	const until = async (method: string, path: string, headers: Record<string, string>, body: unknown, ok: number[]) => {
		for (;;) {
			try {
				const res = await fetch(`${server?.base}${path}`, {
					method,
					headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
					body: body === undefined ? undefined : JSON.stringify(body),
				});
				const text = await res.text();
				if (ok.includes(res.status)) return { status: res.status, json: text ? JSON.parse(text) : null };
			} catch {}
			await sleep(100);
		}
	};

	// Four REST senders, one per room; each retries with the same client_msg_id until answered, and
	// reacts to every tenth message it sent (one reaction per user and type: a retry changes nothing).
	let acked = 0;
	let sending = true;
	const started = Date.now();
	const senders = rooms.map(async (roomId, i) => {
		const user = users[i % users.length] as { id: string };
		const as = { clientKey: `${key}.${user.id}` };
		for (let n = 0; n < MESSAGES / ROOMS; n++) {
			const text = `r${i}-m${n}`;
			const sent = await until("POST", `/room/${roomId}/message/send`, as, { text_message: text, client_msg_id: text }, [200, 201]);
			acked++;
			if (n % 10 === 0) await until("POST", `/room/${roomId}/messages/${sent.json.id}/reactions`, as, { type: "👍" }, [200]);
		}
	});

	// The backend meanwhile: a user, added to a room, every third one removed again, and every fifth
	// with a room of its own. What each call did is what the receiver must hear of.
	const expected = { users: new Set<string>(), rooms: new Set<string>(), added: new Set<string>(), removed: new Set<string>() };
	const backend = { clientKey: key };
	const churn = (async () => {
		for (let i = 0; sending; i++) {
			const user = await until("POST", "/user", backend, { name: `churn-${i}` }, [201]);
			const userId = user.json.id as string;
			expected.users.add(userId);
			const roomId = rooms[i % ROOMS] as string;
			await until("POST", `/room/${roomId}/members`, backend, { user_id: userId }, [200, 201]);
			expected.added.add(`${roomId}/${userId}`);
			if (i % 3 === 0) {
				// 404 after a retry: the first call removed it and its answer was lost.
				await until("DELETE", `/room/${roomId}/members/${userId}`, backend, undefined, [204, 404]);
				expected.removed.add(`${roomId}/${userId}`);
			}
			if (i % 5 === 0) {
				const own = await until("POST", "/room", backend, { name: `churn-room-${i}`, members: [userId] }, [201]);
				expected.rooms.add(own.json.id as string);
				expected.added.add(`${own.json.id}/${userId}`);
			}
			await sleep(50);
		}
	})();

	// The chaos: the receiver goes down between 20 % and 60 % of the sends; kills at 30, 55 and 80 %.
	const kills: Array<{ atAcked: number; downMs: number }> = [];
	const outage = { fromMs: 0, toMs: 0 };
	const chaos = (async () => {
		const at = (fraction: number) =>
			eventually(
				`${fraction * 100} % acked`,
				() => acked,
				(n) => n >= MESSAGES * fraction,
				120_000,
			);
		await at(0.2);
		down = "503";
		outage.fromMs = Date.now() - started;
		for (const [fraction, receiverState] of [
			[0.3, "drop"],
			[0.55, null],
			[0.8, null],
		] as const) {
			await at(fraction);
			const killedAt = Date.now();
			await server?.kill();
			await sleep(200 + Math.random() * 500);
			await server?.restart();
			kills.push({ atAcked: acked, downMs: Date.now() - killedAt });
			if (receiverState) down = receiverState;
			if (fraction === 0.55) {
				down = "no";
				outage.toMs = Date.now() - started;
			}
		}
	})();
	await Promise.all([chaos, ...senders]);
	sending = false;
	await churn;
	const sentMs = Date.now() - started;

	// What the rooms' logs hold is the truth for room events: every one must reach the receiver.
	const stored = new Map<string, { roomId: string; seq: number; type: string }>();
	for (const roomId of rooms) {
		for (let after = 0; ; ) {
			const res = await fetch(`${server.base}/room/${roomId}/events?after_seq=${after}&limit=200`, { headers: backend });
			const page = (await res.json()) as { events: Array<{ id: string; type: string; data: { seq: number } }>; last_seq: number };
			if (page.events.length === 0) break;
			for (const e of page.events) stored.set(e.id, { roomId, seq: e.data.seq, type: e.type });
			after = page.last_seq;
		}
	}
	const reactions = [...stored.values()].filter((e) => e.type === "reaction.added").length;
	expect([...stored.values()].filter((e) => e.type === "message.new").length).toBe(MESSAGES);
	expect(reactions).toBe(MESSAGES / 10);
	for (const m of await readRoom(server.base, key, rooms[0] as string)) expect(stored.has(`evt_${m.id}`)).toBe(true);
	const firstAcks = () => {
		const firsts = new Map<string, number>();
		for (const [i, a] of (receiver as Receiver).attempts.entries()) if (a.status === 200 && !firsts.has(a.id)) firsts.set(a.id, i);
		return firsts;
	};
	/** Directory changes the receiver acknowledged, as `type room/user` keys. */
	const heard = () => {
		const keys = new Set<string>();
		for (const a of (receiver as Receiver).attempts) {
			if (a.status !== 200) continue;
			const { type, data } = JSON.parse(a.body) as { type: string; data: { id?: string; room_id?: string; user_id?: string } };
			if (type === "user.created") keys.add(`user ${data.id}`);
			if (type === "room.created") keys.add(`room ${data.room_id}`);
			if (type === "member.added") keys.add(`added ${data.room_id}/${data.user_id}`);
			if (type === "member.removed") keys.add(`removed ${data.room_id}/${data.user_id}`);
		}
		return keys;
	};
	const owed = [
		...[...expected.users].map((id) => `user ${id}`),
		...[...expected.rooms].map((id) => `room ${id}`),
		...[...expected.added].map((k) => `added ${k}`),
		...[...expected.removed].map((k) => `removed ${k}`),
	];
	await eventually(
		"every stored room event and every directory change acknowledged by the receiver",
		() => ({ room: [...stored.keys()].filter((id) => firstAcks().has(id)).length, directory: owed.filter((k) => heard().has(k)).length }),
		(n) => n.room >= stored.size && n.directory >= owed.length,
		180_000,
	);
	const drainedMs = Date.now() - started;
	await sleep(2000);

	const attempts = receiver.attempts;
	const firsts = firstAcks();
	const lost = [...stored.keys()].filter((id) => !firsts.has(id));
	const directoryLost = owed.filter((k) => !heard().has(k));
	// Room events the logs do not hold (directory events are checked by what they name, above).
	const roomTypes = new Set(["message.new", "message.updated", "message.deleted", "reaction.added", "reaction.removed"]);
	const unknown = [
		...new Set(attempts.filter((a) => a.status === 200 && roomTypes.has((JSON.parse(a.body) as { type: string }).type)).map((a) => a.id)),
	].filter((id) => !stored.has(id));
	const redelivered = attempts.filter((a, i) => a.status === 200 && firsts.get(a.id) !== i).length;
	const badSignatures = attempts.filter((a) => !verifySignature(secret, a.id, a.timestamp, a.body, a.signatures)).length;
	// Per room, the first acknowledgment of each seq comes in seq order.
	let orderFaults = 0;
	for (const roomId of rooms) {
		const seqs = [...firsts.entries()]
			.sort((x, y) => x[1] - y[1])
			.map(([id]) => stored.get(id))
			.filter((s) => s?.roomId === roomId)
			.map((s) => s?.seq ?? 0);
		for (const [i, seq] of seqs.entries()) if (seq !== i + 1) orderFaults++;
	}

	record("webhooks across SIGKILLs and a receiver outage (bare workerd)", {
		messages: MESSAGES,
		reactions,
		room_events: stored.size,
		directory_changes: owed.length,
		users_created: expected.users.size,
		rooms_created: expected.rooms.size,
		members_added: expected.added.size,
		members_removed: expected.removed.size,
		rooms: ROOMS,
		kills: kills.length,
		kill_points_acked: kills.map((k) => k.atAcked),
		server_downtime_ms: kills.map((k) => k.downMs),
		receiver_outage_ms: outage.toMs - outage.fromMs,
		attempts: attempts.length,
		failed_attempts: attempts.filter((a) => a.status !== 200).length,
		lost: lost.length,
		directory_lost: directoryLost.length,
		unknown_events: unknown.length,
		redelivered_after_ack: redelivered,
		order_faults: orderFaults,
		bad_signatures: badSignatures,
		sends_done_ms: sentMs,
		all_delivered_ms: drainedMs,
	});
	expect(kills.length).toBe(KILLS);
	expect(attempts.filter((a) => a.status === 503).length).toBeGreaterThan(0);
	expect(attempts.filter((a) => a.status === 0).length).toBeGreaterThan(0);
	expect(lost).toEqual([]);
	expect(directoryLost).toEqual([]);
	expect(expected.removed.size).toBeGreaterThan(0);
	expect(unknown).toEqual([]);
	expect(orderFaults).toBe(0);
	expect(badSignatures).toBe(0);
});
