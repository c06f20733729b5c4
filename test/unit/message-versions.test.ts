// The cap on versions per message (MAX_MESSAGE_VERSIONS, 100: the original and 99 edits), on the room socket.
import { describe, expect, it } from "vitest";
import { MAX_MESSAGE_VERSIONS } from "../../src/room/message-log";
import { makeRoom, ROOM } from "./room-support";

describe("versions per message", () => {
	it("99 edits are stored; the next gets too_many_versions, stores nothing and tells nobody; a delete still works", () => {
		expect(MAX_MESSAGE_VERSIONS).toBe(100);
		const room = makeRoom({ limits: { wsRateBurst: 1_000 } });
		const alice = room.peer("alice");
		const bob = room.peer("bob");
		room.feed(alice, { event: "join_room", data: { room_id: ROOM } });
		room.feed(bob, { event: "join_room", data: { room_id: ROOM } });
		room.feed(alice, { event: "send_message", data: { room_id: ROOM, text_message: "v1" }, id: "send" });
		const [ack] = alice.take().filter((e) => (e as { event: string }).event === "ack" && (e as { id?: string }).id === "send") as Array<{
			data: { id: string };
		}>;
		const messageId = ack!.data.id;
		const edit = (text: string, id: string) =>
			room.feed(alice, { event: "edit_message", data: { room_id: ROOM, message_id: messageId, text_message: text }, id });
		for (let v = 2; v <= 100; v++) edit(`v${v}`, `e${v}`);
		const acks = alice.take().filter((e) => (e as { event: string }).event === "ack") as Array<{ data: { message: { version: number } } }>;
		expect(acks.map((a) => a.data.message.version)).toEqual(Array.from({ length: 99 }, (_, i) => i + 2));
		bob.take();
		const lastSeq = room.core.lastSeq();

		edit("v101", "e101");
		expect(alice.take()).toEqual([
			{ event: "error", id: "e101", data: { code: "too_many_versions", message: "This message has been edited too many times" } },
		]);
		expect(bob.take()).toEqual([]);
		expect(room.core.lastSeq()).toBe(lastSeq);
		const [message] = room.core.history({ limit: 1 });
		expect(message).toMatchObject({ id: messageId, text_message: "v100", version: 100 });

		room.feed(alice, { event: "delete_message", data: { room_id: ROOM, message_id: messageId }, id: "del" });
		expect(alice.take()).toEqual([
			{ event: "message_deleted", data: { room_id: ROOM, message_id: messageId, seq: lastSeq + 1 } },
			{ event: "ack", id: "del", data: { room_id: ROOM, message_id: messageId, seq: lastSeq + 1 } },
		]);
	});
});
