// A client that never reads: sockets that joined a room and then stopped reading (their TCP
// receive side paused) while the room fans out a burst. Measures workerd's resident memory,
// and checks a reading bystander in the same room still gets every message.
import { randomBytes } from "node:crypto";
import { afterAll, expect, it } from "vitest";
import WebSocket from "ws";
import { record, setup, sleep, Workerd } from "./support";

const STALLED = Number(process.env.CHAOS_STALLED ?? 4);
const MESSAGES = Number(process.env.CHAOS_BURST_MESSAGES ?? 30_000);
const TEXT_BYTES = 2_000; // under MAX_MESSAGE_LENGTH (4000)

let server: Workerd;
const sockets: WebSocket[] = [];
afterAll(async () => {
	for (const ws of sockets) ws.terminate();
	await server?.stop();
});

function open(roomId: string, token: string): Promise<WebSocket> {
	// No compression, so what is owed is what is buffered.
	const ws = new WebSocket(`${server.base.replace(/^http/, "ws")}/room/${roomId}/ws`, ["roomkit.v1", token], { perMessageDeflate: false });
	sockets.push(ws);
	return new Promise((resolve, reject) => {
		ws.once("open", () => {
			ws.send(JSON.stringify({ event: "join_room", id: "join", data: { room_id: roomId } }));
			ws.once("message", () => resolve(ws));
		});
		ws.once("error", reject);
	});
}

it(`keeps serving while ${STALLED} sockets never read a ${MESSAGES}-message burst; reports workerd's memory`, async () => {
	server = await Workerd.start({ WS_RATE_PER_SECOND: "100000", WS_RATE_BURST: "100000", MAX_SOCKETS_PER_USER: "100" });
	const { users, rooms, token } = await setup(server.base, server.adminToken, 3, 1);
	const roomId = rooms[0]!;
	const stalled = await Promise.all(Array.from({ length: STALLED }, async () => open(roomId, await token(users[0]!.id))));
	// Stop reading: the kernel's buffers fill, then whatever is still owed waits in workerd.
	for (const ws of stalled) (ws as unknown as { _socket: { pause(): void } })._socket.pause();
	const bystander = await open(roomId, await token(users[1]!.id));
	let received = 0;
	bystander.on("message", (data) => {
		for (const line of data.toString().split("\n")) if (line.startsWith('{"event":"new_message"')) received++;
	});
	// The bystander reads, and shows it is alive the way the SDK does: a heartbeat now and then.
	const heartbeat = setInterval(() => bystander.send('{"event":"ping"}'), 1_000);
	const sender = await open(roomId, await token(users[2]!.id));

	await sleep(1_000);
	const baseline = server.rssMiB();
	let peak = baseline;
	const sampler = setInterval(() => {
		peak = Math.max(peak, server.rssMiB());
	}, 100);

	const started = Date.now();
	// Random, so that nothing along the way can compress it away.
	const text = () => randomBytes(TEXT_BYTES).toString("base64").slice(0, TEXT_BYTES);
	let acked = 0;
	let sent = 0;
	await new Promise<void>((resolve) => {
		const pump = () => {
			while (sent < MESSAGES && sent - acked < 32)
				sender.send(JSON.stringify({ event: "send_message", id: sent++, data: { room_id: roomId, text_message: text() } }));
		};
		sender.on("message", (data) => {
			for (const line of data.toString().split("\n")) if (line.startsWith('{"event":"ack"')) acked++;
			if (acked >= MESSAGES) resolve();
			else pump();
		});
		pump();
	});
	const deadline = Date.now() + 60_000;
	while (received < MESSAGES && Date.now() < deadline) await sleep(50);
	const burstSeconds = (Date.now() - started) / 1000;
	await sleep(500);
	const afterBurst = server.rssMiB();
	peak = Math.max(peak, afterBurst);

	// One stalled client starts reading again: did the server keep everything it was owed?
	const [reader, ...rest] = stalled as [WebSocket, ...WebSocket[]];
	let resumedReceived = 0;
	let resumedClose = 0;
	reader.on("close", (code) => {
		resumedClose = code;
	});
	reader.on("message", (data) => {
		for (const line of data.toString().split("\n")) if (line.startsWith('{"event":"new_message"')) resumedReceived++;
	});
	(reader as unknown as { _socket: { resume(): void } })._socket.resume();
	const resumeDeadline = Date.now() + 60_000;
	while (resumedReceived < MESSAGES && Date.now() < resumeDeadline && resumedClose === 0) await sleep(100);
	const afterDrain = server.rssMiB();
	// The other stalled clients go away; what was owed to them should be freed.
	for (const ws of rest) ws.terminate();
	await sleep(3_000);
	clearInterval(sampler);
	clearInterval(heartbeat);
	const afterClose = server.rssMiB();
	const owedMiB = Math.round(((STALLED * MESSAGES * (TEXT_BYTES + 200)) / 1024 / 1024) * 10) / 10;
	const healthy = (await fetch(`${server.base}/health`)).status;

	record("client that never reads (bare workerd)", {
		stalled_sockets: STALLED,
		burst_messages: MESSAGES,
		message_bytes: TEXT_BYTES,
		bytes_owed_to_stalled_sockets_MiB: owedMiB,
		bystander_received: `${received}/${MESSAGES}`,
		burst_seconds: Math.round(burstSeconds * 10) / 10,
		workerd_rss_baseline_MiB: baseline,
		workerd_rss_peak_MiB: peak,
		workerd_rss_after_burst_MiB: afterBurst,
		resumed_stalled_socket_received: `${resumedReceived}/${MESSAGES}`,
		resumed_socket_close_code: resumedClose || "still open",
		workerd_rss_after_one_drained_MiB: afterDrain,
		workerd_rss_3s_after_stalled_closed_MiB: afterClose,
		health_after: healthy,
	});
	expect(received).toBe(MESSAGES);
	expect(healthy).toBe(200);
	// Bounded: each stalled socket holds at most MAX_UNREAD_BYTES (16 MiB) plus the kernel's buffers,
	// however long the burst. Without the cap workerd grew by about what was owed (+300 MiB here).
	expect(resumedClose).toBe(4008);
	expect(peak - baseline).toBeLessThan(STALLED * 32 + 32);
}, 600_000);
