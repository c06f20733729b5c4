// The user socket across the lives of its gateway object and of the room: both objects evicted
// (what hibernation does to an idle object) while the socket stays open, then messages, reads and
// a new connection's `ready` work from storage and attachments alone.
import { evictDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config";
import type { Env } from "../../src/env";
import { gatewayName } from "../../src/gateway/shard";
import { gatewayStub } from "../../src/gateway/stub";
import { roomStub } from "../../src/room/stub";
import { BASE, call, room, tenant } from "./helpers";
import { Client, type Event, viaProtocol } from "./ws-support";

vi.setConfig({ testTimeout: 30_000 });

const bindings = env as unknown as Env;

async function userSocket(token: string): Promise<Client> {
	const res = await (exports as unknown as { default: Fetcher }).default.fetch(`${BASE}/ws`, {
		headers: { Upgrade: "websocket", ...viaProtocol(token).headers },
	});
	if (res.status !== 101 || !res.webSocket) throw new Error(`handshake ${res.status}: ${await res.text()}`);
	return new Client(res.webSocket, res);
}

describe("user socket across evictions", () => {
	it("keeps its subscriptions, cursor and room list when its gateway and the room are evicted", async () => {
		const t = await tenant(2);
		const [alice, bob] = t.users as [(typeof t.users)[0], (typeof t.users)[0]];
		const r = await room(t, { members: [alice.id, bob.id] });
		const socket = await userSocket(alice.token);
		expect((await socket.next()).event).toBe("ready");
		const joined = await socket.request({ event: "join_room", data: { room_id: r.id }, id: "j" });
		expect(joined.at(-1)).toMatchObject({ event: "ack", id: "j", data: { room_id: r.id, last_seq: 0 } });
		const first = await call("POST", `/room/${r.id}/message/send`, bob.auth, { text_message: "one" });
		expect(await socket.next()).toEqual({ event: "new_message", data: first.json });

		const gateway = gatewayStub(bindings, gatewayName(t.clientId, alice.id, loadConfig(bindings).gatewayShards));
		await evictDurableObject(gateway);
		await evictDurableObject(roomStub(bindings, r.id));

		// New instances of both: the room's subscriber list and the gateway's cursor came from storage.
		const second = await call("POST", `/room/${r.id}/message/send`, bob.auth, { text_message: "two" });
		expect(second.json.seq).toBe(2);
		expect(await socket.next()).toEqual({ event: "new_message", data: second.json });
		const read = await socket.request({ event: "mark_read", data: { room_id: r.id, seq: 2 }, id: "m" });
		expect(read.at(-1)).toEqual({ event: "ack", id: "m", data: { room_id: r.id, last_read_seq: 2, unread: 0 } });

		await evictDurableObject(gateway);
		const tab = await userSocket(alice.token);
		const ready: Event = await tab.next();
		expect(ready).toMatchObject({
			event: "ready",
			data: { user_id: alice.id, rooms: [{ room_id: r.id, last_seq: 2, last_read_seq: 2, unread: 0 }], unread_total: 0 },
		});
		// The first socket heard its own read as a receipt (joined sockets do), and nothing else.
		expect(await socket.quiet()).toEqual([{ event: "read_receipt", data: { room_id: r.id, user_id: alice.id, last_read_seq: 2 } }]);
		socket.close();
		tab.close();
	});
});
