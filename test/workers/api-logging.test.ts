// The request log: one structured line per request, with no token, no API key and no message text.
import { afterEach, describe, expect, it, vi } from "vitest";
import { admin, callWithEnv, call as quietCall, type Reply, room, tenant, worker } from "./helpers";

// The test Worker runs with LOG_LEVEL=error (vitest.config.ts); these requests go through an app with the production default.
const call = (method: string, path: string, headers?: Record<string, string>, body?: unknown): Promise<Reply> =>
	callWithEnv({ LOG_LEVEL: "info" }, method, path, headers, body);

afterEach(() => {
	vi.restoreAllMocks();
});

/** Runs `request` while capturing console output; returns the parsed request-log lines and everything printed. */
async function captureLog(request: () => Promise<unknown>) {
	const printed: string[] = [];
	const record = (...args: unknown[]) => {
		printed.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
	};
	for (const level of ["log", "info", "warn", "error", "debug"] as const) vi.spyOn(console, level).mockImplementation(record);
	await request();
	vi.restoreAllMocks();
	const lines = printed.flatMap((line) => {
		try {
			const parsed = JSON.parse(line);
			return parsed && typeof parsed === "object" && "route" in parsed ? [parsed] : [];
		} catch {
			return [];
		}
	});
	return { lines, everything: printed.join("\n") };
}

describe("request log", () => {
	it("logs a send with method, route, status, duration and client id, but not the JWT or the text", async () => {
		const t = await tenant(1);
		const r = await room(t);
		const user = t.users[0] as (typeof t.users)[number];
		const text = "very private words 7f3a9c";
		const { lines, everything } = await captureLog(() =>
			call("POST", `/room/${r.id}/message/send?token=${user.token}`, user.auth, { text_message: text, client_msg_id: "log-cmid-123" }),
		);
		expect(lines).toEqual([
			{ method: "POST", route: "/room/:room_id/message/send", status: 201, duration_ms: expect.any(Number), client_id: t.clientId },
		]);
		expect(lines[0].duration_ms).toBeGreaterThanOrEqual(0);
		expect(everything).not.toContain(user.token);
		expect(everything).not.toContain(user.token.split(".")[2]);
		expect(everything).not.toContain(text);
		expect(everything).not.toContain("log-cmid-123");
		// The route pattern, not the path: no ids, no query string.
		expect(everything).not.toContain("?token=");
	});

	it("logs backend calls without the API key, in either clientKey form", async () => {
		const t = await tenant(1);
		const user = t.users[0] as (typeof t.users)[number];
		const { lines, everything } = await captureLog(async () => {
			await call("POST", "/user", t.backend, { name: "Secret Name", metadata: { email: "secret@example.com" } });
			await call("GET", `/user/${user.id}`, user.asKey);
		});
		expect(lines).toEqual([
			{ method: "POST", route: "/user", status: 201, duration_ms: expect.any(Number), client_id: t.clientId },
			{ method: "GET", route: "/user/:user_id", status: 200, duration_ms: expect.any(Number), client_id: t.clientId },
		]);
		expect(everything).not.toContain(t.key);
		expect(everything).not.toContain("secret@example.com");
		expect(everything).not.toContain("Secret Name");
	});

	it("logs failures too, with a null client id when the caller is unknown, and no offered secrets", async () => {
		const t = await tenant(1);
		const { lines, everything } = await captureLog(async () => {
			await call("GET", "/user", { clientKey: "rk_wrongwrongwrongwrongwrongwrongwrongwrong123" });
			await call("POST", "/admin/clients", { Authorization: "Bearer guessed-admin-token" }, { name: "x" });
			await call("POST", "/room/01900000-0000-7000-8000-000000000000/message/send", t.users[0]?.auth, { text_message: "lost words" });
		});
		expect(lines).toEqual([
			{ method: "GET", route: "/user", status: 401, duration_ms: expect.any(Number), client_id: null },
			{ method: "POST", route: "/admin/clients", status: 401, duration_ms: expect.any(Number), client_id: null },
			{ method: "POST", route: "/room/:room_id/message/send", status: 404, duration_ms: expect.any(Number), client_id: t.clientId },
		]);
		expect(everything).not.toContain("rk_wrongwrong");
		expect(everything).not.toContain("guessed-admin-token");
		expect(everything).not.toContain("lost words");
	});

	it("names the client on requests it sent that fail validation", async () => {
		const t = await tenant(1);
		const { lines } = await captureLog(async () => {
			await call("POST", "/user", t.backend, { name: "" });
			await call("GET", "/room/not-a-uuid/messages", t.users[0]?.auth);
		});
		expect(lines).toEqual([
			{ method: "POST", route: "/user", status: 400, duration_ms: expect.any(Number), client_id: t.clientId },
			{ method: "GET", route: "/room/:room_id/messages", status: 400, duration_ms: expect.any(Number), client_id: t.clientId },
		]);
	});

	it("is silent at LOG_LEVEL=error, the setting of the test Worker, and still renders the response", async () => {
		const t = await tenant(1);
		const { lines, everything } = await captureLog(async () => {
			const res = await quietCall("GET", `/user/${t.users[0]?.id}`, t.backend);
			expect(res.status).toBe(200);
			const direct = await worker.fetch("http://chat.test/user", { headers: t.backend });
			expect(direct.status).toBe(200);
			const explicit = await callWithEnv({ LOG_LEVEL: "error" }, "GET", "/user", t.backend);
			expect(explicit.status).toBe(200);
		});
		expect(lines).toEqual([]);
		expect(everything).toBe("");
	});

	it("refuses an unknown LOG_LEVEL with a message naming the allowed values", async () => {
		const t = await tenant(1);
		const { everything } = await captureLog(async () => {
			const res = await callWithEnv({ LOG_LEVEL: "verbose" }, "GET", "/user", t.backend);
			expect(res.status).toBe(500);
			expect(res.json).toEqual({ error: { code: "internal_error", message: "Something went wrong on our side" } });
		});
		expect(everything).toContain('LOG_LEVEL must be one of info, error, got \\"verbose\\"');
	});

	it("logs an admin action with the client it concerns, and never the new API token", async () => {
		let token = "";
		let id = "";
		const { lines, everything } = await captureLog(async () => {
			const res = await call("POST", "/admin/clients", admin, { name: "logged" });
			token = res.json.api_token;
			id = res.json.id;
		});
		expect(lines).toEqual([{ method: "POST", route: "/admin/clients", status: 201, duration_ms: expect.any(Number), client_id: id }]);
		expect(everything).not.toContain(token);
		expect(everything).not.toContain("test-admin-token");
	});
});
