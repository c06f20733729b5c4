// Recovery under faults: every SDK client's TCP connection is reset 100 times while all of them
// keep sending, and each must still see every message of its room exactly once, in order. Then a
// client that was offline through thousands of messages catches up through history, without gaps.
import { afterAll, expect, it } from "vitest";
import { type ChatMessage, createClient, type RoomConnection } from "../../src/client";
import { TcpProxy } from "../e2e/sdk-tcp-proxy";
import { DenoServer } from "./deno-server";
import { duplicates, randomBetween, readRoom, record, seqFaults, setup, sleep, Workerd } from "./support";

/** The runtime under test: bare workerd, or the Deno host (recovery-deno.test.ts sets CHAOS_RUNTIME=deno). */
const Server = process.env.CHAOS_RUNTIME === "deno" ? DenoServer : Workerd;
const RUNTIME = Server === DenoServer ? "Deno host" : "bare workerd";

const CLIENTS = Number(process.env.CHAOS_RECOVERY_CLIENTS ?? 10);
const CYCLES = Number(process.env.CHAOS_CYCLES ?? 100);
/** Directly connected clients that keep both rooms busy while the others are being cut. */
const LOADERS = 4;
const OFFLINE_MESSAGES = Number(process.env.CHAOS_OFFLINE_MESSAGES ?? 5_000);

let server: Workerd | DenoServer;
const cleanups: Array<() => unknown> = [];
afterAll(async () => {
	for (const cleanup of cleanups) await cleanup();
	await server?.stop();
});

async function until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
	const started = Date.now();
	while (!check()) {
		if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await sleep(10);
	}
}

it(`delivers every message exactly once, in order, through ${CYCLES} connection resets per client under load`, async () => {
	server = await Server.start({ WS_RATE_PER_SECOND: "100000", WS_RATE_BURST: "100000", MAX_SOCKETS_PER_USER: "100" });
	const { key, users, rooms: roomIds, token } = await setup(server.base, server.adminToken, CLIENTS + LOADERS, 2);
	const rooms: RoomConnection[] = [];
	const proxies: TcpProxy[] = [];
	const seen: ChatMessage[][] = [];
	const acked = new Map<string, ChatMessage>();
	for (let i = 0; i < CLIENTS; i++) {
		const proxy = await TcpProxy.start(server.port);
		proxies.push(proxy);
		cleanups.push(() => proxy.close());
		const user = users[i]!;
		const client = createClient({ baseUrl: proxy.url, token: await token(user.id) });
		const room = client.joinRoom(roomIds[i % 2]!, { minDelayMs: 20, maxDelayMs: 200 });
		cleanups.push(() => room.close());
		rooms.push(room);
		seen.push([]);
		room.on("new_message", (m) => seen[i]!.push(m));
	}
	await until(() => rooms.every((r) => r.state === "connected"), "every socket to join", 30_000);

	const started = Date.now();
	let cycling = true;
	// Load: every client keeps sending while its own connection keeps being cut.
	const senders = rooms.map(async (room, i) => {
		let n = 0;
		while (cycling) {
			const text = `c${i}-m${n++}`;
			acked.set(text, await room.send(text));
			await sleep(randomBetween(0, 20));
		}
	});
	const loaders = await Promise.all(
		Array.from({ length: LOADERS }, async (_, i) => {
			const room = createClient({ baseUrl: server.base, token: await token(users[CLIENTS + i]!.id) }).joinRoom(roomIds[i % 2]!);
			cleanups.push(() => room.close());
			return room;
		}),
	);
	await until(() => loaders.every((r) => r.state === "connected"), "loaders to join", 30_000);
	const load = loaders.map(async (room, i) => {
		const inFlight = new Set<Promise<unknown>>();
		for (let n = 0; cycling; n++) {
			const text = `load${i}-m${n}`;
			const p: Promise<unknown> = room.send(text).then((m) => {
				acked.set(text, m);
				inFlight.delete(p);
			});
			inFlight.add(p);
			if (inFlight.size >= 4) await Promise.race(inFlight);
		}
		await Promise.all(inFlight);
	});
	const resets = new Array<number>(CLIENTS).fill(0);
	const cutters = proxies.map(async (proxy, i) => {
		for (let c = 0; c < CYCLES; c++) {
			await until(() => rooms[i]!.state === "connected", `client ${i} to reconnect (cycle ${c})`, 30_000);
			await sleep(randomBetween(0, 60));
			proxy.killAll();
			resets[i]!++;
		}
	});
	await Promise.all(cutters);
	cycling = false;
	await Promise.all([...senders, ...load]);
	const cycleSeconds = (Date.now() - started) / 1000;

	const stored = new Map<string, Awaited<ReturnType<typeof readRoom>>>();
	for (const roomId of roomIds) stored.set(roomId, await readRoom(server.base, key, roomId));
	await until(() => rooms.every((r, i) => r.lastSeq === stored.get(roomIds[i % 2]!)!.length), "clients to catch up", 30_000).catch(
		() => {},
	);

	let exactlyOnceInOrder = 0;
	let deliveredDuplicates = 0;
	let missing = 0;
	for (const [i, list] of seen.entries()) {
		const expected = stored.get(roomIds[i % 2]!)!;
		deliveredDuplicates += duplicates(list.map((m) => m.id));
		missing += expected.filter((m) => !list.some((s) => s.id === m.id)).length;
		if (list.length === expected.length && list.every((m, k) => m.id === expected[k]!.id)) exactlyOnceInOrder++;
	}
	let storedTotal = 0;
	let seqFaultCount = 0;
	let dupByText = 0;
	let lost = 0;
	for (const messages of stored.values()) {
		storedTotal += messages.length;
		seqFaultCount += seqFaults(messages);
		dupByText += duplicates(messages.map((m) => m.text_message));
		const texts = new Set(messages.map((m) => m.text_message));
		for (const [text, m] of acked) if (m.room_id === messages[0]?.room_id && !texts.has(text)) lost++;
	}
	record(`recovery: connection resets under load (${RUNTIME}, TCP proxy per client)`, {
		clients: CLIENTS,
		resets_per_client: Math.min(...resets),
		total_resets: resets.reduce((a, b) => a + b, 0),
		seconds: Math.round(cycleSeconds * 10) / 10,
		messages_acknowledged: acked.size,
		messages_stored: storedTotal,
		acknowledged_lost: lost,
		duplicates_stored: dupByText,
		seq_gaps_or_reorders: seqFaultCount,
		clients_exactly_once_in_order: `${exactlyOnceInOrder}/${CLIENTS}`,
		messages_missing_at_clients: missing,
		duplicates_delivered_to_clients: deliveredDuplicates,
	});
	expect(Math.min(...resets)).toBe(CYCLES);
	expect(lost).toBe(0);
	expect(dupByText).toBe(0);
	expect(seqFaultCount).toBe(0);
	expect(storedTotal).toBe(acked.size);
	expect(exactlyOnceInOrder).toBe(CLIENTS);
	expect(deliveredDuplicates).toBe(0);
}, 600_000);

it(`lets a client offline through ${OFFLINE_MESSAGES} messages catch up through history and on resume, without gaps`, async () => {
	const { key, users, rooms: roomIds, token } = await setup(server.base, server.adminToken, 5, 1);
	const roomId = roomIds[0]!;
	const offline = createClient({ baseUrl: server.base, token: await token(users[0]!.id) });
	const first = offline.joinRoom(roomId);
	await until(() => first.state === "connected", "join", 10_000);
	await first.send("before going offline");
	const lastSeen = first.lastSeq ?? 0;
	first.close();

	// The others talk while it is away.
	const senders = await Promise.all(
		users.slice(1).map(async (u) => {
			const room = createClient({ baseUrl: server.base, token: await token(u.id) }).joinRoom(roomId);
			cleanups.push(() => room.close());
			return room;
		}),
	);
	await until(() => senders.every((r) => r.state === "connected"), "senders", 10_000);
	const per = Math.ceil(OFFLINE_MESSAGES / senders.length);
	await Promise.all(
		senders.map(async (room, i) => {
			const inFlight = new Set<Promise<unknown>>();
			for (let n = 0; n < per; n++) {
				const p: Promise<unknown> = room.send(`s${i}-${n}`).then(() => inFlight.delete(p));
				inFlight.add(p);
				if (inFlight.size >= 16) await Promise.race(inFlight);
			}
			await Promise.all(inFlight);
		}),
	);

	// Back, way 1: page the history from where it left off.
	let started = Date.now();
	const history = await readRoom(server.base, key, roomId, lastSeen);
	const historyMs = Date.now() - started;
	// Back, way 2: resume the socket from the same point; the room replays what was missed.
	started = Date.now();
	const resumed = createClient({ baseUrl: server.base, token: await token(users[0]!.id) }).joinRoom(roomId, { lastSeq: lastSeen });
	cleanups.push(() => resumed.close());
	const replayed: ChatMessage[] = [];
	resumed.on("new_message", (m) => replayed.push(m));
	await until(() => replayed.length >= per * senders.length, "the replay", 60_000).catch(() => {});
	const resumeMs = Date.now() - started;
	const expectedCount = per * senders.length;

	record(`recovery: client offline through a burst catches up${Server === DenoServer ? " (Deno host)" : ""}`, {
		missed_messages: expectedCount,
		history_pages_read: Math.ceil(history.length / 200),
		history_messages: history.length,
		history_seq_gaps_or_reorders: seqFaults(history, lastSeen + 1),
		history_ms: historyMs,
		resume_replayed: replayed.length,
		resume_seq_gaps_or_reorders: seqFaults(replayed, lastSeen + 1),
		resume_duplicates: duplicates(replayed.map((m) => m.id)),
		resume_ms: resumeMs,
	});
	expect(history.length).toBe(expectedCount);
	expect(seqFaults(history, lastSeen + 1)).toBe(0);
	expect(replayed.map((m) => m.id)).toEqual(history.map((m) => m.id));
}, 600_000);
