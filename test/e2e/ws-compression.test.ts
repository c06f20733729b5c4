// WS_COMPRESSION over real TCP on every runtime: the `ws` client offers permessage-deflate (its
// default, as browsers do); workerd declines it unless WS_COMPRESSION=on, the Deno host always
// (Deno's WebSocket server has no permessage-deflate), and messages flow either way.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Api } from "./api-client";
import { type RunningServer, startDeno, startSelfhost, startWranglerDev } from "./harness";

interface Opened {
	ws: WebSocket;
	/** `Sec-WebSocket-Extensions` of the 101, or null when absent. */
	answered: string | null;
	lines: string[];
}

/** The room socket, or the user socket (`/ws`) when `user` is set. */
function open(base: string, roomId: string, token: string, user = false): Promise<Opened> {
	const ws = new WebSocket(`${base.replace(/^http/, "ws")}${user ? "/ws" : `/room/${roomId}/ws`}`, ["roomkit.v1", token]);
	const opened: Opened = { ws, answered: null, lines: [] };
	ws.on("message", (data) => opened.lines.push(...data.toString().split("\n")));
	ws.once("upgrade", (res) => {
		const value = res.headers["sec-websocket-extensions"];
		opened.answered = value === undefined ? null : String(value);
	});
	return new Promise((resolve, reject) => {
		ws.once("open", () => resolve(opened));
		ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
		ws.once("error", reject);
	});
}

async function until(ready: () => boolean, what: string): Promise<void> {
	const deadline = Date.now() + 10_000;
	while (!ready()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 20));
	}
}

/** Two sockets of two users in one room; bob sends, both receive it over the negotiated framing. */
async function exchange(server: RunningServer, user = false) {
	const api = new Api(server.base);
	const t = await api.tenant(server.adminToken);
	const [alice, bob] = t.users as [(typeof t.users)[number], (typeof t.users)[number]];
	const room = await api.call("POST", "/room", { clientKey: `${t.key}.${alice.id}` }, { name: "deflate", members: [bob.id] });
	expect(room.status).toBe(201);
	const a = await open(server.base, room.json.id, alice.token, user);
	const b = await open(server.base, room.json.id, bob.token, user);
	for (const [s, id] of [
		[a, "ja"],
		[b, "jb"],
	] as const) {
		s.ws.send(JSON.stringify({ event: "join_room", data: { room_id: room.json.id }, id }));
		await until(() => s.lines.some((l) => l.includes(`"id":"${id}"`)), `join ${id}`);
	}
	// Long and repetitive, so a deflated frame would be much shorter than the text.
	const text = "compressible ".repeat(200);
	b.ws.send(JSON.stringify({ event: "send_message", data: { room_id: room.json.id, text_message: text }, id: "m1" }));
	const received = (s: Opened) => s.lines.some((l) => l.startsWith('{"event":"new_message"') && l.includes(text));
	await until(() => received(a) && received(b), "the message on both sockets");
	const result = { answered: [a.answered, b.answered], agreed: [a.ws.extensions, b.ws.extensions] };
	a.ws.close();
	b.ws.close();
	return result;
}

for (const [runtime, start] of [
	["bare workerd", startSelfhost],
	["wrangler dev", startWranglerDev],
	["Deno", startDeno],
] as const) {
	const deflates = runtime !== "Deno";
	describe(`WS_COMPRESSION on ${runtime}`, () => {
		let off: RunningServer;
		let on: RunningServer;
		beforeAll(async () => {
			[off, on] = await Promise.all([start(), start({ vars: { WS_COMPRESSION: "on" } })]);
		});
		afterAll(async () => {
			await Promise.all([off?.stop(), on?.stop()]);
		});

		it.each([
			["room socket", false],
			["user socket", true],
		])("declines permessage-deflate by default on the %s: the 101 has no Sec-WebSocket-Extensions", async (_kind, user) => {
			expect(await exchange(off, user)).toEqual({ answered: [null, null], agreed: ["", ""] });
		});

		it.runIf(deflates).each([
			["room socket", false],
			["user socket", true],
		])("accepts the offer with WS_COMPRESSION=on on the %s", async (_kind, user) => {
			const { answered, agreed } = await exchange(on, user);
			expect(agreed).toEqual(["permessage-deflate", "permessage-deflate"]);
			for (const value of answered) expect(value).toMatch(/^permessage-deflate(;|$)/);
		});

		it.runIf(!deflates).each([
			["room socket", false],
			["user socket", true],
		])("declines the offer even with WS_COMPRESSION=on on the %s", async (_kind, user) => {
			expect(await exchange(on, user)).toEqual({ answered: [null, null], agreed: ["", ""] });
		});
	});
}
