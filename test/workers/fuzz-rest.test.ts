/// <reference types="vite/client" />
// Property-based fuzzing of the REST surface through the Worker's real fetch handler:
// random methods, paths, query strings, headers and bodies. VITE_FUZZ_RUNS scales it for long runs.
import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, call, room, type Tenant, tenant } from "./helpers";

// Vite hands VITE_-prefixed variables to code running inside workerd, replacing exactly
// `import.meta.env.VITE_...` as written (a cast in between would hide it).
const RUNS = Number(import.meta.env.VITE_FUZZ_RUNS ?? 5000);
const PARALLEL = 8;
// `exports` is typed per project by `wrangler types`; this needs only the Worker's fetch.
const worker = (exports as unknown as { default: Fetcher }).default;

let t: Tenant;
let other: Tenant;
let publicRoom: { id: string };
let privateRoom: { id: string };

beforeAll(async () => {
	t = await tenant(2, "fuzz");
	other = await tenant(1, "fuzz-other");
	publicRoom = await room(t, { name: "fuzz" });
	privateRoom = await room(t, { private: true, members: [t.users[0]!.id] });
});

/** Strings a tester would try: SQL, HTML, format strings, control characters, odd Unicode. */
const nasty = fc.constantFrom(
	"' OR 1=1 --",
	"'; DROP TABLE messages; --",
	'" OR ""="',
	"1; SELECT * FROM clients",
	"<script>alert(1)</script>",
	"<img src=x onerror=alert(1)>",
	"{{7*7}}",
	// biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe
	"${7*7}",
	"%s%s%s%n",
	"../../../../etc/passwd",
	"\u0000",
	"\u202e\u0041\u0042",
	"👩‍👩‍👧‍👦🏳️‍🌈",
	"\ufeff",
	"null",
	"undefined",
	"NaN",
	"-1",
	"9007199254740993",
	"1e309",
	"__proto__",
	"constructor",
	"prototype",
	"true",
	"",
	" ",
);
const oddString = fc.oneof(nasty, fc.string({ unit: "binary", maxLength: 40 }), fc.string({ maxLength: 40 }));
const hugeString = fc.nat({ max: 80_000 }).map((n) => "x".repeat(n));
const deep = fc.nat({ max: 40_000 }).map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`);
const deepObject = fc.nat({ max: 20_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`);
const protoKeys = fc.constantFrom(
	'{"__proto__":{"admin":true},"text_message":"hi"}',
	'{"constructor":{"prototype":{"polluted":1}},"name":"x"}',
	'{"name":"x","metadata":{"__proto__":{"polluted":true}}}',
	'{"members":{"__proto__":[]}}',
	'{"text_message":"a","client_msg_id":{"__proto__":"x"}}',
);

/** Bodies: random JSON, the right keys with wrong types, huge, deep, prototype keys, bytes that are not UTF-8. */
const body: fc.Arbitrary<string | Uint8Array | undefined> = fc.oneof(
	fc.constant(undefined),
	fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
	fc
		.record(
			{
				text_message: fc.oneof(oddString, fc.jsonValue({ maxDepth: 2 }), hugeString),
				client_msg_id: fc.oneof(oddString, fc.integer(), fc.constant(null)),
				name: fc.oneof(oddString, fc.integer(), hugeString),
				private: fc.oneof(fc.boolean(), oddString),
				members: fc.oneof(fc.array(fc.oneof(fc.uuid(), oddString), { maxLength: 5 }), oddString),
				metadata: fc.oneof(fc.jsonValue({ maxDepth: 3 }), oddString),
				user_id: fc.oneof(fc.uuid(), oddString),
			},
			{ requiredKeys: [] },
		)
		.map((v) => JSON.stringify(v)),
	hugeString.map((s) => JSON.stringify({ text_message: s })),
	deep,
	deepObject,
	protoKeys,
	oddString,
	fc.uint8Array({ maxLength: 64 }).map((bytes) => Uint8Array.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, ...bytes, 0xff, 0xfe, 0x22, 0x7d])),
);

const uuidish = fc.oneof(fc.uuid(), oddString, fc.constant("00000000-0000-0000-0000-000000000000"));
const segment = fc.oneof(
	fc.constantFrom(
		"room",
		"user",
		"admin",
		"clients",
		"auth",
		"message",
		"messages",
		"send",
		"members",
		"join",
		"ws",
		"rotate-token",
		"..",
		".",
		"%2e%2e",
		"%zz",
		"%00",
		"docs",
		"health",
	),
	uuidish.map((s) => encodeURIComponent(s)),
	fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s)),
);
/** Real routes with fuzzed parameters, and paths made of random segments. */
const path = fc.oneof(
	{
		weight: 6,
		arbitrary: fc.tuple(
			fc.constantFrom("public", "public", "private", "random"),
			fc.oneof(uuidish, { weight: 2, arbitrary: fc.constantFrom("u0", "u1") }),
			fc.nat({ max: 10 }),
		),
	},
	fc.constantFrom("/room", "/user", "/admin/clients", "/health", "/openapi.json", "/asyncapi.json", "/docs", "/"),
	fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => `/${parts.join("/")}`),
);
/** Resolves a generated path; on a real route the fuzzer mostly uses that route's own method, so requests reach validation. */
const routeOf = (p: string | [string, string, number], method: string, keepMethod: boolean): [string, string] => {
	if (typeof p === "string") return [method, p];
	const [which, picked, pick] = p;
	const id = picked === "u0" ? t.users[0]!.id : picked === "u1" ? t.users[1]!.id : picked;
	const roomId = which === "public" ? publicRoom.id : which === "private" ? privateRoom.id : encodeURIComponent(id);
	const other = encodeURIComponent(id);
	const routes: Array<[string, string]> = [
		["GET", `/room/${roomId}`],
		["POST", `/room/${roomId}/join`],
		["GET", `/room/${roomId}/members`],
		["POST", `/room/${roomId}/members`],
		["DELETE", `/room/${roomId}/members/${other}`],
		["POST", `/room/${roomId}/message/send`],
		["GET", `/room/${roomId}/messages`],
		["GET", `/room/${roomId}/ws`],
		["GET", `/user/${other}`],
		["GET", `/user/${other}/rooms`],
		["POST", `/auth/${other}`],
		["POST", `/admin/clients/${other}/rotate-token`],
	];
	const [own, url] = routes[pick % routes.length] as [string, string];
	return [keepMethod ? method : own, url];
};
const queryValue = fc.oneof(
	fc.integer().map(String),
	fc.double().map(String),
	oddString,
	fc.constantFrom("0", "-1", "200", "201", "1e3", "0x10", "9999999999999999999", ""),
);
const query = fc
	.array(fc.tuple(fc.constantFrom("limit", "cursor", "after_seq", "before_seq", "token", "__proto__", "x"), queryValue), { maxLength: 4 })
	.map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}` : ""));

/** Header values must be Latin-1 without CR, LF or NUL, or fetch refuses them before they leave. */
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e\x80-\xff\t]/g, "?");
const headers = fc
	.record(
		{
			clientKey: fc.oneof(
				oddString,
				{ weight: 4, arbitrary: fc.constantFrom("valid", "valid.user", "valid.user", "valid.garbage", "other", "other.user") },
				fc.string({ maxLength: 50 }).map((s) => `rk_${s}`),
			),
			Authorization: fc.oneof(
				oddString,
				fc.constantFrom("jwt", "other-jwt", "Bearer", "Bearer ", "Basic Zm9vOmJhcg=="),
				fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map(([x, y, z]) => `Bearer ${x}.${y}.${z}`),
			),
			"Content-Type": fc.constantFrom(
				"application/json",
				"text/plain",
				"application/x-www-form-urlencoded",
				"multipart/form-data",
				"application/json; charset=latin1",
				"",
			),
			Upgrade: fc.constantFrom("websocket", "h2c", ""),
			"X-Roomkit-Identity": fc.constant('{"userId":"x","clientId":"y","roomId":"z","exp":0,"joined":true}'),
			Origin: oddString,
		},
		{ requiredKeys: [] },
	)
	.map((h) => {
		const out: Record<string, string> = {};
		for (const [k, v] of Object.entries(h)) {
			let value = v as string;
			if (k === "clientKey") {
				const real = new Map([
					["valid", t.key],
					["valid.user", `${t.key}.${t.users[0]!.id}`],
					["valid.garbage", `${t.key}.garbage`],
					["other", other.key],
					["other.user", `${other.key}.${t.users[0]!.id}`],
				]);
				value = real.get(value) ?? value;
			}
			if (k === "Authorization") {
				const real = new Map([
					["jwt", `Bearer ${t.users[1]!.token}`],
					["other-jwt", `Bearer ${other.users[0]!.token}`],
				]);
				value = real.get(value) ?? value;
			}
			out[k] = headerSafe(value);
		}
		return out;
	});

const request = fc.record({
	method: fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"),
	keepMethod: fc.nat({ max: 4 }).map((n) => n === 0),
	path,
	query,
	headers,
	body,
});
type FuzzRequest = typeof request extends fc.Arbitrary<infer R> ? R : never;

const statuses = new Map<number, number>();
let total = 0;

async function send(r: FuzzRequest): Promise<void> {
	const [method, url] = routeOf(r.path, r.method, r.keepMethod);
	const withBody = r.body !== undefined && method !== "GET" && method !== "HEAD";
	const res = await worker.fetch(`${BASE}${url}${r.query}`, {
		method,
		headers: r.headers,
		body: withBody ? r.body : undefined,
	});
	const text = await res.text();
	total++;
	statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
	const where = `${method} ${url}${r.query} -> ${res.status} ${text.slice(0, 300)}`;
	if (res.status >= 500) throw new Error(`5xx: ${where}`);
	if (res.status >= 400 && method !== "HEAD") {
		let parsed: unknown;
		try {
			parsed = JSON.parse(text);
		} catch {
			throw new Error(`error body is not JSON: ${where}`);
		}
		const error = (parsed as { error?: Record<string, unknown> }).error;
		const shapeOk =
			typeof parsed === "object" &&
			parsed !== null &&
			Object.keys(parsed).join() === "error" &&
			typeof error?.code === "string" &&
			typeof error?.message === "string" &&
			Object.keys(error).every((k) => k === "code" || k === "message" || k === "fields");
		if (!shapeOk) throw new Error(`error body is not {"error":{"code","message"}}: ${where}`);
	}
	if (res.webSocket) {
		res.webSocket.accept();
		res.webSocket.close(1000, "fuzz");
	}
}

describe("REST fuzzing", () => {
	it(`answers ${RUNS} random requests with no 5xx and the one error shape`, async () => {
		const before = await call("GET", `/room/${publicRoom.id}/messages?limit=1`, t.backend);
		const seqBefore: number = before.json.messages[0]?.seq ?? 0;
		// Batches run in parallel; fast-check still shrinks a failing batch.
		await fc.assert(
			fc.asyncProperty(fc.array(request, { minLength: PARALLEL, maxLength: PARALLEL }), async (batch) => {
				await Promise.all(batch.map(send));
			}),
			{ numRuns: Math.ceil(RUNS / PARALLEL), endOnFailure: true },
		);
		console.log(
			`REST fuzz: ${total} requests, status counts ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}`,
		);
		expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
		expect(total).toBeGreaterThanOrEqual(RUNS);

		// The room object was never reset: its log continues where it was, gap-free.
		const after = await call("GET", `/room/${publicRoom.id}/messages?after_seq=0&limit=200`, t.backend);
		const seqs: number[] = after.json.messages.map((m: { seq: number }) => m.seq);
		expect(seqs).toEqual(seqs.map((_, i) => i + 1));
		const next = await call("POST", `/room/${publicRoom.id}/message/send`, t.users[0]!.auth, { text_message: "after the fuzz" });
		expect(next.status).toBe(201);
		expect(next.json.seq).toBeGreaterThan(seqBefore);
	}, 600_000);

	it("stores odd but valid message texts verbatim and reads them back equal", async () => {
		const runs = Math.max(500, Math.floor(RUNS / 5));
		// Several rooms keep the per-user send rate limit out of the way.
		const rooms = await Promise.all(Array.from({ length: Math.ceil(runs / 30) }, () => room(t, {})));
		const sent: Array<{ roomId: string; text: string; clientMsgId: string; seq: number }> = [];
		const text = fc.oneof(
			nasty.filter((s) => s.length > 0),
			fc.string({ unit: "grapheme", minLength: 1, maxLength: 200 }),
			fc.string({ unit: "binary", minLength: 1, maxLength: 200 }),
			fc.nat({ max: 4000 }).map((n) => "é".repeat(Math.max(1, n))),
			fc.constantFrom("\u{10FFFF}\u{1F600}\u0007\u001b[31m", "lone \ud800 high", "lone \udfff low", "\udc00\ud800"),
		);
		let i = 0;
		let refused = 0;
		await fc.assert(
			fc.asyncProperty(text, oddString, async (message, id) => {
				const roomId = rooms[i++ % rooms.length]!.id;
				const clientMsgId = `${i}:${id}`.slice(0, 128);
				const res = await call("POST", `/room/${roomId}/message/send`, t.users[0]!.auth, {
					text_message: message,
					client_msg_id: clientMsgId,
				});
				if (/\p{Cs}/u.test(message) || /\p{Cs}/u.test(clientMsgId)) {
					// SQLite cannot store a lone surrogate verbatim, so it is refused rather than silently altered.
					if (res.status !== 400 || res.json.error.fields[0].message !== "must be well-formed Unicode (no lone surrogates)") {
						throw new Error(`lone surrogate not refused: ${res.status} ${JSON.stringify(res.json)}`);
					}
					refused++;
					return;
				}
				if (res.status !== 201) throw new Error(`send ${JSON.stringify(message)} -> ${res.status} ${JSON.stringify(res.json)}`);
				if (res.json.text_message !== message || res.json.client_msg_id !== clientMsgId)
					throw new Error(`echo differs for ${JSON.stringify(message)}`);
				sent.push({ roomId, text: message, clientMsgId, seq: res.json.seq });
			}),
			{ numRuns: runs, endOnFailure: true },
		);
		let compared = 0;
		for (const r of rooms) {
			const stored = await call("GET", `/room/${r.id}/messages?after_seq=0&limit=200`, t.backend);
			const expected = sent.filter((s) => s.roomId === r.id);
			expect(
				stored.json.messages.map((m: { seq: number; text_message: string; client_msg_id: string }) => [
					m.seq,
					m.text_message,
					m.client_msg_id,
				]),
			).toEqual(expected.map((s) => [s.seq, s.text, s.clientMsgId]));
			compared += expected.length;
		}
		console.log(
			`verbatim: ${compared} odd texts stored and read back equal across ${rooms.length} rooms; ${refused} with lone surrogates refused with 400`,
		);
		expect(compared + refused).toBe(runs);
		expect(refused).toBeGreaterThan(0);
	}, 600_000);
});
