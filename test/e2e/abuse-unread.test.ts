// MAX_UNREAD_BYTES over real TCP on bare workerd: a socket that stops reading (and sends nothing)
// is closed with 4008 once it is owed more than the cap, instead of growing the server's memory;
// a reader that sends heartbeats in the same room gets every message.
import { afterAll, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import { Api } from "./api-client";
import { type RunningServer, startDeno, startSelfhost } from "./harness";

/** Bare workerd, or the Deno host (abuse-unread-deno.test.ts sets E2E_RUNTIME=deno). */
const start = process.env.E2E_RUNTIME === "deno" ? startDeno : startSelfhost;

const CAP = 400_000;
let server: RunningServer;
let api: Api;
let tenant: Awaited<ReturnType<Api["tenant"]>>;
const sockets: WebSocket[] = [];

beforeAll(async () => {
	server = await start({ vars: { MAX_UNREAD_BYTES: String(CAP), WS_RATE_PER_SECOND: "100000", WS_RATE_BURST: "100000" } });
	api = new Api(server.base);
	tenant = await api.tenant(server.adminToken);
}, 180_000);
afterAll(async () => {
	for (const ws of sockets) ws.terminate();
	await server?.stop();
});

/**
 * A raw socket (no compression, so what is owed is what is sent) that counts new_message events;
 * unless `join` is false it joins first, from `lastSeq` when given, and resolves once that is answered.
 */
async function joined(roomId: string, token: string, join = true, lastSeq?: number) {
	const ws = new WebSocket(`${server.base.replace(/^http/, "ws")}/room/${roomId}/ws`, ["roomkit.v1", token], { perMessageDeflate: false });
	sockets.push(ws);
	const seen = { messages: 0, close: 0, joined: false };
	ws.on("close", (code) => {
		seen.close = code;
	});
	ws.on("message", (data) => {
		for (const line of data.toString().split("\n")) {
			if (line.startsWith('{"event":"new_message"')) seen.messages++;
			else if (line.startsWith('{"event":"ack","id":"j"')) seen.joined = true;
		}
	});
	await new Promise<void>((resolve, reject) => {
		ws.once("error", reject);
		ws.once("open", () => {
			if (!join) return resolve();
			ws.send(
				JSON.stringify({
					event: "join_room",
					id: "j",
					data: lastSeq === undefined ? { room_id: roomId } : { room_id: roomId, last_seq: lastSeq },
				}),
			);
			resolve();
		});
	});
	if (join) await until(() => seen.joined || seen.close !== 0);
	return { ws, seen };
}

const until = async (check: () => boolean, ms = 20_000) => {
	for (const end = Date.now() + ms; !check() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
};

it("closes a socket that stopped reading with 4008 past MAX_UNREAD_BYTES, while a heartbeating reader gets everything", async () => {
	const roomId = (await api.call("POST", "/room", { clientKey: tenant.key }, {})).json.id as string;
	const [alice, bob] = tenant.users as [{ id: string; token: string }, { id: string; token: string }];
	const stalled = await joined(roomId, alice.token);
	(stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
	const reader = await joined(roomId, bob.token);
	const heartbeat = setInterval(() => reader.ws.send('{"event":"ping"}'), 5);
	// Not joined: it gets only its acks.
	const sender = await joined(roomId, bob.token, false);

	// 1,600 messages of about 1.2 KB: about 5 times the cap.
	const total = 1600;
	for (let i = 0; i < total; i++) {
		sender.ws.send(JSON.stringify({ event: "send_message", id: i, data: { room_id: roomId, text_message: `${i}:${"y".repeat(1000)}` } }));
		if (i % 20 === 19) await new Promise((r) => setTimeout(r, 30));
	}
	await until(() => reader.seen.messages === total || reader.seen.close !== 0);
	clearInterval(heartbeat);
	expect(reader.seen, "the reader").toEqual({ messages: total, close: 0, joined: true });

	// Reading again, the stalled socket finds what it was owed up to the cap, then the close.
	(stalled.ws as unknown as { _socket: { resume(): void } })._socket.resume();
	await until(() => stalled.seen.close !== 0);
	expect(stalled.seen.close).toBe(4008);
	// At most the cap: the batch that would have crossed it was not sent.
	expect(stalled.seen.messages * 1100).toBeLessThanOrEqual(CAP);
	expect(stalled.seen.messages).toBeLessThan(total / 2);

	// It resumes like any dropped client, from last_seq. A catch-up larger than the cap is cut the
	// same way, so it arrives over a few reconnects, each picking up where the last one stopped.
	let have = stalled.seen.messages;
	let rounds = 0;
	while (have < total && rounds < 20) {
		rounds++;
		const again = await joined(roomId, alice.token, true, have);
		await until(() => have + again.seen.messages === total || again.seen.close !== 0);
		have += again.seen.messages;
		again.ws.close();
	}
	expect(have, `resumed in ${rounds} rounds`).toBe(total);
	expect(rounds).toBeGreaterThan(1);
});

it("keeps counting for a socket that only re-joins: catch-ups asked for and never read close it with 4008 too", async () => {
	const roomId = (await api.call("POST", "/room", { clientKey: tenant.key }, {})).json.id as string;
	const [alice, bob] = tenant.users as [{ id: string; token: string }, { id: string; token: string }];
	const sender = await joined(roomId, bob.token, false);
	// About 300 KB of history: one catch-up fits under the cap, two do not.
	for (let i = 0; i < 250; i++)
		sender.ws.send(JSON.stringify({ event: "send_message", id: i, data: { room_id: roomId, text_message: `${i}:${"z".repeat(1000)}` } }));
	for (let stored = 0; stored < 250; ) {
		const page = await api.call("GET", `/room/${roomId}/messages?limit=1`, { clientKey: tenant.key });
		stored = page.json.messages[0]?.seq ?? 0;
	}
	const abuser = await joined(roomId, alice.token);
	(abuser.ws as unknown as { _socket: { pause(): void } })._socket.pause();
	for (let i = 0; i < 10; i++) {
		abuser.ws.send(JSON.stringify({ event: "join_room", id: `again${i}`, data: { room_id: roomId, last_seq: 0 } }));
		await new Promise((r) => setTimeout(r, 50));
	}
	(abuser.ws as unknown as { _socket: { resume(): void } })._socket.resume();
	await until(() => abuser.seen.close !== 0);
	// Deno drops the connection when frames keep arriving after its Close, so this client, which
	// sent joins after being closed, sees 1006 there (the silent reader above sees 4008 on both).
	expect(abuser.seen.close).toBe(process.env.E2E_RUNTIME === "deno" ? 1006 : 4008);
	// Without the count it would have been sent ten catch-ups (2,500 messages).
	expect(abuser.seen.messages).toBeLessThanOrEqual(500);
});
