// Webhooks across crashes and an outage: REST senders put 2,000 messages into four rooms while
// bare workerd is SIGKILLed three times and the receiver (node:http on 127.0.0.1) is down for a
// stretch (503s, then dropped connections). After the dust settles, every stored message must
// have reached the receiver (0 lost), each room's first acknowledgments in seq order, and every
// attempt signed. Redeliveries of an event the receiver acknowledged just before a kill are
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

it(`delivers every one of ${MESSAGES} messages as webhooks across ${KILLS} SIGKILLs and a receiver outage`, async () => {
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
		body: JSON.stringify({ url: receiver.url, events: ["message.new"] }),
	});
	expect(hook.status).toBe(201);
	const { secret } = (await hook.json()) as { secret: string };

	// Four REST senders, one per room; each retries with the same client_msg_id until answered.
	let acked = 0;
	const started = Date.now();
	const senders = rooms.map(async (roomId, i) => {
		const user = users[i % users.length] as { id: string };
		for (let n = 0; n < MESSAGES / ROOMS; n++) {
			const text = `r${i}-m${n}`;
			for (;;) {
				try {
					const res = await fetch(`${server?.base}/room/${roomId}/message/send`, {
						method: "POST",
						headers: { clientKey: `${key}.${user.id}`, "content-type": "application/json" },
						body: JSON.stringify({ text_message: text, client_msg_id: text }),
					});
					await res.text();
					if (res.status === 200 || res.status === 201) break;
				} catch {}
				await sleep(100);
			}
			acked++;
		}
	});

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
	const sentMs = Date.now() - started;

	// What the rooms stored is the truth; every stored message must reach the receiver.
	const stored = new Map<string, { roomId: string; seq: number }>();
	for (const roomId of rooms) for (const m of await readRoom(server.base, key, roomId)) stored.set(`evt_${m.id}`, { roomId, seq: m.seq });
	expect(stored.size).toBe(MESSAGES);
	const firstAcks = () => {
		const firsts = new Map<string, number>();
		for (const [i, a] of (receiver as Receiver).attempts.entries()) if (a.status === 200 && !firsts.has(a.id)) firsts.set(a.id, i);
		return firsts;
	};
	await eventually(
		"every stored message acknowledged by the receiver",
		() => firstAcks().size,
		(n) => n >= MESSAGES,
		180_000,
	);
	const drainedMs = Date.now() - started;
	await sleep(2000);

	const attempts = receiver.attempts;
	const firsts = firstAcks();
	const lost = [...stored.keys()].filter((id) => !firsts.has(id));
	const unknown = [...firsts.keys()].filter((id) => !stored.has(id));
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
		rooms: ROOMS,
		kills: kills.length,
		kill_points_acked: kills.map((k) => k.atAcked),
		server_downtime_ms: kills.map((k) => k.downMs),
		receiver_outage_ms: outage.toMs - outage.fromMs,
		attempts: attempts.length,
		failed_attempts: attempts.filter((a) => a.status !== 200).length,
		lost: lost.length,
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
	expect(unknown).toEqual([]);
	expect(orderFaults).toBe(0);
	expect(badSignatures).toBe(0);
});
