// Crash durability, Jepsen style: SDK clients over real TCP send to several rooms while bare
// workerd is SIGKILLed at random moments and restarted on the same data directory. Then a
// full read-back of every room is checked against what the clients were told and saw.
import { afterAll, expect, it } from "vitest";
import { type ChatMessage, createClient, type RoomConnection } from "../../src/client";
import { DenoServer } from "./deno-server";
import { duplicates, randomBetween, readRoom, record, seqFaults, setup, sleep, Workerd } from "./support";

/** The runtime under test: bare workerd, or the Deno host (crash-deno.test.ts sets CHAOS_RUNTIME=deno). */
const Server = process.env.CHAOS_RUNTIME === "deno" ? DenoServer : Workerd;

const CLIENTS = Number(process.env.CHAOS_CLIENTS ?? 20);
const ROOMS = Number(process.env.CHAOS_ROOMS ?? 5);
const MESSAGES = Number(process.env.CHAOS_MESSAGES ?? 10_000);
const KILLS = Number(process.env.CHAOS_KILLS ?? 3);
const WINDOW = 8;
/** REST senders beside the sockets: they retry with the same `client_msg_id` until they get an answer. */
const REST_SENDERS = Number(process.env.CHAOS_REST_SENDERS ?? 2);
const REST_MESSAGES = Number(process.env.CHAOS_REST_MESSAGES ?? 500);

let server: Workerd | DenoServer | undefined;
const rooms: RoomConnection[] = [];
afterAll(async () => {
	for (const r of rooms) r.close();
	await server?.stop();
});

async function until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
	const started = Date.now();
	while (!check()) {
		if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await sleep(50);
	}
}

it(`loses no acknowledged message across ${KILLS} SIGKILLs (${CLIENTS} sockets + ${REST_SENDERS} REST senders, ${ROOMS} rooms, ${MESSAGES} + ${REST_SENDERS * REST_MESSAGES} messages)`, async () => {
	// Limits high enough that the run measures durability, not throttling.
	server = await Server.start({
		WS_RATE_PER_SECOND: "100000",
		WS_RATE_BURST: "100000",
		REST_SEND_RATE_PER_SECOND: "100000",
		REST_SEND_RATE_BURST: "100000",
		MAX_SOCKETS_PER_USER: "100",
	});
	const { key, users, rooms: roomIds, token } = await setup(server.base, server.adminToken, Math.min(CLIENTS, 10), ROOMS);

	const seen: ChatMessage[][] = [];
	const acked = new Map<string, ChatMessage>();
	const roomOf: string[] = [];
	const reconnects = new Array<number>(CLIENTS).fill(0);
	for (let i = 0; i < CLIENTS; i++) {
		const user = users[i % users.length]!;
		const client = createClient({ baseUrl: server.base, token: await token(user.id), getToken: () => token(user.id) });
		const roomId = roomIds[i % ROOMS]!;
		const room = client.joinRoom(roomId, { minDelayMs: 100, maxDelayMs: 1_000, heartbeatIntervalMs: 2_000, heartbeatTimeoutMs: 3_000 });
		rooms.push(room);
		roomOf.push(roomId);
		seen.push([]);
		room.on("new_message", (m) => seen[i]!.push(m));
		room.on("disconnected", () => reconnects[i]!++);
	}
	await until(() => rooms.every((r) => r.state === "connected"), "every socket to join", 30_000);

	// Each client sends its share with a few sends in flight; a send resolves on the server's ack.
	const perClient = Math.ceil(MESSAGES / CLIENTS);
	const total = perClient * CLIENTS + REST_SENDERS * REST_MESSAGES;
	const started = Date.now();
	const rest = { retries: 0, ackedOnRetry: 0 };
	const restSenders = Array.from({ length: REST_SENDERS }, async (_, i) => {
		const user = users[i % users.length]!;
		const roomId = roomIds[i % ROOMS]!;
		for (let n = 0; n < REST_MESSAGES; n++) {
			const text = `rest${i}-m${n}`;
			for (let attempt = 0; ; attempt++) {
				let status = 0;
				let body: ChatMessage | undefined;
				try {
					const res = await fetch(`${server!.base}/room/${roomId}/message/send`, {
						method: "POST",
						headers: { clientKey: `${key}.${user.id}`, "content-type": "application/json" },
						body: JSON.stringify({ text_message: text, client_msg_id: text }),
					});
					status = res.status;
					body = (await res.json()) as ChatMessage;
				} catch {
					// The server died under the request: stored or not, the retry will tell.
				}
				if (status === 200 || status === 201) {
					acked.set(text, body!);
					if (status === 200) rest.ackedOnRetry++;
					break;
				}
				rest.retries++;
				if (attempt > 600) throw new Error(`REST send ${text} kept failing (last status ${status})`);
				await sleep(100);
			}
		}
	});
	const senders = rooms.map(async (room, i) => {
		const inFlight = new Set<Promise<void>>();
		for (let n = 0; n < perClient; n++) {
			const text = `c${i}-m${n}`;
			const p: Promise<void> = room.send(text).then((m) => {
				acked.set(text, m);
				inFlight.delete(p);
			});
			inFlight.add(p);
			if (inFlight.size >= WINDOW) await Promise.race(inFlight);
		}
		await Promise.all(inFlight);
	});

	// The killer: SIGKILL at random points of the run (by acknowledged count, then a random delay).
	const kills: Array<{ atAcked: number; downMs: number }> = [];
	// One kill in each of KILLS equal stretches of the run, at a random point of it.
	const span = 0.85 / KILLS;
	const thresholds = Array.from({ length: KILLS }, (_, k) => Math.floor(randomBetween(0.05 + k * span, 0.05 + (k + 1) * span) * total));
	const killer = (async () => {
		for (const threshold of thresholds) {
			await until(() => acked.size >= threshold, `${threshold} acks`, Number(process.env.CHAOS_STALL_MS ?? 120_000));
			await sleep(randomBetween(0, 200));
			const atAcked = acked.size;
			await server!.kill();
			const down = Date.now();
			await sleep(randomBetween(100, 1_500));
			await server!.restart();
			kills.push({ atAcked, downMs: Date.now() - down });
		}
	})();
	const progress = setInterval(() => {
		const states: Record<string, number> = {};
		for (const r of rooms) states[r.state] = (states[r.state] ?? 0) + 1;
		console.log(
			`[chaos] ${Math.round((Date.now() - started) / 1000)} s: acked ${acked.size}/${total}, kills ${kills.length}, sockets ${JSON.stringify(states)}`,
		);
	}, 5_000);
	try {
		await Promise.all([killer, ...senders, ...restSenders]);
	} finally {
		clearInterval(progress);
	}
	const sendSeconds = (Date.now() - started) / 1000;

	// Let every live client catch up to its room's last seq.
	const stored = new Map<string, Awaited<ReturnType<typeof readRoom>>>();
	for (const roomId of roomIds) stored.set(roomId, await readRoom(server.base, key, roomId));
	await until(() => rooms.every((r, i) => r.lastSeq === stored.get(roomOf[i]!)!.length), "clients to catch up", 60_000).catch(() => {});

	// Jepsen-style checks.
	let lost = 0;
	let ackSeqMismatch = 0;
	let storedNotAcked = 0;
	let seqFaultCount = 0;
	let dupByClientMsgId = 0;
	let dupByText = 0;
	let storedTotal = 0;
	for (const roomId of roomIds) {
		const messages = stored.get(roomId)!;
		storedTotal += messages.length;
		seqFaultCount += seqFaults(messages);
		dupByClientMsgId += duplicates(messages.map((m) => `${m.user_id}/${m.client_msg_id}`));
		dupByText += duplicates(messages.map((m) => m.text_message));
		const bySeq = new Map(messages.map((m) => [m.seq, m]));
		for (const m of messages) if (!acked.has(m.text_message)) storedNotAcked++;
		for (const [text, ack] of acked) {
			if (ack.room_id !== roomId) continue;
			const row = bySeq.get(ack.seq);
			if (!row) lost++;
			else if (row.id !== ack.id || row.text_message !== text) ackSeqMismatch++;
		}
	}
	const unresolved = total - acked.size;
	const clientsWithFullView = rooms.filter((_, i) => {
		const expected = stored.get(roomOf[i]!)!;
		const got = seen[i]!;
		return got.length === expected.length && got.every((m, k) => m.seq === expected[k]!.seq && m.id === expected[k]!.id);
	}).length;
	const deliveredDuplicates = seen.reduce((n, list) => n + duplicates(list.map((m) => m.id)), 0);

	record(`crash durability (${Server === DenoServer ? "Deno host" : "bare workerd"}, SIGKILL)`, {
		sockets: CLIENTS,
		rest_senders: REST_SENDERS,
		rooms: ROOMS,
		messages_sent: `${total} (${perClient * CLIENTS} over sockets, ${REST_SENDERS * REST_MESSAGES} over REST)`,
		messages_acknowledged: acked.size,
		sends_never_resolved: unresolved,
		kills: kills.length,
		kill_points_acked: kills.map((k) => k.atAcked),
		downtime_ms: kills.map((k) => k.downMs),
		client_disconnects_seen: reconnects.reduce((a, b) => a + b, 0),
		rest_retries: rest.retries,
		rest_stored_before_crash_acknowledged_on_retry: rest.ackedOnRetry,
		send_phase_seconds: Math.round(sendSeconds * 10) / 10,
		messages_stored: storedTotal,
		acknowledged_lost: lost,
		acknowledged_but_stored_differently: ackSeqMismatch,
		duplicates_by_client_msg_id: dupByClientMsgId,
		duplicates_by_text: dupByText,
		seq_gaps_or_reorders: seqFaultCount,
		stored_never_acknowledged: storedNotAcked,
		live_clients_with_every_message: `${clientsWithFullView}/${CLIENTS}`,
		duplicates_delivered_to_clients: deliveredDuplicates,
	});

	expect(kills.length).toBe(KILLS);
	expect(lost).toBe(0);
	expect(ackSeqMismatch).toBe(0);
	expect(dupByClientMsgId).toBe(0);
	expect(dupByText).toBe(0);
	expect(seqFaultCount).toBe(0);
	expect(unresolved).toBe(0);
	expect(clientsWithFullView).toBe(CLIENTS);
	expect(deliveredDuplicates).toBe(0);
}, 600_000);
