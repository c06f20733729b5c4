// The room protocol over real TCP: the `ws` client against `wrangler dev` on 127.0.0.1.
import { afterAll, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import { signUserToken } from "../../src/auth/jwt";
import { Api } from "./api-client";
import { type RunningServer, startWranglerDev } from "./harness";
import { onlineIds, presenceEvent } from "./ws-client";

let server: RunningServer;
beforeAll(async () => {
	// The request log at its production default: one test reads it (the harness silences it otherwise).
	// A long presence grace: a reconnect here must not depend on the machine's speed (presence has its own suite).
	server = await startWranglerDev({ vars: { LOG_LEVEL: "info", PRESENCE_GRACE_MS: "60000" } });
});
afterAll(() => server?.stop());

// biome-ignore lint/suspicious/noExplicitAny: black-box tests read arbitrary JSON
type Event = any;

/** A `ws` socket whose events (frames split on `\n`) are queued for the test. */
class Peer {
	readonly events: Event[] = [];
	closed: { code: number; reason: string } | null = null;
	private wake: () => void = () => {};

	private constructor(readonly ws: WebSocket) {
		ws.on("message", (data, isBinary) => {
			expect(isBinary).toBe(false);
			for (const line of data.toString("utf8").split("\n")) if (line) this.events.push(JSON.parse(line));
			this.wake();
		});
		ws.on("close", (code, reason) => {
			this.closed = { code, reason: reason.toString("utf8") };
			this.wake();
		});
	}

	static open(url: string, protocols: string[]): Promise<Peer> {
		return new Promise((resolve, reject) => {
			const ws = new WebSocket(url, protocols);
			const peer = new Peer(ws);
			ws.once("open", () => resolve(peer));
			ws.once("unexpected-response", (req, res) => {
				req.destroy();
				reject(new Error(`handshake answered ${res.statusCode}`));
			});
			ws.once("error", reject);
		});
	}

	async until(ready: () => boolean, what: string, ms = 10_000): Promise<void> {
		const deadline = Date.now() + ms;
		while (!ready()) {
			if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(this.events)}`);
			await new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, 100);
				this.wake = () => {
					clearTimeout(timer);
					resolve();
				};
			});
		}
	}

	async request(frame: { event: string; data: unknown; id: string | number }): Promise<Event[]> {
		this.ws.send(JSON.stringify(frame));
		const at = () => this.events.findIndex((e) => (e.event === "ack" || e.event === "error") && e.id === frame.id);
		await this.until(() => at() >= 0, `the answer to ${frame.id}`);
		return this.events.splice(0, at() + 1);
	}

	async take(count: number): Promise<Event[]> {
		await this.until(() => this.events.length >= count, `${count} events`);
		return this.events.splice(0, count);
	}

	async close(): Promise<{ code: number; reason: string }> {
		this.ws.close(1000, "done");
		await this.until(() => this.closed !== null, "the Close echo", 3_000);
		return this.closed as { code: number; reason: string };
	}
}

it("connects with the subprotocol, joins, sends, fans out, and catches up with last_seq after a reconnect", async () => {
	const api = new Api(server.base);
	const { users } = await api.tenant(server.adminToken);
	const [alice, bob] = users as [{ id: string; token: string }, { id: string; token: string }];
	const created = await api.call("POST", "/room", { Authorization: `Bearer ${alice.token}` }, { name: "general" });
	expect(created.status).toBe(201);
	const roomId = created.json.id as string;
	const url = `${server.base.replace("http", "ws")}/room/${roomId}/ws`;

	const a = await Peer.open(url, ["roomkit.v1", alice.token]);
	const b = await Peer.open(url, ["roomkit.v1", bob.token]);
	// The server picked our label, never the token.
	expect(a.ws.protocol).toBe("roomkit.v1");

	expect(await a.request({ event: "join_room", data: { room_id: roomId }, id: 1 })).toEqual([
		{ event: "ack", id: 1, data: { room_id: roomId, last_seq: 0, online: [alice.id] } },
	]);
	expect(await b.request({ event: "join_room", data: { room_id: roomId }, id: 1 })).toEqual([
		{ event: "ack", id: 1, data: { room_id: roomId, last_seq: 0, online: onlineIds(alice.id, bob.id) } },
	]);
	expect(await a.take(1)).toEqual([presenceEvent(roomId, bob.id, true)]);

	const sent = await a.request({ event: "send_message", data: { room_id: roomId, text_message: "hello over tcp" }, id: "s1" });
	const stored = sent[1].data;
	expect(stored).toEqual({
		id: expect.any(String),
		room_id: roomId,
		seq: 1,
		user_id: alice.id,
		text_message: "hello over tcp",
		created_at: expect.any(String),
	});
	expect(sent).toEqual([
		{ event: "new_message", data: stored },
		{ event: "ack", id: "s1", data: stored },
	]);
	expect(await b.take(1)).toEqual([{ event: "new_message", data: stored }]);

	// Bob drops off; the server echoes his Close.
	expect(await b.close()).toEqual({ code: 1000, reason: "done" });
	for (let i = 2; i <= 4; i++) await a.request({ event: "send_message", data: { room_id: roomId, text_message: `missed ${i}` }, id: i });
	const rest = await api.call(
		"POST",
		`/room/${roomId}/message/send`,
		{ Authorization: `Bearer ${alice.token}` },
		{ text_message: "missed 5 (rest)" },
	);
	expect(rest.json.seq).toBe(5);
	await a.take(1);

	const again = await Peer.open(url, ["roomkit.v1", bob.token]);
	const caughtUp = await again.request({ event: "join_room", data: { room_id: roomId, last_seq: 1 }, id: "rejoin" });
	expect(caughtUp.map((e: Event) => [e.event, e.data.seq ?? e.data.last_seq, e.data.text_message])).toEqual([
		["new_message", 2, "missed 2"],
		["new_message", 3, "missed 3"],
		["new_message", 4, "missed 4"],
		["new_message", 5, "missed 5 (rest)"],
		["ack", 5, undefined],
	]);
	const live = await a.request({ event: "send_message", data: { room_id: roomId, text_message: "live" }, id: "live" });
	expect(await again.take(1)).toEqual([{ event: "new_message", data: live[1].data }]);

	// The heartbeat and a bad frame over TCP.
	again.ws.send('{"event":"ping"}');
	expect(await again.take(1)).toEqual([{ event: "pong" }]);
	again.ws.send("not json");
	expect(await again.take(1)).toEqual([{ event: "error", data: { code: "invalid_json", message: "Frame is not valid JSON" } }]);

	expect(await a.close()).toEqual({ code: 1000, reason: "done" });
	expect(await again.close()).toEqual({ code: 1000, reason: "done" });
});

it("refuses a bad token before the upgrade with 401", async () => {
	const api = new Api(server.base);
	const { users } = await api.tenant(server.adminToken);
	const created = await api.call("POST", "/room", { Authorization: `Bearer ${users[0]?.token}` }, {});
	const url = `${server.base.replace("http", "ws")}/room/${created.json.id}/ws`;
	await expect(Peer.open(url, ["roomkit.v1", "not-a-jwt"])).rejects.toThrow("handshake answered 401");
});

it("?token= works over TCP and the token never reaches the server's output", async () => {
	const api = new Api(server.base);
	const { users } = await api.tenant(server.adminToken);
	const [alice] = users as [{ id: string; token: string }];
	const created = await api.call("POST", "/room", { Authorization: `Bearer ${alice.token}` }, {});
	const url = `${server.base.replace("http", "ws")}/room/${created.json.id}/ws?token=${alice.token}`;
	const s = await Peer.open(url, []);
	expect(s.ws.protocol).toBe("");
	const sent = await s.request({ event: "send_message", data: { room_id: created.json.id, text_message: "query token" }, id: 1 });
	expect(sent.at(-1).data.user_id).toBe(alice.id);
	await s.close();
	await new Promise((r) => setTimeout(r, 300));
	// Both our access line and wrangler's own request line are there, without the query string.
	expect(server.logs()).toContain('"route":"/room/:room_id/ws","status":101');
	expect(server.logs()).toContain(`GET /room/${created.json.id}/ws 101`);
	expect(server.logs()).not.toContain(alice.token);
});

it("the room's own alarm closes a socket with 4001 when its JWT expires", async () => {
	const api = new Api(server.base);
	const { clientId, users } = await api.tenant(server.adminToken);
	const [alice, bob] = users as [{ id: string; token: string }, { id: string; token: string }];
	const created = await api.call("POST", "/room", { Authorization: `Bearer ${alice.token}` }, {});
	const url = `${server.base.replace("http", "ws")}/room/${created.json.id}/ws`;
	// Lives 2 to 3 seconds.
	const short = await signUserToken({ current: server.jwtSecret }, { userId: alice.id, clientId }, 3, Math.floor(Date.now() / 1000) * 1000);
	const expiring = await Peer.open(url, ["roomkit.v1", short.token]);
	const staying = await Peer.open(url, ["roomkit.v1", bob.token]);
	expect((await expiring.request({ event: "join_room", data: { room_id: created.json.id }, id: 1 }))[0].event).toBe("ack");
	await expiring.until(() => expiring.closed !== null, "the 4001 close", 10_000);
	expect(expiring.closed).toEqual({ code: 4001, reason: "token expired" });
	expect(Date.now()).toBeGreaterThanOrEqual(short.exp * 1000);
	expect(staying.closed).toBeNull();
	expect(await staying.close()).toEqual({ code: 1000, reason: "done" });
});
