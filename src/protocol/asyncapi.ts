import { z } from "zod";
import {
	AckEvent,
	CLOSE_NOT_READING,
	CLOSE_REMOVED,
	CLOSE_TOKEN_EXPIRED,
	DeleteMessageData,
	EditMessageData,
	ErrorEvent,
	JoinRoomData,
	LeaveRoomData,
	MessageDeletedEvent,
	MessageUpdatedEvent,
	NewMessageEvent,
	PING,
	PONG,
	PROTOCOL_LABEL,
	PresenceEvent,
	ReactionAddedEvent,
	ReactionData,
	ReactionRemovedEvent,
	ReadReceiptEvent,
	RequestId,
	SendMessageData,
	TypingData,
	TypingEvent,
} from "./frames";
import { GatewayErrorEvent, InboxUpdateEvent, MarkReadAck, MarkReadData, ReadEvent, ReadyEvent, RoomRemovedEvent } from "./gateway-frames";

type JsonSchema = Record<string, unknown>;

/**
 * Named schemas (`.meta({id})`) shared by the payloads. zod puts them under the payload's own
 * `definitions` with `#/definitions/...` refs, but inside an AsyncAPI document `#` is the document
 * root, so they move to `components.schemas` and the refs follow.
 */
const shared: Record<string, JsonSchema> = {};

function schema(s: z.ZodType): JsonSchema {
	const {
		$schema: _,
		definitions,
		...rest
	} = z.toJSONSchema(s, { target: "draft-7", io: "input", unrepresentable: "any" }) as JsonSchema & {
		definitions?: Record<string, JsonSchema>;
	};
	const relink = <T>(value: T): T => JSON.parse(JSON.stringify(value).replaceAll('"#/definitions/', '"#/components/schemas/')) as T;
	for (const [name, definition] of Object.entries(definitions ?? {})) shared[name] = relink(definition);
	return relink(rest);
}

const clientFrame = (event: string, data: z.ZodType) => schema(z.object({ event: z.literal(event), data, id: RequestId.optional() }));

type Message = ReturnType<typeof messageOf>;
const messageOf = (name: string, summary: string, payload: unknown) => ({ name, summary, contentType: "application/json", payload });

/** The conversation frames and events both sockets share (the room's log and typing). */
const conversation = (): Record<string, Message> => ({
	edit_message: messageOf(
		"edit_message",
		"Edit your message (a new version; the previous ones stay readable); `ack` `{message, seq}`",
		clientFrame("edit_message", EditMessageData),
	),
	delete_message: messageOf(
		"delete_message",
		"Delete your message (a tombstone stays: no text, metadata or reactions); deleting twice answers the first; `ack` `{room_id, message_id, seq}`",
		clientFrame("delete_message", DeleteMessageData),
	),
	add_reaction: messageOf(
		"add_reaction",
		"React (one per user and type, at most 32 characters); adding again changes nothing (its ack has no `seq`)",
		clientFrame("add_reaction", ReactionData),
	),
	remove_reaction: messageOf("remove_reaction", "Take your reaction back", clientFrame("remove_reaction", ReactionData)),
	typing: messageOf(
		"typing",
		"You are typing in this joined room: send again within TYPING_TTL_MS (6 s) to stay in the set",
		clientFrame("typing", TypingData),
	),
	message_updated: messageOf(
		"message_updated",
		"A message was edited: the message as it is now, and the event's seq",
		schema(MessageUpdatedEvent),
	),
	message_deleted: messageOf("message_deleted", "A message was deleted", schema(MessageDeletedEvent)),
	reaction_added: messageOf("reaction_added", "A reaction was added; carries the new counts", schema(ReactionAddedEvent)),
	reaction_removed: messageOf("reaction_removed", "A reaction was removed; carries the new counts", schema(ReactionRemovedEvent)),
	typing_set: messageOf(
		"typing",
		"Everyone typing in the room now (the whole set; it can hold the receiver's own id), to every joined socket but the typer's own (a set grouping several users' changes goes to theirs too); again when someone stops. At most one per user (not per socket) per second and one per room per 250 ms. Never stored",
		schema(TypingEvent),
	),
	read_receipt: messageOf(
		"read_receipt",
		"A member read up to `last_read_seq` (rooms of up to RECEIPT_MAX_MEMBERS (100) members). Never stored as an event",
		schema(ReadReceiptEvent),
	),
	presence: messageOf(
		"presence",
		"A user came online in the room (their first socket of either kind joined it) or went offline (PRESENCE_GRACE_MS, 5 s, after their last socket left: a reload within it sends nothing), to the room's other joined sockets; rooms of up to PRESENCE_MAX_MEMBERS (100) members and online users. Never stored, never replayed",
		schema(PresenceEvent),
	),
});
const CONVERSATION_SENT = ["edit_message", "delete_message", "add_reaction", "remove_reaction", "typing"];
const CONVERSATION_RECEIVED = [
	"message_updated",
	"message_deleted",
	"reaction_added",
	"reaction_removed",
	"typing_set",
	"read_receipt",
	"presence",
];

/**
 * The WebSocket protocol as an AsyncAPI 3.0 document, generated from the same zod
 * schemas that validate the frames, so the two cannot drift apart.
 */
export function asyncApiDocument(serverUrl: string) {
	const message = (name: string, summary: string, payload: unknown) => ({ name, summary, contentType: "application/json", payload });
	return {
		asyncapi: "3.0.0",
		info: {
			title: "Roomkit chat: WebSockets",
			version: "1.0.0",
			description: [
				"Two sockets, one protocol. The user socket `GET /ws`: one connection for all of a user's rooms (`join_room` each room to follow, `send_message` to any, `mark_read`; the room list with unread counts arrives as `ready`, then `inbox_update`, `read` and `room_removed`). The room socket `GET /room/{room_id}/ws`: one socket per room, for very large live rooms. Both with `Upgrade: websocket`.",
				`Credentials at the handshake: \`Sec-WebSocket-Protocol: ${PROTOCOL_LABEL}, <jwt>\`, or \`?token=<jwt>\`, or the REST headers.`,
				'Frames are JSON text `{"event", "data", "id"?}`. A server frame may hold several events separated by `\\n`: split on `\\n`.',
				"The room is a log of events numbered 1, 2, 3, ... with no gaps across kinds: `new_message`, `message_updated`, `message_deleted`, `reaction_added`, `reaction_removed` (a message's `seq` is the seq of the event that created it). After `join_room` with `last_seq` the socket gets every event of that room with a greater `seq` once, in order: missed ones first, then live ones (on the user socket, per room). `typing`, `read_receipt` and `presence` carry no seq and are never replayed. The `join_room` ack lists who is online in the room (`online`). `unread` counts the messages after the user's `last_read_seq` that others sent, recounted from the room's log.",
				"Moderation errors (the socket stays open): `banned` for any frame about a room the user is banned from (the user socket also gets `room_removed` when the ban is made), `muted` for `send_message` and `edit_message` while muted, `rate_limited` with `retry_after_ms` for a send in slow mode (owners and moderators are exempt).",
				`Heartbeat: send exactly \`${PING}\`; the server answers \`${PONG}\` without waking the room.`,
				`Close codes: ${CLOSE_TOKEN_EXPIRED} token expired (fetch a new JWT, reconnect), ${CLOSE_REMOVED} removed from a private room or banned (from the room, or client-wide on both sockets), ${CLOSE_NOT_READING} too far behind (it stopped reading; reconnect with last_seq), 1011 the room lost this socket's state (reconnect). The server echoes the client's Close.`,
			].join("\n\n"),
		},
		servers: { default: { host: serverUrl.replace(/^https?:\/\//, ""), protocol: serverUrl.startsWith("https") ? "wss" : "ws" } },
		channels: {
			room: {
				address: "/room/{room_id}/ws",
				parameters: { room_id: { description: "The room's UUID" } },
				messages: {
					join_room: message(
						"join_room",
						"Start receiving the room's messages, after `last_seq` when given",
						clientFrame("join_room", JoinRoomData),
					),
					send_message: message(
						"send_message",
						"Store and broadcast a message; answered by `ack` with the stored message",
						clientFrame("send_message", SendMessageData),
					),
					leave_room: message("leave_room", "Stop receiving new messages", clientFrame("leave_room", LeaveRoomData)),
					new_message: message("new_message", "A message stored in the room (the same object as in REST)", schema(NewMessageEvent)),
					ack: message("ack", "Answers a request: `id` echoes it", schema(AckEvent)),
					error: message("error", "A request could not be handled; the socket stays open", schema(ErrorEvent)),
					...conversation(),
				},
			},
			user: {
				address: "/ws",
				messages: {
					join_room: message(
						"join_room",
						"Follow a room on this socket: its messages after `last_seq` when given, then live ones. Refused per frame with `forbidden` or `not_found`; at most MAX_ROOMS_PER_SOCKET (500) rooms",
						clientFrame("join_room", JoinRoomData),
					),
					send_message: message(
						"send_message",
						"Store a message in any room the user may send in, joined or not; `ack` carries the stored message",
						clientFrame("send_message", SendMessageData),
					),
					leave_room: message("leave_room", "Stop following a room on this socket", clientFrame("leave_room", LeaveRoomData)),
					mark_read: message(
						"mark_read",
						"Move the read position forward (clamped to the room's last seq; a lower seq changes nothing); `ack` is `{room_id, last_read_seq, unread}`",
						clientFrame("mark_read", MarkReadData),
					),
					ready: message(
						"ready",
						"First frame: the user's rooms, those with unread first (at most READY_MAX_ROOMS, default 200; the rest by REST), and the total unread",
						schema(ReadyEvent),
					),
					new_message: message("new_message", "A message in a room this socket joined", schema(NewMessageEvent)),
					inbox_update: message(
						"inbox_update",
						"News in a member room this socket did not join: its last seq, unread count and latest message (debounced: at most one per room every INBOX_DEBOUNCE_MS, default 1 s; the last one always says the final state)",
						schema(InboxUpdateEvent),
					),
					read: message("read", "The user's read position moved (another device, or REST)", schema(ReadEvent)),
					room_removed: message(
						"room_removed",
						"The user was removed from a private room: delivery for it stopped; later joins are refused",
						schema(RoomRemovedEvent),
					),
					ack: message("ack", "Answers a request: `id` echoes it (`mark_read`'s data is MarkReadAck)", {
						...schema(AckEvent),
						"x-mark-read-ack": schema(MarkReadAck),
					}),
					error: message("error", "A request could not be handled; the socket stays open", schema(GatewayErrorEvent)),
					...conversation(),
				},
			},
		},
		// Filled below: the user socket shares join_room/send_message/leave_room/new_message with the room socket.
		operations: {
			joinRoom: { action: "send", channel: { $ref: "#/channels/room" }, messages: [{ $ref: "#/channels/room/messages/join_room" }] },
			sendMessage: { action: "send", channel: { $ref: "#/channels/room" }, messages: [{ $ref: "#/channels/room/messages/send_message" }] },
			leaveRoom: { action: "send", channel: { $ref: "#/channels/room" }, messages: [{ $ref: "#/channels/room/messages/leave_room" }] },
			...Object.fromEntries(
				CONVERSATION_SENT.map((name) => [
					`room_${name}`,
					{ action: "send", channel: { $ref: "#/channels/room" }, messages: [{ $ref: `#/channels/room/messages/${name}` }] },
				]),
			),
			receive: {
				action: "receive",
				channel: { $ref: "#/channels/room" },
				messages: ["new_message", "ack", "error", ...CONVERSATION_RECEIVED].map((name) => ({ $ref: `#/channels/room/messages/${name}` })),
			},
			...Object.fromEntries(
				["join_room", "send_message", "leave_room", "mark_read", ...CONVERSATION_SENT].map((name) => [
					`user_${name}`,
					{ action: "send", channel: { $ref: "#/channels/user" }, messages: [{ $ref: `#/channels/user/messages/${name}` }] },
				]),
			),
			user_receive: {
				action: "receive",
				channel: { $ref: "#/channels/user" },
				messages: ["ready", "new_message", "inbox_update", "read", "room_removed", "ack", "error", ...CONVERSATION_RECEIVED].map(
					(name) => ({
						$ref: `#/channels/user/messages/${name}`,
					}),
				),
			},
		},
		// Filled while the payloads above were built (properties evaluate in order).
		components: { schemas: { ...shared } },
	};
}
