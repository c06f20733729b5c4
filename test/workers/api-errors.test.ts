// Bad input is the caller's error (4xx, JSON), never a 500: malformed ids, bodies, content types and queries.
import { beforeAll, describe, expect, it } from "vitest";
import { admin, BASE, call, readReply, room, type Tenant, tenant, worker } from "./helpers";

const me = (t: Tenant, i = 0) => t.users[i] as Tenant["users"][number];
const invalid = (fields: Array<{ path: string; message: string }>) => ({
	error: { code: "validation_failed", message: "Invalid request", fields },
});
const notObject = (received: string) => invalid([{ path: "", message: `Invalid input: expected object, received ${received}` }]);

let t: Tenant;
let roomId: string;
beforeAll(async () => {
	t = await tenant(1);
	roomId = (await room(t, { members: [me(t).id] })).id;
});

/** Every route that takes a body, with credentials that may call it. */
const bodyRoutes = (): Array<[string, string, Record<string, string>]> => [
	["POST", "/admin/clients", admin],
	["POST", "/user", t.backend],
	["POST", "/room", t.backend],
	["POST", `/room/${roomId}/members`, t.backend],
	["POST", `/room/${roomId}/message/send`, me(t).auth],
];

describe("path ids that are not UUIDs", () => {
	it.each([
		["POST", "/admin/clients/{x}/rotate-token", "client_id"],
		["POST", "/auth/{x}", "user_id"],
		["GET", "/user/{x}", "user_id"],
		["GET", "/user/{x}/rooms", "user_id"],
		["GET", "/room/{x}", "room_id"],
		["POST", "/room/{x}/join", "room_id"],
		["GET", "/room/{x}/members", "room_id"],
		["POST", "/room/{x}/members", "room_id"],
		["GET", "/room/{x}/messages", "room_id"],
		["POST", "/room/{x}/message/send", "room_id"],
		["GET", "/room/{x}/ws", "room_id"],
	])("%s %s answers 400 naming %s", async (method, template, field) => {
		const headers = template.startsWith("/admin")
			? admin
			: template.includes("/join") || template.includes("/message/send") || template.endsWith("/ws")
				? me(t).auth
				: t.backend;
		const body =
			method === "POST" && template.endsWith("/members")
				? { user_id: me(t).id }
				: method === "POST" && template.endsWith("/send")
					? { text_message: "x" }
					: undefined;
		for (const bad of ["abc", "1", "00000000-0000-0000-0000-00000000000g", "%27%20OR%201%3D1--", "%00", "x".repeat(300)]) {
			const res = await call(
				method,
				template.replace("{x}", bad),
				template.endsWith("/ws") ? { ...headers, Upgrade: "websocket" } : headers,
				body,
			);
			expect([bad, res.status, res.json]).toEqual([bad, 400, invalid([{ path: field, message: "Invalid UUID" }])]);
		}
	});

	it("DELETE /room/{room_id}/members/{user_id} names each bad id", async () => {
		const res = await call("DELETE", "/room/abc/members/def", t.backend);
		expect(res.status).toBe(400);
		expect(res.json).toEqual(
			invalid([
				{ path: "room_id", message: "Invalid UUID" },
				{ path: "user_id", message: "Invalid UUID" },
			]),
		);
	});
});

describe("bodies that are not JSON objects", () => {
	it.each([
		["an array", "[]", "array"],
		["an array of objects", '[{"name":"x","text_message":"x","user_id":"x"}]', "array"],
		["null", "null", "null"],
		["a number", "42", "number"],
		["a string", '"hello"', "string"],
		["true", "true", "boolean"],
	])("answers 400 to %s on every body route", async (_label, raw, received) => {
		for (const [method, path, headers] of bodyRoutes()) {
			const res = await call(method, path, headers, raw);
			expect([path, res.status, res.json]).toEqual([path, 400, notObject(received)]);
		}
	});

	it("answers 400 invalid_json to malformed JSON on every body route", async () => {
		for (const raw of ["{", "{'single': 'quotes'}", '{"a":1,}', "\u0000", '{"a": 1} trailing']) {
			for (const [method, path, headers] of bodyRoutes()) {
				const res = await call(method, path, headers, raw);
				expect([path, raw, res.status, res.json]).toEqual([
					path,
					raw,
					400,
					{ error: { code: "invalid_json", message: "Malformed JSON in request body" } },
				]);
			}
		}
	});

	it("answers 415 to a body sent as another content type, and stores nothing", async () => {
		for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"]) {
			for (const [method, path, headers] of bodyRoutes()) {
				const res = await call(
					method,
					path,
					{ ...headers, "content-type": contentType },
					JSON.stringify({ name: "x", text_message: "x", user_id: me(t).id }),
				);
				expect([path, contentType, res.status, res.json]).toEqual([
					path,
					contentType,
					415,
					{ error: { code: "validation_failed", message: "Unsupported Media Type" } },
				]);
			}
		}
		// A body without any Content-Type is text to fetch(), so it is refused the same way.
		const raw = await readReply(
			await worker.fetch(`${BASE}/room/${roomId}/message/send`, { method: "POST", headers: me(t).auth, body: '{"text_message":"x"}' }),
		);
		expect(raw.status).toBe(415);
		expect((await call("GET", `/room/${roomId}/messages`, t.backend)).json.messages).toEqual([]);
	});

	it("accepts application/json with a charset", async () => {
		const res = await call("POST", "/user", { ...t.backend, "content-type": "application/json; charset=utf-8" }, { name: "charset" });
		expect(res.status).toBe(201);
	});

	it("takes deeply nested metadata without falling over", async () => {
		let nested: Record<string, unknown> = { leaf: true };
		for (let i = 0; i < 2000; i++) nested = { n: nested };
		const res = await call("POST", "/user", t.backend, { metadata: nested });
		expect(res.status).toBeLessThan(500);
		expect([201, 400]).toContain(res.status);
	});

	it("ignores __proto__ and constructor keys instead of polluting anything", async () => {
		const res = await call("POST", "/user", t.backend, '{"name":"proto","metadata":{"__proto__":{"admin":true},"constructor":{"x":1}}}');
		expect(res.status).toBe(201);
		expect(({} as Record<string, unknown>).admin).toBeUndefined();
		const got = await call("GET", `/user/${res.json.id}`, t.backend);
		expect(got.json.name).toBe("proto");
	});
});

describe("queries", () => {
	it.each([
		["limit=-5", "limit"],
		["limit=Infinity", "limit"],
		["limit=NaN", "limit"],
		["limit=", "limit"],
		["limit=0x10", null],
		["limit=1e308", "limit"],
		["cursor=", "cursor"],
		["cursor=not-a-uuid", "cursor"],
	])("GET /user?%s is a 400 or a page, never a 500", async (query, field) => {
		const res = await call("GET", `/user?${query}`, t.backend);
		if (field === null) {
			expect(res.status).toBe(200);
			expect(res.json).toEqual({
				users: expect.any(Array),
				next_cursor: expect.toSatisfy((v: unknown) => v === null || typeof v === "string"),
			});
		} else {
			expect(res.status).toBe(400);
			expect(res.json.error.code).toBe("validation_failed");
			expect(res.json.error.fields.map((f: { path: string }) => f.path)).toEqual([field]);
		}
	});

	it.each([
		"after_seq=9007199254740993",
		"before_seq=1e300",
		"after_seq=1&before_seq=1",
		"after_seq=5&after_seq=6",
		"limit=99999999999999999999",
	])("GET messages?%s is a 400 or a page, never a 500", async (query) => {
		const res = await call("GET", `/room/${roomId}/messages?${query}`, t.backend);
		expect([200, 400]).toContain(res.status);
		if (res.status === 200) expect(res.json).toEqual({ messages: expect.any(Array) });
		else expect(res.json.error.code).toBe("validation_failed");
	});

	it("treats an unknown but well-formed cursor as a position, not an error", async () => {
		const res = await call("GET", "/user?cursor=ffffffff-ffff-7fff-bfff-ffffffffffff", t.backend);
		expect(res.status).toBe(200);
		expect(res.json).toEqual({ users: [], next_cursor: null });
	});
});

describe("credentials are checked before the input", () => {
	it("answers 401 to a bad request without credentials, and 403 to one from the wrong kind of caller", async () => {
		const cases: Array<[string, string, unknown, Record<string, string>]> = [
			["POST", "/user", { name: 7 }, me(t).auth],
			["GET", "/user?limit=0", undefined, me(t).auth],
			["POST", "/auth/not-a-uuid", undefined, me(t).asKey],
			["POST", `/room/${roomId}/members`, "[]", me(t).auth],
			["DELETE", "/room/x/members/y", undefined, me(t).auth],
			["POST", "/room/not-a-uuid/join", undefined, t.backend],
			["POST", `/room/${roomId}/message/send`, { text_message: "" }, t.backend],
		];
		for (const [method, path, body, wrongKind] of cases) {
			const anonymous = await call(method, path, {}, body);
			expect([method, path, anonymous.status, anonymous.json.error.code]).toEqual([method, path, 401, "unauthorized"]);
			const wrong = await call(method, path, wrongKind, body);
			expect([method, path, wrong.status, wrong.json.error.code]).toEqual([method, path, 403, "forbidden"]);
		}
		for (const [method, path, body] of [
			["GET", "/user/abc"],
			["GET", "/room/abc/messages"],
			["POST", "/room", { private: "yes" }],
		] as const) {
			const anonymous = await call(method, path, {}, body);
			expect([path, anonymous.status, anonymous.json.error.code]).toEqual([path, 401, "unauthorized"]);
		}
	});
});

describe("hostile credentials", () => {
	it("answers 401, not 500, to oversized and odd credentials", async () => {
		const offers: Array<Record<string, string>> = [
			{ clientKey: "x".repeat(8000) },
			{ clientKey: `${t.key}.${"y".repeat(8000)}` },
			{ clientKey: `${t.key}.${me(t).id}.${me(t).id}` },
			{ Authorization: `Bearer ${"z".repeat(8000)}` },
			{ Authorization: `Bearer ${btoa("{}")}.${btoa("{}")}.` },
			{ Authorization: "Bearer e30.e30.e30" },
			{ Authorization: "Bearer ..." },
			{ Authorization: "Bearer" },
		];
		for (const headers of offers) {
			const res = await call("GET", `/room/${roomId}/messages`, headers);
			expect([Object.values(headers)[0]?.slice(0, 40), res.status, res.json.error.code]).toEqual([
				Object.values(headers)[0]?.slice(0, 40),
				401,
				"unauthorized",
			]);
		}
	});
});
