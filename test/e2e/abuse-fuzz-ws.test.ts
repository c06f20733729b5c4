// Property-based fuzzing of the WebSocket protocol over real TCP against bare workerd, on room
// sockets (`/room/{id}/ws`) and user sockets (`/ws`) alike: random JSON, wrong types, huge and deep
// frames, `__proto__` keys, SQL/HTML text, binary frames, and the conversation frames (edits,
// deletes, reactions, typing, replies with metadata, mark_read, joins of random rooms) with valid
// and invalid data. Every frame gets exactly one answer, no socket is closed by bad input, valid
// sends are stored verbatim and the room's log stays gap-free. FUZZ_RUNS scales it for long runs.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Api } from "./api-client";
import { type RunningServer, startSelfhost } from "./harness";

const RUNS = Number(process.env.FUZZ_RUNS ?? 5000);
/** The frame budget is split between the two socket kinds: two of each, one per user. */
const KINDS = ["room", "room", "user", "user"] as const;
const SOCKETS = KINDS.length;
const BATCH = 8;
const TARGETS = 4;
const DELETABLE = 16;

let server: RunningServer;
let api: Api;
let tenant: Awaited<ReturnType<Api["tenant"]>>;
let roomId: string;
/** Another public room (user sockets may join it) and a private one nobody joined (forbidden). */
let otherRoomId: string;
let privateRoomId: string;
/** Messages the conversation frames edit and react to (never deleted), and ones they may delete. */
const targets: string[] = [];
const deletable: string[] = [];

beforeAll(async () => {
	// Rate limits out of the way: this measures robustness, the limits have their own tests.
	server = await startSelfhost({ vars: { WS_RATE_PER_SECOND: "1000000", WS_RATE_BURST: "1000000" } });
	api = new Api(server.base);
	tenant = await api.tenant(server.adminToken);
	roomId = (await api.call("POST", "/room", { clientKey: tenant.key }, { name: "fuzz" })).json.id;
	otherRoomId = (await api.call("POST", "/room", { clientKey: tenant.key }, { name: "fuzz other" })).json.id;
	privateRoomId = (await api.call("POST", "/room", { clientKey: tenant.key }, { name: "fuzz private", private: true })).json.id;
}, 180_000);

/** Puts the real ids in place of the placeholders the arbitraries use (they are known only once the server runs). */
const place = (body: string) =>
	body
		.replaceAll('"ROOM"', JSON.stringify(roomId))
		.replaceAll('"OTHER_ROOM"', JSON.stringify(otherRoomId))
		.replaceAll('"PRIVATE_ROOM"', JSON.stringify(privateRoomId))
		.replace(/"(TARGET|DELETABLE)(\d+)"/g, (_, pool: string, i: string) =>
			JSON.stringify((pool === "TARGET" ? targets : deletable)[Number(i)]),
		);
afterAll(() => server?.stop());

// biome-ignore lint/suspicious/noExplicitAny: the fuzzer reads arbitrary server JSON
type Event = { event: string; id?: unknown; data?: any };

/** A raw socket that counts answers (ack/error) and remembers how it closed. */
class Probe {
	answers: Event[] = [];
	broadcasts = 0;
	closed: { code: number; reason: string } | null = null;
	private waiters = new Set<() => void>();

	private constructor(readonly ws: WebSocket) {
		ws.on("message", (payload, isBinary) => {
			if (isBinary) throw new Error("the server sent a binary frame");
			for (const line of payload.toString().split("\n")) {
				if (line === '{"event":"pong"}') continue;
				const event = JSON.parse(line) as Event;
				// Only acks and errors answer a frame. Broadcasts (new_message, and the presence event a
				// later socket's join sends the earlier ones, which may land after the answers were counted)
				// are not answers.
				if (event.event === "ack" || event.event === "error") this.answers.push(event);
				else this.broadcasts++;
			}
			for (const wake of this.waiters) wake();
		});
		ws.on("close", (code, reason) => {
			this.closed = { code, reason: reason.toString() };
			for (const wake of this.waiters) wake();
		});
	}

	static open(token: string, kind: (typeof KINDS)[number] = "room"): Promise<Probe> {
		const path = kind === "room" ? `/room/${roomId}/ws` : "/ws";
		const ws = new WebSocket(`${server.base.replace(/^http/, "ws")}${path}`, ["roomkit.v1", token]);
		return new Promise((resolve, reject) => {
			ws.once("open", () => resolve(new Probe(ws)));
			ws.once("unexpected-response", (_req, res) => reject(new Error(`handshake ${res.statusCode}`)));
			ws.once("error", reject);
		});
	}

	/** Waits until `count` answers arrived in total. */
	until(count: number, timeoutMs = 30_000): Promise<void> {
		return new Promise((resolve, reject) => {
			const check = () => {
				if (this.answers.length >= count) return done(resolve);
				if (this.closed) return done(() => reject(new Error(`socket closed ${JSON.stringify(this.closed)}`)));
			};
			const done = (fn: () => void) => {
				clearTimeout(timer);
				this.waiters.delete(check);
				fn();
			};
			const timer = setTimeout(() => done(() => reject(new Error(`only ${this.answers.length} of ${count} answers`))), timeoutMs);
			this.waiters.add(check);
			check();
		});
	}
}

const nasty = fc.constantFrom(
	"' OR 1=1 --",
	"'); DROP TABLE messages; --",
	"<script>alert(1)</script>",
	"<img src=x onerror=alert(1)>",
	// biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe
	"${7*7}{{7*7}}%s%n",
	"\u0000\u0001\u001f",
	"\u202eevil",
	"👩‍👩‍👧‍👦",
	"\ufeffbom",
	"__proto__",
	'{"event":"ping"}',
	"\n",
	"\r\n\r\n",
);
const text = fc.oneof(nasty, fc.string({ unit: "grapheme", minLength: 1, maxLength: 60 }), fc.string({ minLength: 1, maxLength: 30 }));
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), text, fc.constant(null), fc.integer(), fc.double(), fc.boolean());
const event = fc.constantFrom(
	"join_room",
	"send_message",
	"leave_room",
	"edit_message",
	"delete_message",
	"add_reaction",
	"remove_reaction",
	"typing",
	"mark_read",
	"ready",
	"ping",
	"new_message",
	"ack",
	"__proto__",
	"constructor",
	"toString",
	"",
);

/** Mostly a valid value (so the conversation frames do real work), sometimes garbage. */
const mostly = <T>(valid: fc.Arbitrary<T>, ...other: fc.Arbitrary<unknown>[]) =>
	fc.oneof({ weight: 4 * other.length, arbitrary: valid as fc.Arbitrary<unknown> }, ...other);
const roomRef = mostly(fc.constant("ROOM"), fc.constantFrom("OTHER_ROOM", "PRIVATE_ROOM"), fc.uuid(), anyValue);
const targetRef = mostly(
	fc.nat({ max: TARGETS - 1 }).map((i) => `TARGET${i}`),
	fc.uuid(),
	anyValue,
);
const deletableRef = mostly(
	fc.nat({ max: DELETABLE - 1 }).map((i) => `DELETABLE${i}`),
	fc.uuid(),
	anyValue,
);
/** Any JSON object, around the 4 KiB cap, or not an object. */
const metadata = mostly(
	fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
	fc.integer({ min: 4070, max: 4110 }).map((bytes) => ({ pad: "m".repeat(bytes - '{"pad":""}'.length) })),
	anyValue,
);
/** Mostly two types, so removes often find the reaction an add stored; and the edges of the cap. */
const reactionType = mostly(
	fc.constantFrom("👍", "🎉"),
	fc.constantFrom("❤️", "x".repeat(32), "x".repeat(33), "", "__proto__"),
	fc.string({ maxLength: 40 }),
	anyValue,
);
/** A request id as clients send them, or garbage; typing frames always have one (a valid typing frame without an id gets no answer). */
const requestId = mostly(fc.oneof(fc.string({ maxLength: 12 }), fc.integer()), anyValue);
const conversationFrame = fc.oneof(
	fc.record(
		{
			event: fc.constant("edit_message"),
			data: fc.record(
				{ room_id: roomRef, message_id: targetRef, text_message: mostly(text, anyValue), metadata },
				{ requiredKeys: ["room_id", "message_id", "text_message"] },
			),
			id: requestId,
		},
		{ requiredKeys: ["event", "data"] },
	),
	fc.record(
		{ event: fc.constant("delete_message"), data: fc.record({ room_id: roomRef, message_id: deletableRef }), id: requestId },
		{ requiredKeys: ["event", "data"] },
	),
	fc.record(
		{
			event: fc.constantFrom("add_reaction", "remove_reaction"),
			data: fc.record({ room_id: roomRef, message_id: targetRef, type: reactionType }),
			id: requestId,
		},
		{ requiredKeys: ["event", "data"] },
	),
	fc.record({ event: fc.constant("typing"), data: fc.record({ room_id: roomRef }), id: requestId }),
	fc.record(
		{
			event: fc.constant("send_message"),
			data: fc.record(
				{ room_id: roomRef, text_message: text, reply_to: fc.oneof(targetRef, deletableRef), metadata },
				{ requiredKeys: ["room_id", "text_message"] },
			),
			id: requestId,
		},
		{ requiredKeys: ["event", "data"] },
	),
	fc.record(
		{
			event: fc.constant("mark_read"),
			data: fc.record({ room_id: roomRef, seq: mostly(fc.nat({ max: 2_000 }), fc.nat(), anyValue) }),
			id: requestId,
		},
		{ requiredKeys: ["event", "data"] },
	),
	// Joins and leaves of random rooms: the user socket's own rooms, others, and ones that do not exist.
	fc.record(
		{
			event: fc.constantFrom("join_room", "leave_room"),
			data: fc.record({ room_id: roomRef, last_seq: mostly(fc.nat({ max: 2_000 }), fc.nat(), anyValue) }, { requiredKeys: ["room_id"] }),
			id: requestId,
		},
		{ requiredKeys: ["event", "data"] },
	),
);
/** A valid typing frame without an id gets no answer: give the random ones an id so each frame has exactly one. */
const answerable = (v: { event?: unknown; id?: unknown }) => (v.event === "typing" && !("id" in v) ? { ...v, id: "typing" } : v);

type Frame =
	| { kind: "text"; body: string; valid?: { text: string; id: string } }
	| { kind: "binary"; body: Uint8Array }
	/** A text frame whose bytes are not UTF-8. */
	| { kind: "bytes"; body: Uint8Array };
let validCount = 0;

/** A mix of garbage and frames that are valid, so the room keeps doing real work throughout. */
const frame: fc.Arbitrary<Frame> = fc.oneof(
	fc.jsonValue({ maxDepth: 4 }).map((v): Frame => ({ kind: "text", body: JSON.stringify(v) })),
	fc
		.record({ event, data: anyValue, id: anyValue }, { requiredKeys: [] })
		.map((v): Frame => ({ kind: "text", body: JSON.stringify(answerable(v)) })),
	fc
		.record(
			{
				event,
				data: fc.record(
					{
						room_id: roomRef,
						text_message: fc.oneof(text, anyValue),
						client_msg_id: anyValue,
						last_seq: anyValue,
					},
					{ requiredKeys: [] },
				),
				id: anyValue,
			},
			{ requiredKeys: [] },
		)
		.map((v): Frame => ({ kind: "text", body: place(JSON.stringify(answerable(v))) })),
	fc.nat({ max: 100_000 }).map(
		(n): Frame => ({
			kind: "text",
			body: JSON.stringify({ event: "send_message", data: { room_id: roomId, text_message: "x".repeat(n) } }),
		}),
	),
	fc.nat({ max: 30_000 }).map((n): Frame => ({ kind: "text", body: `${"[".repeat(n)}${"]".repeat(n)}` })),
	fc
		.nat({ max: 10_000 })
		.map((n): Frame => ({ kind: "text", body: `{"event":"send_message","data":${'{"a":'.repeat(n)}1${"}".repeat(n)}}` })),
	fc
		.constantFrom(
			`{"__proto__":{"event":"send_message"},"data":{"room_id":"ROOM","text_message":"p"}}`,
			`{"event":"send_message","data":{"__proto__":{"room_id":"ROOM"},"text_message":"p"}}`,
			`{"event":"join_room","data":{"room_id":"ROOM","last_seq":{"__proto__":1}}}`,
			`{"event":"send_message","data":{"room_id":"ROOM","text_message":"p","client_msg_id":{"__proto__":"x"}},"id":{"__proto__":1}}`,
			`{"constructor":{"prototype":{"event":"send_message"}}}`,
		)
		.map((s): Frame => ({ kind: "text", body: s.replaceAll("ROOM", roomId) })),
	fc.string({ maxLength: 40 }).map((s): Frame => ({ kind: "text", body: s })),
	fc.uint8Array({ maxLength: 2048 }).map((b): Frame => ({ kind: "binary", body: b })),
	fc
		.tuple(
			fc.uint8Array({ maxLength: 64 }),
			fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]),
		)
		.map(
			([b, bad]): Frame => ({
				kind: "bytes",
				body: Uint8Array.from([...Buffer.from('{"event":"send_message","data":{"text_message":"'), ...b, ...bad, 0x22, 0x7d, 0x7d]),
			}),
		),
	{ weight: 3, arbitrary: conversationFrame.map((v): Frame => ({ kind: "text", body: place(JSON.stringify(v)) })) },
	{
		weight: 3,
		arbitrary: text.map((t): Frame => {
			const id = `valid-${validCount++}`;
			return {
				kind: "text",
				body: JSON.stringify({ event: "send_message", id, data: { room_id: roomId, text_message: t, client_msg_id: id } }),
				valid: { text: t, id },
			};
		}),
	},
);

describe("WebSocket fuzzing over TCP (bare workerd)", () => {
	it(`answers ${RUNS} random frames, one answer each, with no socket closed and the room intact`, async () => {
		const probes = await Promise.all(KINDS.map((kind, i) => Probe.open(tenant.users[i % 2]!.token, kind)));
		// Joined sockets also receive every broadcast, so fan-out runs under the fuzz too.
		for (const [i, p] of probes.entries()) {
			p.ws.send(JSON.stringify({ event: "join_room", id: `j${i}`, data: { room_id: roomId } }));
			await p.until(1);
		}
		const marker = await api.call(
			"POST",
			`/room/${roomId}/message/send`,
			{ Authorization: `Bearer ${tenant.users[0]!.token}` },
			{ text_message: "before" },
		);
		// Messages of both users for the conversation frames: an edit or delete by the other user is refused.
		for (let i = 0; i < TARGETS + DELETABLE; i++) {
			const as = { Authorization: `Bearer ${tenant.users[i % 2]!.token}` };
			const sent = await api.call("POST", `/room/${roomId}/message/send`, as, { text_message: `target ${i}` });
			(i < TARGETS ? targets : deletable).push(sent.json.id);
		}
		const sentTexts = new Map<string, string>();
		let frames = 0;
		let binary = 0;
		let invalidUtf8 = 0;
		let huge = 0;
		const expected = probes.map((p) => p.answers.length);
		await fc.assert(
			fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: SOCKETS - 1 }), frame), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
				for (const [i, f] of batch) {
					const probe = probes[i] as Probe;
					if (f.kind === "binary") {
						probe.ws.send(f.body, { binary: true });
						binary++;
					} else if (f.kind === "bytes") {
						probe.ws.send(f.body, { binary: false });
						invalidUtf8++;
					} else {
						probe.ws.send(f.body);
						if (f.body.length > 64 * 1024) huge++;
						if (f.valid) sentTexts.set(f.valid.id, f.valid.text);
					}
					// The exact heartbeat text is answered by the runtime with a pong, not an ack.
					if (!(f.kind === "text" && f.body === '{"event":"ping"}')) expected[i]!++;
					frames++;
				}
				await Promise.all(probes.map((p, i) => p.until(expected[i]!)));
			}),
			{ numRuns: Math.ceil(RUNS / BATCH), endOnFailure: true },
		);

		const answers = probes.flatMap((p) => p.answers);
		const errorCodes = new Map<string, number>();
		for (const a of answers) if (a.event === "error") errorCodes.set(a.data.code, (errorCodes.get(a.data.code) ?? 0) + 1);
		const acked = answers.filter((a) => a.event === "ack" && typeof a.id === "string" && a.id.startsWith("valid-"));
		const closed = probes.filter((p) => p.closed !== null).length;
		console.log(
			`WS fuzz: ${frames} frames (${binary} binary, ${invalidUtf8} text frames of invalid UTF-8, ${huge} over 64 KiB) on ${SOCKETS} sockets (${KINDS.join(", ")}); answers ${answers.length}; ` +
				`internal_error ${errorCodes.get("internal_error") ?? 0}; sockets closed ${closed}; error codes ${JSON.stringify(Object.fromEntries(errorCodes))}; valid sends acked ${acked.length}`,
		);
		expect(frames).toBeGreaterThanOrEqual(RUNS);
		expect(closed).toBe(0);
		expect(errorCodes.get("internal_error") ?? 0).toBe(0);
		for (const [i, p] of probes.entries()) expect(p.answers.length).toBe(expected[i]);

		// Every socket still answers a valid send afterwards.
		for (const [i, p] of probes.entries()) {
			p.ws.send(JSON.stringify({ event: "send_message", id: `after-${i}`, data: { room_id: roomId, text_message: `after ${i}` } }));
			await p.until(expected[i]! + 1);
			expect(p.answers.at(-1)).toMatchObject({ event: "ack", id: `after-${i}`, data: { text_message: `after ${i}` } });
		}

		// The log (messages, edits, deletes, reactions) continued from the marker without a gap.
		const logged: Array<{ seq: number; type: string }> = [];
		for (let after = marker.json.seq - 1; ; ) {
			const page = await api.call("GET", `/room/${roomId}/events?after_seq=${after}&limit=200`, { clientKey: tenant.key });
			if (page.json.events.length === 0) break;
			logged.push(...page.json.events.map((e: { type: string; data: { seq: number } }) => ({ seq: e.data.seq, type: e.type })));
			after = page.json.last_seq;
		}
		expect(logged.map((e) => e.seq)).toEqual(logged.map((_, i) => marker.json.seq + i));
		const kinds = new Map<string, number>();
		for (const e of logged) kinds.set(e.type, (kinds.get(e.type) ?? 0) + 1);
		// The conversation frames did real work: every kind of change was stored.
		if (RUNS >= 2000) {
			for (const type of ["message.new", "message.updated", "message.deleted", "reaction.added", "reaction.removed"]) {
				expect(kinds.get(type) ?? 0, type).toBeGreaterThan(0);
			}
		}

		// Each message is the message.new event of its seq, and valid texts are stored verbatim.
		const stored: Array<{ seq: number; text_message: string; client_msg_id?: string }> = [];
		for (let after = marker.json.seq - 1; ; ) {
			const page = await api.call("GET", `/room/${roomId}/messages?after_seq=${after}&limit=200`, { clientKey: tenant.key });
			if (page.json.messages.length === 0) break;
			stored.push(...page.json.messages);
			after = page.json.messages.at(-1).seq;
		}
		expect(stored[0]).toMatchObject({ seq: marker.json.seq, text_message: "before" });
		expect(stored.map((m) => m.seq)).toEqual(logged.filter((e) => e.type === "message.new").map((e) => e.seq));
		let verbatim = 0;
		for (const m of stored) {
			if (m.client_msg_id?.startsWith("valid-")) {
				expect(m.text_message).toBe(sentTexts.get(m.client_msg_id));
				verbatim++;
			}
		}
		expect(verbatim).toBe(acked.length);
		console.log(
			`WS fuzz: ${logged.length} events stored gap-free from seq ${marker.json.seq} (${JSON.stringify(Object.fromEntries(kinds))}); ${stored.length} messages; ${verbatim} fuzzed texts read back verbatim`,
		);
		if (process.env.CHAOS_RUN) {
			const { record } = await import("../chaos/support");
			record(`WebSocket fuzzing over TCP (bare workerd, ${frames} frames)`, {
				frames,
				binary_frames: binary,
				invalid_utf8_text_frames: invalidUtf8,
				frames_over_64_KiB: huge,
				answers: answers.length,
				internal_errors: errorCodes.get("internal_error") ?? 0,
				sockets_closed_by_bad_input: closed,
				error_codes: Object.fromEntries(errorCodes),
				valid_sends_acked: acked.length,
				stored_gap_free: logged.length,
				stored_by_kind: Object.fromEntries(kinds),
				fuzzed_texts_read_back_verbatim: verbatim,
			});
		}
		for (const p of probes) p.ws.close(1000);
	}, 900_000);

	it.each(["room", "user"] as const)(
		"keeps the %s socket open after a 2 MiB frame (frame_too_large) and serves the room on",
		async (kind) => {
			const probe = await Probe.open(tenant.users[0]!.token, kind);
			probe.ws.send("x".repeat(2 * 1024 * 1024));
			await probe.until(1);
			expect(probe.answers[0]).toEqual({ event: "error", data: { code: "frame_too_large", message: "Frames are limited to 65536 bytes" } });
			probe.ws.send(JSON.stringify({ event: "send_message", id: "still", data: { room_id: roomId, text_message: "still here" } }));
			await probe.until(2);
			expect(probe.answers[1]).toMatchObject({ event: "ack", id: "still", data: { text_message: "still here" } });
			expect(probe.closed).toBe(null);
			probe.ws.close(1000);
		},
		60_000,
	);
});
