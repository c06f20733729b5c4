import { z } from "zod";
import { MessageDeletedData, MessageUpdatedData, ReactionEventData } from "../protocol/frames";
import type { RoomEvent } from "../room/message-log";
import { Id, Timestamp } from "../schemas/common";
import { Message, type MessageT } from "../schemas/message";
import { User } from "../schemas/user";
import type { WebhookOutboxRow } from "../storage/schema";

/** Every event type an endpoint can subscribe to. */
export const EVENT_TYPES = [
	"message.new",
	"message.updated",
	"message.deleted",
	"reaction.added",
	"reaction.removed",
	"message.flagged",
	"room.created",
	"member.added",
	"member.removed",
	"user.created",
] as const;
/** The room's log as webhook types (`new_message` is `message.new`, and so on). */
export const ROOM_EVENT_TYPES = {
	new_message: "message.new",
	message_updated: "message.updated",
	message_deleted: "message.deleted",
	reaction_added: "reaction.added",
	reaction_removed: "reaction.removed",
} as const satisfies Record<RoomEvent["event"], EventTypeT>;
export const EventType = z.enum(EVENT_TYPES).meta({ id: "WebhookEventType" });
export type EventTypeT = z.infer<typeof EventType>;

const iso = (ms: number) => new Date(ms).toISOString();

/** `data` of each event type: the same objects the REST API returns, plus `room_id` on room events. */
export const EventData = {
	"message.new": Message,
	"message.updated": MessageUpdatedData.extend({ room_id: Id }).meta({ id: "MessageUpdatedHookData" }),
	"message.deleted": MessageDeletedData,
	"reaction.added": ReactionEventData,
	"reaction.removed": ReactionEventData,
	"room.created": z
		.object({ room_id: Id, name: z.string().nullable(), private: z.boolean(), created_by: Id.nullable(), created_at: Timestamp })
		.meta({ id: "RoomCreatedData" }),
	"member.added": z.object({ room_id: Id, user_id: Id, joined_at: Timestamp }).meta({ id: "MemberAddedData" }),
	"member.removed": z.object({ room_id: Id, user_id: Id }).meta({ id: "MemberRemovedData" }),
	"user.created": User,
	"message.flagged": z
		.object({
			id: Id.meta({ description: "The flag's id" }),
			room_id: Id,
			message_id: Id,
			seq: z.number().int().positive(),
			flagged_by: Id,
			reason: z.string(),
			created_at: Timestamp,
		})
		.meta({ id: "MessageFlaggedData" }),
} as const;

/** The body of one delivery (Standard Webhooks: `{type, timestamp, data}`), per type, for the OpenAPI document. */
export const payloadSchema = <T extends EventTypeT>(type: T) =>
	z
		.object({
			type: z.literal(type),
			timestamp: Timestamp.meta({ description: "When the event happened" }),
			data: EventData[type],
		})
		.meta({ id: `Webhook_${type.replace(".", "_")}` });

/** An event ready to deliver: its id (`webhook-id`), how it is ordered, and its exact body. */
export interface WebhookEvent {
	id: string;
	type: EventTypeT;
	/** Deliveries with the same key reach an endpoint one at a time, in the order they were accepted. */
	orderKey: string;
	/** Milliseconds since the epoch. */
	occurredAt: number;
	/** The JSON body, serialised once so every attempt signs and sends the same bytes. */
	body: string;
}

const envelope = (type: EventTypeT, occurredAt: number, data: unknown) => JSON.stringify({ type, timestamp: iso(occurredAt), data });

/**
 * A stored event of the room as a webhook event. `message.new` keeps its id from the message; the
 * others take theirs from the room and seq. Either way a re-forwarded event dedups. Its
 * `timestamp` is when the room's log stored it (`event.at`), so a delivery and the events feed
 * show the same time for the same id; `now` only stands in for an event built without one.
 */
export function roomEvent(event: RoomEvent, now: number): WebhookEvent {
	if (event.event === "new_message") return messageEvent(event.data);
	const type = ROOM_EVENT_TYPES[event.event];
	const roomId = event.event === "message_updated" ? event.data.message.room_id : event.data.room_id;
	const stored = Date.parse(event.at ?? "");
	const occurredAt = Number.isFinite(stored) ? stored : now;
	const data = event.event === "message_updated" ? { room_id: roomId, ...event.data } : event.data;
	return { id: `evt_${roomId}_${event.seq}`, type, orderKey: `messages:${roomId}`, occurredAt, body: envelope(type, occurredAt, data) };
}

/** A stored message as a `message.new` event; its id derives from the message, so a re-forwarded message dedups. */
export function messageEvent(message: MessageT): WebhookEvent {
	const occurredAt = Date.parse(message.created_at);
	return {
		id: `evt_${message.id}`,
		type: "message.new",
		orderKey: `messages:${message.room_id}`,
		occurredAt,
		body: envelope("message.new", occurredAt, message),
	};
}

// The rows the directory triggers write (migrations/0001_webhooks.sql), parsed rather than cast.
const RoomRowData = z.object({
	id: z.string(),
	name: z.string().nullable(),
	private: z.union([z.number(), z.boolean()]),
	created_by: z.string().nullable(),
	created_at: z.number(),
});
const MemberRowData = z.object({ room_id: z.string(), user_id: z.string(), created_at: z.number() });
const FlagRowData = z.object({
	id: z.string(),
	room_id: z.string(),
	message_id: z.string(),
	seq: z.number(),
	user_id: z.string(),
	reason: z.string(),
	created_at: z.number(),
});
const UserRowData = z.object({ id: z.string(), name: z.string().nullable(), metadata: z.string().nullable(), created_at: z.number() });

/** A directory outbox row as an event, or null for a type this version does not know (it is dropped). */
export function directoryEvent(row: WebhookOutboxRow): WebhookEvent | null {
	const raw: unknown = JSON.parse(row.data);
	const at = row.createdAt;
	const event = (type: EventTypeT, orderKey: string, data: unknown): WebhookEvent => ({
		id: row.id,
		type,
		orderKey,
		occurredAt: at,
		body: envelope(type, at, data),
	});
	switch (row.type) {
		case "user.created": {
			const u = UserRowData.parse(raw);
			const metadata: unknown = u.metadata === null ? null : JSON.parse(u.metadata);
			return event("user.created", `user:${u.id}`, { id: u.id, name: u.name, metadata, created_at: iso(u.created_at) });
		}
		case "room.created": {
			const r = RoomRowData.parse(raw);
			return event("room.created", `room:${r.id}`, {
				room_id: r.id,
				name: r.name,
				private: Boolean(r.private),
				created_by: r.created_by,
				created_at: iso(r.created_at),
			});
		}
		case "member.added": {
			const m = MemberRowData.parse(raw);
			return event("member.added", `room:${m.room_id}`, { room_id: m.room_id, user_id: m.user_id, joined_at: iso(m.created_at) });
		}
		case "member.removed": {
			const m = MemberRowData.parse(raw);
			return event("member.removed", `room:${m.room_id}`, { room_id: m.room_id, user_id: m.user_id });
		}
		case "message.flagged": {
			const f = FlagRowData.parse(raw);
			return event("message.flagged", `room:${f.room_id}`, {
				id: f.id,
				room_id: f.room_id,
				message_id: f.message_id,
				seq: f.seq,
				flagged_by: f.user_id,
				reason: f.reason,
				created_at: iso(f.created_at),
			});
		}
		default:
			return null;
	}
}
