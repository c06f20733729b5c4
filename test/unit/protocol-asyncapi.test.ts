import { describe, expect, it } from "vitest";
import { asyncApiDocument } from "../../src/protocol/asyncapi";
import { ProtocolErrorCode } from "../../src/protocol/frames";

const doc = asyncApiDocument("https://chat.example.com");

/** Follows a local `#/a/b` reference. */
function resolve(ref: string): unknown {
	expect(ref.startsWith("#/")).toBe(true);
	return ref
		.slice(2)
		.split("/")
		.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);
}

// biome-ignore lint/suspicious/noExplicitAny: walking generated JSON Schema
const payload = (name: string): any => (doc.channels.room.messages as Record<string, { payload: unknown }>)[name]?.payload;

describe("the AsyncAPI document", () => {
	it("describes the room socket and the user socket, each with the conversation's frames and events", () => {
		expect(doc.asyncapi).toBe("3.0.0");
		expect(doc.servers).toEqual({ default: { host: "chat.example.com", protocol: "wss" } });
		expect(asyncApiDocument("http://127.0.0.1:8787").servers).toEqual({ default: { host: "127.0.0.1:8787", protocol: "ws" } });
		expect(doc.channels.room.address).toBe("/room/{room_id}/ws");
		expect(Object.keys(doc.channels.room.messages)).toEqual([
			"join_room",
			"send_message",
			"leave_room",
			"new_message",
			"ack",
			"error",
			"edit_message",
			"delete_message",
			"add_reaction",
			"remove_reaction",
			"typing",
			"message_updated",
			"message_deleted",
			"reaction_added",
			"reaction_removed",
			"typing_set",
			"read_receipt",
			"presence",
		]);
		expect(doc.channels.user.address).toBe("/ws");
		expect(Object.keys(doc.channels.user.messages)).toEqual([
			"join_room",
			"send_message",
			"leave_room",
			"mark_read",
			"ready",
			"new_message",
			"inbox_update",
			"read",
			"room_removed",
			"ack",
			"error",
			"edit_message",
			"delete_message",
			"add_reaction",
			"remove_reaction",
			"typing",
			"message_updated",
			"message_deleted",
			"reaction_added",
			"reaction_removed",
			"typing_set",
			"read_receipt",
			"presence",
		]);
		const ready = resolve((doc.channels.user.messages.ready.payload as { $ref: string }).$ref) as {
			properties: { data: { $ref: string } };
		};
		expect((resolve(ready.properties.data.$ref) as { required: string[] }).required).toEqual(["user_id", "rooms", "unread_total"]);
		// The join ack lists who is online; presence events say who came and went.
		const ack = resolve("#/components/schemas/JoinAck") as { required: string[] };
		expect(ack.required).toEqual(["room_id", "last_seq", "online"]);
		const presence = resolve("#/components/schemas/PresenceData") as { required: string[] };
		expect(presence.required).toEqual(["room_id", "user_id", "online", "last_active_at"]);
	});

	it("every $ref in operations resolves", () => {
		for (const operation of Object.values(doc.operations)) {
			expect([doc.channels.room, doc.channels.user]).toContain(resolve(operation.channel.$ref));
			for (const message of operation.messages) expect(resolve(message.$ref)).toBeDefined();
		}
		const onRoom = Object.values(doc.operations)
			.filter((o) => o.channel.$ref === "#/channels/room")
			.flatMap((o) => o.messages.map((m) => m.$ref.split("/").at(-1)));
		expect(onRoom.sort()).toEqual(Object.keys(doc.channels.room.messages).sort());
		const onUser = Object.values(doc.operations)
			.filter((o) => o.channel.$ref === "#/channels/user")
			.flatMap((o) => o.messages.map((m) => m.$ref.split("/").at(-1)));
		expect(onUser.sort()).toEqual(Object.keys(doc.channels.user.messages).sort());
	});

	it("every $ref anywhere in the document resolves from the document root", () => {
		const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] as string);
		expect(refs.length).toBeGreaterThan(10);
		for (const ref of refs) expect(resolve(ref), ref).toBeDefined();
		expect(JSON.stringify(doc)).not.toContain("#/definitions/");
	});

	it("payloads come from the zod schemas that validate the frames", () => {
		const sendMessage = payload("send_message");
		expect(sendMessage.properties.event).toEqual({ type: "string", const: "send_message" });
		expect(sendMessage.required).toEqual(["event", "data"]);
		const data = resolve(sendMessage.properties.data.$ref) as typeof sendMessage;
		expect(data.required).toEqual(["room_id", "text_message"]);
		expect(data.properties.text_message).toMatchObject({ type: "string", minLength: 1, maxLength: 4000 });
		const join = resolve(payload("join_room").properties.data.$ref) as typeof sendMessage;
		expect(join.properties.last_seq).toMatchObject({ type: "integer", minimum: 0 });
		expect((resolve("#/components/schemas/ProtocolError") as typeof sendMessage).properties.code.enum).toEqual(ProtocolErrorCode.options);
		expect((resolve("#/components/schemas/Message") as typeof sendMessage).required).toEqual([
			"id",
			"room_id",
			"seq",
			"user_id",
			"text_message",
			"created_at",
		]);
	});

	it("states the heartbeat, the batching and the close codes", () => {
		const text = doc.info.description;
		expect(text).toContain('`{"event":"ping"}`');
		expect(text).toContain('`{"event":"pong"}`');
		expect(text).toContain("split on `\\n`");
		expect(text).toContain("4001 token expired");
		expect(text).toContain("4003 removed from a private room or banned");
		expect(text).toContain("`rate_limited` with `retry_after_ms`");
	});
});
