// Property-based, over real TCP on bare workerd: random histories of sends (REST, the room socket
// and the user socket, some replying), edits, deletes, reactions, reads from several devices and
// reconnects with `last_seq`, some of them concurrent. After each history every socket's view
// (live plus catch-up) equals the history read over REST, which equals what the server acknowledged;
// and every user's unread count, over REST and on a user socket that joined no room, equals a
// recount from the log: messages after the read position, not deleted, sent by someone else.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api } from "./api-client";
import { type Connection, connect, LOGGED, type MessageState, RoomView, stateOf } from "./conversation-view";
import { type RunningServer, startSelfhost } from "./harness";
import type { ServerEvent } from "./ws-client";

// biome-ignore lint/suspicious/noExplicitAny: black-box tests read arbitrary JSON and assert on it exactly
type Json = any;

// ---- The generated histories -------------------------------------------------------------------

type Via = "rest" | "user" | "room" | "inbox";
/** `pick` chooses among the candidates that exist when the step runs (modulo their number). */
type Op =
	| { kind: "send"; user: number; room: number; via: Via; text: string; replyTo: number | null }
	| { kind: "edit"; user: number; room: number; via: Via; pick: number; text: string }
	| { kind: "delete"; user: number; room: number; via: Via | "backend"; pick: number }
	| { kind: "react"; user: number; room: number; via: Via; pick: number; type: string; add: boolean }
	| { kind: "read"; user: number; room: number; via: "rest" | "user" | "inbox"; at: "last" | "beyond" | "zero" | number }
	| { kind: "reconnect"; user: number; socket: "user" | "room" | "inbox" };

const USERS = 3;
const ROOMS = 2;
const user = fc.integer({ min: 0, max: USERS - 1 });
const room = fc.integer({ min: 0, max: ROOMS - 1 });
const via = fc.constantFrom<Via>("rest", "user", "room", "inbox");
const pick = fc.nat(99);
const text = fc.string({ minLength: 1, maxLength: 12, unit: "grapheme" });
const change: fc.Arbitrary<Op> = fc.oneof(
	{ weight: 5, arbitrary: fc.record({ kind: fc.constant("send"), user, room, via, text, replyTo: fc.option(pick, { freq: 3 }) }) },
	{ weight: 2, arbitrary: fc.record({ kind: fc.constant("edit"), user, room, via, pick, text }) },
	{
		weight: 1,
		arbitrary: fc.record({
			kind: fc.constant("delete"),
			user,
			room,
			via: fc.constantFrom<Via | "backend">("rest", "user", "room", "inbox", "backend"),
			pick,
		}),
	},
	{
		weight: 3,
		arbitrary: fc.record({ kind: fc.constant("react"), user, room, via, pick, type: fc.constantFrom("👍", "🎉"), add: fc.boolean() }),
	},
	{
		weight: 2,
		arbitrary: fc.record({
			kind: fc.constant("read"),
			user,
			room,
			via: fc.constantFrom<"rest" | "user" | "inbox">("rest", "user", "inbox"),
			at: fc.oneof(fc.constantFrom<"last" | "beyond" | "zero">("last", "beyond", "zero"), pick),
		}),
	},
);
const reconnect: fc.Arbitrary<Op> = fc.record({
	kind: fc.constant("reconnect"),
	user,
	socket: fc.constantFrom<"user" | "room" | "inbox">("user", "room", "inbox"),
});
/**
 * A step is one op, or 2-4 ops started at once (their order is the server's to choose), among
 * them reconnects: a socket's catch-up then races live traffic.
 */
const step = fc.oneof(
	{ weight: 6, arbitrary: change.map((op) => [op]) },
	{ weight: 1, arbitrary: reconnect.map((op) => [op]) },
	{
		weight: 3,
		arbitrary: fc.array(fc.oneof({ weight: 4, arbitrary: change }, { weight: 1, arbitrary: reconnect }), { minLength: 2, maxLength: 4 }),
	},
);
const histories = fc.limitShrink(
	// "max": lengths spread up to maxLength (the default biases towards short arrays, too short to edit much).
	fc.array(step, { minLength: 8, maxLength: 18, size: "max" }).filter((steps) => steps.flat().length <= 30),
	10,
);

// ---- What the server acknowledged, folded in seq order ---------------------------------------

interface ModelMessage {
	id: string;
	seq: number;
	user_id: string;
	text_message: string;
	deletedSeq: number | null;
	version: number;
	reply_to: string | null;
	reactions: Map<string, Set<string>>;
}

class RoomModel {
	last = 0;
	readonly messages = new Map<string, ModelMessage>();
	readonly lastRead = new Map<string, number>();
	constructor(readonly id: string) {}

	list(): ModelMessage[] {
		return [...this.messages.values()];
	}
	unread(userId: string): number {
		const read = this.lastRead.get(userId) ?? 0;
		return this.list().filter((m) => m.seq > read && m.user_id !== userId && m.deletedSeq === null).length;
	}
	counts(m: ModelMessage): Record<string, number> {
		return Object.fromEntries([...m.reactions].filter(([, who]) => who.size > 0).map(([type, who]) => [type, who.size]));
	}
	snapshot(): MessageState[] {
		return this.list().map((m) => ({
			id: m.id,
			seq: m.seq,
			user_id: m.user_id,
			text_message: m.deletedSeq === null ? m.text_message : "",
			deleted: m.deletedSeq !== null,
			reactions: m.deletedSeq === null ? this.counts(m) : {},
			version: m.version,
			reply_to: m.reply_to,
			reply_count: this.list().filter((r) => r.reply_to === m.id).length,
		}));
	}
}

type Answer = { ok: true; data: Json } | { ok: false; code: string; detail: string };
/** A change's answer with what was asked: applied to the model in seq order once its step is done. */
type Outcome =
	| { kind: "send"; room: RoomModel; userId: string; text: string; replyTo: string | null; answer: Answer }
	| { kind: "edit"; room: RoomModel; userId: string; messageId: string; text: string; answer: Answer }
	| { kind: "delete"; room: RoomModel; messageId: string; answer: Answer }
	| { kind: "react"; room: RoomModel; userId: string; messageId: string; type: string; add: boolean; answer: Answer }
	| { kind: "read"; room: RoomModel; userId: string; seq: number; answer: Answer };

const fromSocket = (e: ServerEvent): Answer =>
	e.event === "ack" ? { ok: true, data: e.data } : { ok: false, code: e.data?.code, detail: JSON.stringify(e) };
const fromRest = (r: { status: number; json: Json }): Answer =>
	r.status < 300 ? { ok: true, data: r.json } : { ok: false, code: r.json?.error?.code, detail: `${r.status} ${JSON.stringify(r.json)}` };
/** The seq a change's answer carries (none for a read, a refusal, or a reaction that changed nothing). */
const seqOf = (o: Outcome): number | undefined => (o.kind !== "read" && o.answer.ok ? o.answer.data.seq : undefined);

/**
 * Applies a step's answers: the stored changes in seq order, each exactly the room's next seq
 * (1, 2, 3, ... across all kinds) and consistent with the model at that point; then the answers
 * with no new seq. `alone`: the step was one op, so its answer is exactly predictable.
 */
function applyStep(outcomes: Outcome[], alone: boolean): void {
	const stored = outcomes.filter((o) => seqOf(o) !== undefined).sort((a, b) => (seqOf(a) ?? 0) - (seqOf(b) ?? 0));
	for (const o of stored) {
		const { room } = o;
		const seq = seqOf(o) as number;
		const data = (o.answer as { data: Json }).data;
		if (seq <= room.last) {
			// Only a second delete answers an old seq: the first deletion's.
			expect({ kind: o.kind, seq }).toEqual({ kind: "delete", seq: room.messages.get((o as { messageId: string }).messageId)?.deletedSeq });
			continue;
		}
		expect(seq, `seq after ${room.last} in room ${room.id}`).toBe(room.last + 1);
		room.last = seq;
		if (o.kind === "send") {
			expect(data).toMatchObject({ room_id: room.id, user_id: o.userId, text_message: o.text });
			expect(data.reply_to ?? null).toBe(o.replyTo);
			room.messages.set(data.id, {
				id: data.id,
				seq,
				user_id: o.userId,
				text_message: o.text,
				deletedSeq: null,
				version: 1,
				reply_to: o.replyTo,
				reactions: new Map(),
			});
			continue;
		}
		const m = room.messages.get(o.messageId);
		if (!m) throw new Error(`a change to unknown message ${o.messageId}`);
		if (o.kind === "edit") {
			expect(m.deletedSeq, "an edit of a deleted message was stored").toBeNull();
			expect(m.user_id).toBe(o.userId);
			expect(data.message).toMatchObject({ id: m.id, text_message: o.text, version: m.version + 1, edited_at: expect.any(String) });
			m.version += 1;
			m.text_message = o.text;
		} else if (o.kind === "delete") {
			expect(m.deletedSeq, "a message was deleted twice").toBeNull();
			expect(data).toMatchObject({ room_id: room.id, message_id: m.id });
			m.deletedSeq = seq;
		} else if (o.kind === "react") {
			expect(m.deletedSeq, "a reaction to a deleted message was stored").toBeNull();
			const who = m.reactions.get(o.type) ?? new Set<string>();
			expect(who.has(o.userId), "a reaction that changed nothing got a seq").toBe(!o.add);
			if (o.add) who.add(o.userId);
			else who.delete(o.userId);
			m.reactions.set(o.type, who);
			expect(data).toMatchObject({ message_id: m.id, user_id: o.userId, type: o.type, reactions: room.counts(m) });
		}
	}
	for (const o of outcomes) {
		const { room } = o;
		if (!o.answer.ok) {
			// The only refusal a valid op may get: a change to a message deleted before it ran.
			const m = room.messages.get((o as { messageId?: string }).messageId ?? "");
			expect({ kind: o.kind, code: o.answer.code, deleted: m?.deletedSeq != null }, o.answer.detail).toEqual({
				kind: o.kind === "edit" ? "edit" : "react",
				code: "message_deleted",
				deleted: true,
			});
			continue;
		}
		if (o.kind === "read") {
			const { last_read_seq, unread } = o.answer.data;
			if (alone) {
				// Forward only, clamped to the room's last seq; the count is a recount after the move.
				const want = Math.max(room.lastRead.get(o.userId) ?? 0, Math.min(o.seq, room.last));
				room.lastRead.set(o.userId, want);
				expect({ last_read_seq, unread }, `read to ${o.seq}`).toEqual({ last_read_seq: want, unread: room.unread(o.userId) });
			}
			expect(last_read_seq, "a read position past the room's last seq").toBeLessThanOrEqual(room.last);
			room.lastRead.set(o.userId, Math.max(room.lastRead.get(o.userId) ?? 0, last_read_seq));
		} else if (o.kind === "react" && o.answer.data.seq === undefined && alone) {
			// Adding what is there, or removing what is not, changes nothing and stores nothing.
			const m = room.messages.get(o.messageId) as ModelMessage;
			expect(m.reactions.get(o.type)?.has(o.userId) ?? false).toBe(o.add);
			expect(o.answer.data.reactions).toEqual(room.counts(m));
		}
	}
}

// ---- The clients ---------------------------------------------------------------------------------

interface User {
	id: string;
	token: string;
}
/** One socket of a user: `user` joins both rooms, `room` is a room socket, `inbox` is a user socket joined to none. */
interface Device {
	label: string;
	kind: "user" | "room" | "inbox";
	user: User;
	/** The rooms this socket joined, each as it saw it. */
	views: Map<string, RoomView>;
	/** The inbox socket's latest figures per room, from `ready`, `inbox_update`, `read` and its own `mark_read` acks. */
	figures: Map<string, { last_read_seq?: number; unread: number }>;
	ready: boolean;
	generation: number;
	conn?: Connection;
}

describe("conversation property on bare workerd (npm run selfhost)", () => {
	let server: RunningServer;
	let api: Api;

	beforeAll(async () => {
		server = await startSelfhost({
			vars: {
				WS_RATE_PER_SECOND: "1000",
				WS_RATE_BURST: "1000",
				REST_SEND_RATE_PER_SECOND: "1000",
				REST_SEND_RATE_BURST: "1000",
				INBOX_DEBOUNCE_MS: "100",
			},
		});
		api = new Api(server.base);
	}, 120_000);
	afterAll(async () => {
		await server?.stop();
	});

	const auth = (u: User) => ({ Authorization: `Bearer ${u.token}` });
	const wsBase = () => server.base.replace(/^http/, "ws");
	const until = async (done: () => boolean, timeoutMs: number, what: () => string) => {
		const deadline = Date.now() + timeoutMs;
		while (!done()) {
			if (Date.now() > deadline) throw new Error(`${what()} after ${timeoutMs} ms`);
			await new Promise((r) => setTimeout(r, 20));
		}
	};

	/** A world per history: a client, three users, two rooms all three are members of, three sockets per user. */
	async function world() {
		const t = await api.tenant(server.adminToken);
		const carol = (await api.call("POST", "/user", { clientKey: t.key }, { name: "carol" })).json.id as string;
		const carolJwt = (await api.call("POST", `/auth/${carol}`, { clientKey: t.key })).json.token as string;
		const users: User[] = [...t.users, { id: carol, token: carolJwt }];
		const rooms: RoomModel[] = [];
		for (let i = 0; i < ROOMS; i++) {
			const created = await api.call("POST", "/room", { clientKey: t.key }, { name: `p${i}`, members: users.map((u) => u.id) });
			expect(created.status).toBe(201);
			rooms.push(new RoomModel(created.json.id));
		}
		const violations: string[] = [];
		const devices = users.map((u, i) => {
			const make = (kind: Device["kind"]): Device => ({
				label: `user ${i} ${kind} socket`,
				kind,
				user: u,
				views: new Map(),
				figures: new Map(),
				ready: false,
				generation: 0,
			});
			return { user: make("user"), room: make("room"), inbox: make("inbox") };
		});
		/** The room socket's room: users 0 and 2 in room 0, user 1 in room 1. */
		const roomOfRoomSocket = (i: number) => rooms[i % ROOMS] as RoomModel;

		const handle = (d: Device, e: ServerEvent) => {
			if (LOGGED.has(e.event)) {
				const roomId = e.event === "message_updated" ? e.data?.message?.room_id : e.data?.room_id;
				const view = d.views.get(roomId);
				if (view) view.apply(e);
				else violations.push(`${d.label}: ${e.event} for room ${roomId}, which it did not join`);
			} else if (e.event === "ready") {
				d.ready = true;
				for (const r of e.data.rooms) d.figures.set(r.room_id, { last_read_seq: r.last_read_seq, unread: r.unread });
			} else if (e.event === "inbox_update") {
				if (d.kind === "inbox") d.figures.set(e.data.room_id, { ...d.figures.get(e.data.room_id), unread: e.data.unread });
			} else if (e.event === "read") {
				d.figures.set(e.data.room_id, { last_read_seq: e.data.last_read_seq, unread: e.data.unread });
			} else if (e.event === "error" || e.event === "ack") {
				violations.push(`${d.label}: ${JSON.stringify(e)} answers no request`);
			}
		};
		/** Opens (or reopens) a device and joins its rooms from what its views saw last. */
		const open = async (d: Device, index: number) => {
			const generation = ++d.generation;
			const url = d.kind === "room" ? `${wsBase()}/room/${roomOfRoomSocket(index).id}/ws` : `${wsBase()}/ws`;
			d.ready = false;
			if (d.kind === "inbox") d.figures.clear();
			d.conn = await connect(url, d.user.token, (e) => {
				if (generation === d.generation) handle(d, e);
			});
			const joins = d.kind === "user" ? rooms : d.kind === "room" ? [roomOfRoomSocket(index)] : [];
			for (const r of joins) {
				const view = d.views.get(r.id) ?? new RoomView(r.id, violations, `${d.label} in room ${r.id}`);
				d.views.set(r.id, view);
				const stored = r.last;
				const ack = await d.conn.request("join_room", { room_id: r.id, last_seq: view.lastSeq });
				expect(ack).toMatchObject({ event: "ack", data: { room_id: r.id } });
				expect(ack.data.last_seq).toBeGreaterThanOrEqual(stored);
				// Everything up to the ack's last_seq arrives before the ack (live events may follow it at once).
				expect(view.lastSeq, `${d.label}: caught up before the join ack`).toBeGreaterThanOrEqual(ack.data.last_seq);
			}
			if (d.kind !== "room")
				await until(
					() => d.ready,
					10_000,
					() => `${d.label}: no ready`,
				);
		};
		const all = () => devices.flatMap((ds) => [ds.user, ds.room, ds.inbox]);
		for (const [i, ds] of devices.entries()) for (const d of [ds.user, ds.room, ds.inbox]) await open(d, i);
		return { t, users, rooms, devices, violations, open, all, roomOfRoomSocket };
	}
	type World = Awaited<ReturnType<typeof world>>;

	/** The socket of user `u` that carries a change to `room`: the room socket only for its own room. */
	const deviceFor = (w: World, u: number, room: RoomModel, via: Via): Device => {
		const ds = w.devices[u] as World["devices"][number];
		if (via === "inbox") return ds.inbox;
		if (via === "room" && w.roomOfRoomSocket(u) === room) return ds.room;
		return ds.user;
	};
	const socketFor = (w: World, u: number, room: RoomModel, via: Via) => deviceFor(w, u, room, via).conn as Connection;

	/** Runs a step's ops at once; a change meant for a socket that this step reconnects goes over REST instead. */
	async function runStep(w: World, ops: Op[]): Promise<Outcome[]> {
		const reconnecting = new Set<Device>();
		const run: Op[] = [];
		for (const op of ops) {
			if (op.kind !== "reconnect") continue;
			const d = (w.devices[op.user] as World["devices"][number])[op.socket];
			if (!reconnecting.has(d)) run.push(op);
			reconnecting.add(d);
		}
		for (const op of ops) {
			if (op.kind === "reconnect") continue;
			const channel = op.via === "rest" || op.via === "backend" ? null : deviceFor(w, op.user, w.rooms[op.room] as RoomModel, op.via);
			run.push(channel && reconnecting.has(channel) ? { ...op, via: "rest" } : op);
		}
		return (await Promise.all(run.map((op) => perform(w, op)))).filter((o): o is Outcome => o !== null);
	}

	/** Runs one op; null when it has no target yet (an edit with no own message, say). */
	async function perform(w: World, op: Op): Promise<Outcome | null> {
		if (op.kind === "reconnect") {
			const d = (w.devices[op.user] as World["devices"][number])[op.socket];
			await d.conn?.close();
			await w.open(d, op.user);
			return null;
		}
		const u = w.users[op.user] as User;
		const room = w.rooms[op.room] as RoomModel;
		const messages = room.list();
		const own = messages.filter((m) => m.user_id === u.id);
		const choose = (from: ModelMessage[], n: number) => (from.length === 0 ? undefined : from[n % from.length]);
		const base = `/room/${room.id}/messages`;
		switch (op.kind) {
			case "send": {
				const replyTo = op.replyTo === null ? null : (choose(messages, op.replyTo)?.id ?? null);
				const body = { text_message: op.text, ...(replyTo ? { reply_to: replyTo } : {}) };
				const answer =
					op.via === "rest"
						? fromRest(await api.call("POST", `/room/${room.id}/message/send`, auth(u), body))
						: fromSocket(await socketFor(w, op.user, room, op.via).request("send_message", { room_id: room.id, ...body }));
				return { kind: "send", room, userId: u.id, text: op.text, replyTo, answer };
			}
			case "edit": {
				const m = choose(own, op.pick);
				if (!m) return null;
				const answer =
					op.via === "rest"
						? fromRest(await api.call("PATCH", `${base}/${m.id}`, auth(u), { text_message: op.text }))
						: fromSocket(
								await socketFor(w, op.user, room, op.via).request("edit_message", {
									room_id: room.id,
									message_id: m.id,
									text_message: op.text,
								}),
							);
				return { kind: "edit", room, userId: u.id, messageId: m.id, text: op.text, answer };
			}
			case "delete": {
				// The client's backend may delete anyone's message; a user only their own.
				const m = choose(op.via === "backend" ? messages : own, op.pick);
				if (!m) return null;
				const answer =
					op.via === "backend"
						? fromRest(await api.call("DELETE", `${base}/${m.id}`, { clientKey: w.t.key }))
						: op.via === "rest"
							? fromRest(await api.call("DELETE", `${base}/${m.id}`, auth(u)))
							: fromSocket(await socketFor(w, op.user, room, op.via).request("delete_message", { room_id: room.id, message_id: m.id }));
				return { kind: "delete", room, messageId: m.id, answer };
			}
			case "react": {
				const m = choose(messages, op.pick);
				if (!m) return null;
				const path = `${base}/${m.id}/reactions`;
				const answer =
					op.via === "rest"
						? fromRest(
								op.add
									? await api.call("POST", path, auth(u), { type: op.type })
									: await api.call("DELETE", `${path}/${encodeURIComponent(op.type)}`, auth(u)),
							)
						: fromSocket(
								await socketFor(w, op.user, room, op.via).request(op.add ? "add_reaction" : "remove_reaction", {
									room_id: room.id,
									message_id: m.id,
									type: op.type,
								}),
							);
				return { kind: "react", room, userId: u.id, messageId: m.id, type: op.type, add: op.add, answer };
			}
			case "read": {
				const seq =
					op.at === "last" ? room.last : op.at === "beyond" ? room.last + 3 : op.at === "zero" ? 0 : (choose(messages, op.at)?.seq ?? 0);
				let answer: Answer;
				if (op.via === "rest") answer = fromRest(await api.call("POST", `/room/${room.id}/read`, auth(u), { seq }));
				else {
					const d = (w.devices[op.user] as World["devices"][number])[op.via];
					answer = fromSocket(await (d.conn as Connection).request("mark_read", { room_id: room.id, seq }));
					// The socket that asked gets the ack, not a `read` event: its figure comes from the ack.
					if (answer.ok && d.kind === "inbox")
						d.figures.set(room.id, { last_read_seq: answer.data.last_read_seq, unread: answer.data.unread });
				}
				if (answer.ok) expect(answer.data.room_id).toBe(room.id);
				return { kind: "read", room, userId: u.id, seq, answer };
			}
		}
	}

	async function restHistory(w: World, room: RoomModel): Promise<Json[]> {
		const out: Json[] = [];
		const limit = 7;
		for (let after = 0; ; ) {
			const page = await api.call("GET", `/room/${room.id}/messages?after_seq=${after}&limit=${limit}`, auth(w.users[0] as User));
			expect(page.status).toBe(200);
			out.push(...page.json.messages);
			if (page.json.messages.length < limit) return out;
			after = page.json.messages.at(-1).seq;
		}
	}

	/** Every socket has seen each of its rooms up to the room's last seq; then all views, REST and the model agree. */
	async function check(w: World): Promise<void> {
		const lag = () =>
			w
				.all()
				.flatMap((d) =>
					[...d.views.values()]
						.filter((v) => v.lastSeq !== w.rooms.find((r) => r.id === v.roomId)?.last)
						.map((v) => `${d.label} at ${v.lastSeq}`),
				);
		await until(
			() => w.violations.length > 0 || lag().length === 0,
			15_000,
			() => `sockets behind: ${lag().join(", ")}`,
		);
		expect(w.violations).toEqual([]);

		for (const room of w.rooms) {
			const history = await restHistory(w, room);
			const rest = history.map(stateOf);
			expect(rest, `REST history of room ${room.id} vs the acknowledged changes`).toEqual(room.snapshot());
			for (const d of w.all()) {
				const view = d.views.get(room.id);
				if (view) expect(view.snapshot(), `${d.label}'s view of room ${room.id} vs REST`).toEqual(rest);
			}
			// Read positions over REST are the highest each user acknowledged.
			const reads = await api.call("GET", `/room/${room.id}/reads`, auth(w.users[0] as User));
			expect(Object.fromEntries(reads.json.reads.map((r: Json) => [r.user_id, r.last_read_seq]))).toEqual(
				Object.fromEntries(w.users.map((u) => [u.id, room.lastRead.get(u.id) ?? 0])),
			);
			// Unread recounted from the REST history itself (not from the model).
			for (const u of w.users) {
				const read = room.lastRead.get(u.id) ?? 0;
				expect(room.unread(u.id)).toBe(history.filter((m) => m.seq > read && m.user_id !== u.id && m.deleted_at === undefined).length);
			}
		}
		for (const u of w.users) {
			const expected = w.rooms.map((r) => ({
				room_id: r.id,
				last_seq: r.last,
				last_read_seq: r.lastRead.get(u.id) ?? 0,
				unread: r.unread(u.id),
			}));
			const byRoom = (a: { room_id: string }, b: { room_id: string }) => a.room_id.localeCompare(b.room_id);
			const unread = await api.call("GET", `/user/${u.id}/unread`, auth(u));
			expect(unread.status).toBe(200);
			expect({ ...unread.json, rooms: [...unread.json.rooms].sort(byRoom) }).toEqual({
				unread_total: expected.reduce((sum, r) => sum + r.unread, 0),
				rooms: expected.filter((r) => r.unread > 0).sort(byRoom),
			});
			const list = await api.call("GET", `/user/${u.id}/rooms`, auth(u));
			expect(
				list.json.rooms
					.map((r: Json) => ({ room_id: r.id, last_seq: r.last_seq, last_read_seq: r.last_read_seq, unread: r.unread }))
					.sort(byRoom),
			).toEqual([...expected].sort(byRoom));
		}
		// The inbox socket (joined to no room) ends on the same counts: its last inbox_update / read
		// per room (debounced by INBOX_DEBOUNCE_MS, the last state always sent).
		const figuresOff = () =>
			w.devices.flatMap((ds) =>
				w.rooms.flatMap((r) => {
					const figure = ds.inbox.figures.get(r.id) ?? { unread: 0 };
					const want = r.unread(ds.inbox.user.id);
					const read = r.lastRead.get(ds.inbox.user.id) ?? 0;
					return figure.unread === want && (figure.last_read_seq === undefined || figure.last_read_seq === read)
						? []
						: [`${ds.inbox.label} in room ${r.id}: ${JSON.stringify(figure)}, want unread ${want}, last_read_seq ${read}`];
				}),
			);
		await until(
			() => figuresOff().length === 0,
			10_000,
			() => `inbox figures: ${figuresOff().join("; ")}`,
		);
	}

	it("every socket's view equals REST history; unread equals a recount from the log", async () => {
		await fc.assert(
			fc.asyncProperty(histories, async (steps) => {
				const w = await world();
				try {
					for (const ops of steps) {
						applyStep(await runStep(w, ops), ops.length === 1);
					}
					await check(w);
				} finally {
					await Promise.all(w.all().map((d) => d.conn?.close()));
				}
			}),
			{ numRuns: 25 },
		);
	}, 300_000);
});
