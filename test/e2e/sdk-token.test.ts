// Token refresh against a real `wrangler dev` minting 3-second JWTs: the server closes
// expired sockets with 4001, and the SDK asks the application for a new token.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type ChatClient, type ChatMessage, createClient, type RoomConnection, type RoomEvents } from "../../src/client";
import { type RunningServer, startWranglerDev } from "./harness";

vi.setConfig({ testTimeout: 90_000 });

let server: RunningServer;
let backend: ChatClient;
let alice: ChatClient;
let bobId: string;
const rooms: RoomConnection[] = [];

beforeAll(async () => {
	server = await startWranglerDev({ vars: { JWT_TTL_SECONDS: "3" } });
	const admin = createClient({ baseUrl: server.base, adminToken: server.adminToken });
	const { api_token } = await admin.admin.createClient({ name: "sdk tokens" });
	backend = createClient({ baseUrl: server.base, apiToken: api_token });
	const a = await backend.users.create({ name: "alice" });
	bobId = (await backend.users.create({ name: "bob" })).id;
	// The user form of the API key never expires, so alice keeps sending throughout.
	alice = createClient({ baseUrl: server.base, apiToken: api_token, userId: a.id });
});
afterEach(() => {
	for (const room of rooms.splice(0)) room.close();
});
afterAll(() => server?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
	const started = Date.now();
	while (!(await check())) {
		if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
		await sleep(25);
	}
}

/** A browser-side client whose getToken asks "the backend" for a fresh JWT, counting the calls. */
async function bob() {
	const calls: number[] = [];
	const client = createClient({
		baseUrl: server.base,
		token: (await backend.users.token(bobId)).token,
		getToken: async () => {
			calls.push(Date.now());
			return (await backend.users.token(bobId)).token;
		},
	});
	return { client, calls };
}

function watch(room: RoomConnection) {
	rooms.push(room);
	const seen = { messages: [] as ChatMessage[], disconnects: [] as RoomEvents["disconnected"][], errors: [] as string[] };
	room.on("new_message", (m) => seen.messages.push(m));
	room.on("disconnected", (d) => seen.disconnects.push(d));
	room.on("error", (e) => seen.errors.push(e.code));
	return seen;
}

/** Alice sends `count` messages, one every `everyMs`. */
async function stream(roomId: string, count: number, everyMs: number) {
	for (const i of range(count)) {
		await alice.messages.send(roomId, `m${i}`);
		await sleep(everyMs);
	}
}

describe("realtime token refresh", () => {
	it("calls getToken when the server closes with 4001, reconnects and misses nothing", async () => {
		const { id } = await alice.rooms.create({ name: "4001" });
		const { client, calls } = await bob();
		const room = client.joinRoom(id, { refreshBeforeExpiry: false, minDelayMs: 50, maxDelayMs: 400 });
		const seen = watch(room);
		await until(() => room.state === "connected", "connected");

		await stream(id, 25, 250);
		await until(() => seen.messages.length >= 25, "25 messages");

		expect(seen.messages.map((m) => m.text_message)).toEqual(range(25).map((i) => `m${i}`));
		expect(seen.messages.map((m) => m.seq)).toEqual(range(25));
		const expiries = seen.disconnects.filter((d) => d.code === 4001);
		expect(expiries.length).toBeGreaterThanOrEqual(1);
		expect(expiries[0]).toEqual({ code: 4001, reason: "token expired", willReconnect: true });
		expect(calls.length).toBeGreaterThanOrEqual(expiries.length);
		expect(client.token).not.toBeUndefined();
		expect(room.state).toBe("connected");
	});

	it("refreshes shortly before exp, so the server never has to close with 4001", async () => {
		const { id } = await alice.rooms.create({ name: "early" });
		const { client, calls } = await bob();
		const room = client.joinRoom(id, { minDelayMs: 50, maxDelayMs: 400 });
		const seen = watch(room);
		await until(() => room.state === "connected", "connected");

		await stream(id, 25, 250);
		await until(() => seen.messages.length >= 25, "25 messages");

		expect(seen.messages.map((m) => m.seq)).toEqual(range(25));
		expect(calls.length).toBeGreaterThanOrEqual(1);
		expect(seen.disconnects.filter((d) => d.code === 4001)).toEqual([]);
		expect(seen.disconnects[0]).toEqual({ code: 1000, reason: "token refreshed", willReconnect: true });
		// The sends that follow go out on a socket opened with the new token.
		const sent = await room.send("after refresh");
		expect(sent).toMatchObject({ seq: 26, user_id: bobId, text_message: "after refresh" });
	});

	it("without getToken, a 4001 closes the room with token_expired", async () => {
		const { id } = await alice.rooms.create({ name: "no refresh" });
		const client = createClient({ baseUrl: server.base, token: (await backend.users.token(bobId)).token });
		const room = client.joinRoom(id);
		const seen = watch(room);
		await until(() => room.state === "closed", "closed", 10_000);
		expect(seen.disconnects).toEqual([{ code: 4001, reason: "token expired", willReconnect: false }]);
		expect(seen.errors).toEqual(["token_expired"]);
	});
});

describe("REST token refresh", () => {
	it("retries once with a fresh token after 401 token_expired, and surfaces the code without getToken", async () => {
		const { id } = await alice.rooms.create({ name: "rest" });
		const expired = (await backend.users.token(bobId)).token;
		await sleep(3_500);

		const stale = createClient({ baseUrl: server.base, token: expired });
		const error = await stale.rooms.get(id).catch((e: unknown) => e);
		expect(error).toMatchObject({ name: "ChatApiError", status: 401, code: "token_expired", message: "Token expired; fetch a new one" });

		let calls = 0;
		const refreshing = createClient({
			baseUrl: server.base,
			token: expired,
			getToken: async () => {
				calls += 1;
				return (await backend.users.token(bobId)).token;
			},
		});
		expect(await refreshing.rooms.get(id)).toMatchObject({ id, name: "rest" });
		expect(calls).toBe(1);
		expect(refreshing.token).not.toBe(expired);
	});
});
