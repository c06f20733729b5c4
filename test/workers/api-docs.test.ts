// Docs and operations: the OpenAPI and AsyncAPI documents, Swagger UI, /health, unknown routes and CORS.
import { describe, expect, it } from "vitest";
import { call, callWithEnv } from "./helpers";

/** Every route a caller can use, as `METHOD path` (the documents and the demo page aside). */
const ROUTES = [
	"POST /admin/clients",
	"POST /admin/clients/{client_id}/rotate-token",
	"POST /auth/{user_id}",
	"POST /user",
	"GET /user",
	"GET /user/{user_id}",
	"GET /user/{user_id}/rooms",
	"POST /room",
	"GET /room/{room_id}",
	"POST /room/{room_id}/join",
	"GET /room/{room_id}/members",
	"POST /room/{room_id}/members",
	"DELETE /room/{room_id}/members/{user_id}",
	"POST /room/{room_id}/message/send",
	"GET /room/{room_id}/messages",
	"GET /room/{room_id}/ws",
	"PATCH /room/{room_id}/messages/{message_id}",
	"DELETE /room/{room_id}/messages/{message_id}",
	"GET /room/{room_id}/messages/{message_id}/versions",
	"GET /room/{room_id}/messages/{message_id}/replies",
	"POST /room/{room_id}/messages/{message_id}/reactions",
	"DELETE /room/{room_id}/messages/{message_id}/reactions/{type}",
	"POST /room/{room_id}/read",
	"GET /room/{room_id}/reads",
	"GET /user/{user_id}/unread",
	"GET /room/{room_id}/presence",
	"GET /ws",
	"GET /room/{room_id}/events",
	"POST /room/{room_id}/messages/{message_id}/flag",
	"PATCH /room/{room_id}",
	"PATCH /room/{room_id}/members/{user_id}",
	"POST /room/{room_id}/bans",
	"GET /room/{room_id}/bans",
	"DELETE /room/{room_id}/bans/{user_id}",
	"POST /room/{room_id}/mutes",
	"GET /room/{room_id}/mutes",
	"DELETE /room/{room_id}/mutes/{user_id}",
	"POST /user/{user_id}/ban",
	"DELETE /user/{user_id}/ban",
	"POST /webhooks",
	"GET /webhooks",
	"GET /webhooks/{webhook_id}",
	"PATCH /webhooks/{webhook_id}",
	"DELETE /webhooks/{webhook_id}",
	"POST /webhooks/{webhook_id}/rotate-secret",
	"GET /webhooks/{webhook_id}/deliveries",
	"POST /webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
	"GET /health",
];

interface Operation {
	security?: Array<Record<string, string[]>>;
	parameters?: Array<{ name: string; in: string; required?: boolean; schema?: { type?: string; format?: string } }>;
	requestBody?: { content: Record<string, { schema: unknown }> };
	responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

async function openapi() {
	const res = await call("GET", "/openapi.json");
	expect(res.status).toBe(200);
	return res.json as {
		openapi: string;
		info: { title: string; version: string };
		paths: Record<string, Record<string, Operation>>;
		components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
	};
}

const operations = (doc: Awaited<ReturnType<typeof openapi>>) =>
	Object.entries(doc.paths).flatMap(([path, item]) =>
		Object.entries(item).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, op })),
	);

describe("GET /openapi.json", () => {
	it("is OpenAPI 3.1 and lists exactly the routes the API serves", async () => {
		const doc = await openapi();
		expect(doc.openapi).toBe("3.1.0");
		expect(doc.info).toMatchObject({ title: "Roomkit chat API", version: "1.0.0" });
		expect(
			operations(doc)
				.map((o) => o.key)
				.sort(),
		).toEqual([...ROUTES].sort());
	});

	it("has the four security schemes", async () => {
		const doc = await openapi();
		expect(doc.components.securitySchemes).toEqual({
			clientKey: { type: "apiKey", in: "header", name: "clientKey", description: "`<api_token>`: act as the client's backend" },
			clientKeyUser: {
				type: "apiKey",
				in: "header",
				name: "clientKey",
				description: "`<api_token>.<user_id>`: act as that user from your backend",
			},
			bearerJwt: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A user JWT from POST /auth/{user_id}" },
			adminToken: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN, for /admin routes" },
		});
	});

	it("states who may call each route", async () => {
		const doc = await openapi();
		const backend = [{ clientKey: [] }];
		const user = [{ bearerJwt: [] }, { clientKeyUser: [] }];
		const any = [{ clientKey: [] }, { bearerJwt: [] }, { clientKeyUser: [] }];
		const admin = [{ adminToken: [] }];
		const security = Object.fromEntries(operations(doc).map((o) => [o.key, o.op.security]));
		expect(security).toEqual({
			"POST /admin/clients": admin,
			"POST /admin/clients/{client_id}/rotate-token": admin,
			"POST /auth/{user_id}": backend,
			"POST /user": backend,
			"GET /user": backend,
			"GET /user/{user_id}": any,
			"GET /user/{user_id}/rooms": any,
			"POST /room": any,
			"GET /room/{room_id}": any,
			"POST /room/{room_id}/join": user,
			"GET /room/{room_id}/members": any,
			"POST /room/{room_id}/members": backend,
			"DELETE /room/{room_id}/members/{user_id}": backend,
			"POST /room/{room_id}/message/send": user,
			"GET /room/{room_id}/messages": any,
			"GET /room/{room_id}/ws": user,
			"PATCH /room/{room_id}/messages/{message_id}": user,
			"DELETE /room/{room_id}/messages/{message_id}": any,
			"GET /room/{room_id}/messages/{message_id}/versions": any,
			"GET /room/{room_id}/messages/{message_id}/replies": any,
			"POST /room/{room_id}/messages/{message_id}/reactions": user,
			"DELETE /room/{room_id}/messages/{message_id}/reactions/{type}": user,
			"POST /room/{room_id}/read": user,
			"GET /room/{room_id}/reads": any,
			"GET /user/{user_id}/unread": any,
			"GET /room/{room_id}/presence": any,
			"GET /ws": user,
			"GET /room/{room_id}/events": backend,
			"POST /room/{room_id}/messages/{message_id}/flag": user,
			"PATCH /room/{room_id}": backend,
			"PATCH /room/{room_id}/members/{user_id}": backend,
			"POST /room/{room_id}/bans": any,
			"GET /room/{room_id}/bans": any,
			"DELETE /room/{room_id}/bans/{user_id}": any,
			"POST /room/{room_id}/mutes": any,
			"GET /room/{room_id}/mutes": any,
			"DELETE /room/{room_id}/mutes/{user_id}": any,
			"POST /user/{user_id}/ban": backend,
			"DELETE /user/{user_id}/ban": backend,
			"POST /webhooks": backend,
			"GET /webhooks": backend,
			"GET /webhooks/{webhook_id}": backend,
			"PATCH /webhooks/{webhook_id}": backend,
			"DELETE /webhooks/{webhook_id}": backend,
			"POST /webhooks/{webhook_id}/rotate-secret": backend,
			"GET /webhooks/{webhook_id}/deliveries": backend,
			"POST /webhooks/{webhook_id}/deliveries/{delivery_id}/retry": backend,
			"GET /health": [],
		});
	});

	it("declares every path parameter as required, and every id as a UUID", async () => {
		const doc = await openapi();
		for (const { key, path, op } of operations(doc)) {
			const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
			const declared = (op.parameters ?? []).filter((p) => p.in === "path");
			expect([key, declared.map((p) => p.name).sort()]).toEqual([key, names.sort()]);
			for (const p of declared) {
				// A reaction's type is a short string (an emoji), not an id.
				expect([key, p.required, p.schema?.format]).toEqual([key, true, p.name === "type" ? undefined : "uuid"]);
			}
		}
	});

	it("describes bodies and responses with the named zod schemas, including the error shape", async () => {
		const doc = await openapi();
		expect(Object.keys(doc.components.schemas)).toEqual(
			expect.arrayContaining([
				"ClientWithToken",
				"AuthToken",
				"User",
				"UserPage",
				"Room",
				"UserRoomPage",
				"ReadBody",
				"ReadResult",
				"UnreadSummary",
				"Member",
				"MemberPage",
				"Message",
				"MessagePage",
				"SendMessageBody",
				"CreateUserBody",
				"CreateRoomBody",
				"AddMemberBody",
				"Role",
				"SetRoleBody",
				"UpdateRoomBody",
				"RestrictBody",
				"Restriction",
				"BanPage",
				"MutePage",
				"UserBanBody",
				"UserBan",
				"Error",
			]),
		);
		const send = doc.paths["/room/{room_id}/message/send"]?.post as Operation;
		expect(send.requestBody?.content["application/json"]?.schema).toEqual({ $ref: "#/components/schemas/SendMessageBody" });
		expect(send.responses["201"]?.content?.["application/json"]?.schema).toEqual({ $ref: "#/components/schemas/Message" });
		expect(Object.keys(send.responses).sort()).toEqual(["200", "201", "400", "401", "403", "404", "413", "429"]);
		expect(send.responses["400"]?.content?.["application/json"]?.schema).toEqual({ $ref: "#/components/schemas/Error" });
		expect(doc.components.schemas.SendMessageBody).toMatchObject({
			type: "object",
			properties: {
				text_message: { type: "string", minLength: 1, description: "1 to MAX_MESSAGE_LENGTH (default 4000) UTF-16 code units" },
			},
			required: ["text_message"],
		});
		const history = doc.paths["/room/{room_id}/messages"]?.get as Operation;
		expect(
			(history.parameters ?? [])
				.filter((p) => p.in === "query")
				.map((p) => p.name)
				.sort(),
		).toEqual(["after_seq", "before_seq", "limit"]);
	});

	it("points the servers entry at the origin it was fetched from, so /docs can call the API", async () => {
		const res = await call("GET", "/openapi.json");
		expect(res.json.servers).toEqual([{ url: "http://chat.test" }]);
	});
});

describe("GET /docs", () => {
	it("serves Swagger UI loading /openapi.json", async () => {
		const res = await call("GET", "/docs");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("text/html; charset=UTF-8");
		expect(res.json).toContain("SwaggerUIBundle");
		expect(res.json).toContain("url: '/openapi.json'");
	});
});

describe("GET /asyncapi.json", () => {
	it("is AsyncAPI 3.0.0 for the room WebSocket", async () => {
		const res = await call("GET", "/asyncapi.json");
		expect(res.status).toBe(200);
		expect(res.json.asyncapi).toBe("3.0.0");
		expect(Object.keys(res.json)).toEqual(expect.arrayContaining(["info", "servers", "channels", "operations"]));
	});
});

describe("GET /health", () => {
	it("answers 200 without credentials", async () => {
		const res = await call("GET", "/health");
		expect(res.status).toBe(200);
		expect(res.json).toEqual({ status: "ok" });
	});
});

describe("unknown routes", () => {
	it.each([
		["GET", "/nope"],
		["GET", "/room"],
		["PUT", "/user"],
		["PUT", "/room/01900000-0000-7000-8000-000000000000"],
		["GET", "/room/01900000-0000-7000-8000-000000000000/message/send"],
	])("answer %s %s with a JSON 404", async (method, path) => {
		const res = await call(method, path, { clientKey: "whatever" });
		expect(res.status).toBe(404);
		expect(res.headers.get("content-type")).toContain("application/json");
		expect(res.json).toEqual({ error: { code: "not_found", message: "No such route" } });
	});
});

describe("CORS", () => {
	const preflight = {
		Origin: "https://app.example",
		"Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "content-type,clientkey",
	};

	it("answers a preflight with the allowed origin, methods and headers", async () => {
		const res = await call("OPTIONS", "/room", preflight);
		expect(res.status).toBe(204);
		expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
		expect(res.headers.get("Access-Control-Allow-Methods")).toBe("GET,POST,PATCH,DELETE,OPTIONS");
		expect(res.headers.get("Access-Control-Allow-Headers")).toBe("Authorization,Content-Type,clientKey");
		expect(res.headers.get("Access-Control-Max-Age")).toBe("600");
	});

	it("marks responses, errors included, so a browser may read them", async () => {
		for (const [method, path, status] of [
			["GET", "/health", 200],
			["GET", "/user", 401],
			["GET", "/missing", 404],
		] as const) {
			const res = await call(method, path, { Origin: "https://app.example" });
			expect([path, res.status, res.headers.get("Access-Control-Allow-Origin")]).toEqual([path, status, "*"]);
		}
	});

	it("allows only the configured origins when CORS_ORIGINS lists them", async () => {
		const env = { CORS_ORIGINS: "https://app.example, https://admin.example" };
		const allowed = await callWithEnv(env, "OPTIONS", "/room", preflight);
		expect(allowed.status).toBe(204);
		expect(allowed.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example");
		const other = await callWithEnv(env, "OPTIONS", "/room", { ...preflight, Origin: "https://evil.example" });
		expect(other.headers.get("Access-Control-Allow-Origin")).toBeNull();
		const simple = await callWithEnv(env, "GET", "/health", { Origin: "https://evil.example" });
		expect(simple.status).toBe(200);
		expect(simple.headers.get("Access-Control-Allow-Origin")).toBeNull();
	});
});
