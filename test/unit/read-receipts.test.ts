// Read receipts through a whole room (RoomService on node:sqlite, its settings from loadConfig):
// sent after a read in rooms of up to RECEIPT_MAX_MEMBERS members, none above, reads still listed.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import type { Env } from "../../src/env";
import type { GatewayPort } from "../../src/gateway/push";
import { RoomService } from "../../src/room/room-service";
import { FakePeer, ROOM, sqlOf, T0 } from "./room-support";

const CLIENT = "client-1";

/** A room of `members` (u1, u2, …) with RECEIPT_MAX_MEMBERS set (or not), u1 joined on a room socket, u3 on a user socket. */
async function roomOf(members: number, receiptMaxMembers?: string) {
	const tasks: Array<() => void> = [];
	const signals: Array<{ event: string; data: unknown }> = [];
	const env = {
		ADMIN_TOKEN: "a",
		JWT_SECRET: "j",
		...(receiptMaxMembers ? { RECEIPT_MAX_MEMBERS: receiptMaxMembers } : {}),
	} as unknown as Env;
	const gateway = { signal: async (_roomId: string, event: string, data: unknown) => void signals.push({ event, data }) };
	const service = new RoomService({
		roomId: ROOM,
		sql: sqlOf(new DatabaseSync(":memory:")),
		config: loadConfig(env),
		directory: () => {
			throw new Error("the room was created with its members: no directory call");
		},
		gateway: () => gateway as unknown as GatewayPort,
		scheduler: { now: () => T0, after: (_ms, run) => void tasks.push(run) },
		newId: () => crypto.randomUUID(),
		wakeAt: () => undefined,
		exclusive: (load) => load(),
		disconnectUser: () => undefined,
	});
	const ids = Array.from({ length: members }, (_, i) => `u${i + 1}`);
	service.created({ clientId: CLIENT, private: false }, ids);
	const flush = () => {
		for (let i = 0; i < 10 && tasks.length > 0; i++) for (const run of tasks.splice(0)) run();
	};
	const watcher = new FakePeer({ userId: "u1", clientId: CLIENT, roomId: ROOM, exp: 0, joined: false });
	service.core.attach(watcher);
	service.core.handleFrame(watcher, JSON.stringify({ event: "join_room", data: { room_id: ROOM }, id: 1 }));
	await service.subscribe({ clientId: CLIENT, userId: "u3" }, "gateway-1");
	const sent = service.core.sendFromGateway({ roomId: ROOM, userId: "u1", text: "read me" });
	if (!sent.ok) throw new Error("send refused");
	flush();
	watcher.take();
	signals.splice(0);
	/** u2 reads the message: what u1's socket and the gateways were told. */
	const readByU2 = async () => {
		const result = await service.markRead({ clientId: CLIENT, userId: "u2" }, sent.message.seq);
		flush();
		const receipts = (events: unknown[]) => events.filter((e) => (e as { event: string }).event === "read_receipt");
		return { result, socket: receipts(watcher.take()), gateways: receipts(signals.splice(0)) };
	};
	return { service, readByU2, seq: sent.message.seq };
}

const receipt = (seq: number) => ({ event: "read_receipt", data: { room_id: ROOM, user_id: "u2", last_read_seq: seq } });

describe("read receipts and RECEIPT_MAX_MEMBERS", () => {
	it("a room of exactly RECEIPT_MAX_MEMBERS members sends the receipt to joined sockets and the gateways", async () => {
		const { readByU2, seq } = await roomOf(3, "3");
		const { result, socket, gateways } = await readByU2();
		expect(result).toMatchObject({ ok: true, last_read_seq: seq, unread: 0 });
		expect(socket).toEqual([receipt(seq)]);
		expect(gateways).toEqual([receipt(seq)]);
	});

	it("one member more sends none, and GET /room/{id}/reads still lists the read", async () => {
		const { service, readByU2, seq } = await roomOf(4, "3");
		const { result, socket, gateways } = await readByU2();
		expect(result).toMatchObject({ ok: true, last_read_seq: seq, unread: 0 });
		expect(socket).toEqual([]);
		expect(gateways).toEqual([]);
		expect(await service.reads(CLIENT)).toEqual([
			{ user_id: "u1", last_read_seq: 0 },
			{ user_id: "u2", last_read_seq: seq },
			{ user_id: "u3", last_read_seq: 0 },
			{ user_id: "u4", last_read_seq: 0 },
		]);
	});

	it("unset, the cap is 100 members", async () => {
		expect((await (await roomOf(100)).readByU2()).socket).toEqual([receipt(1)]);
		expect((await (await roomOf(101)).readByU2()).socket).toEqual([]);
	});

	it("refuses a RECEIPT_MAX_MEMBERS that is not a positive integer", async () => {
		await expect(roomOf(3, "many")).rejects.toThrow('RECEIPT_MAX_MEMBERS must be a positive integer, got "many"');
	});
});
