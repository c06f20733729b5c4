// Tenant isolation: everything of client B is "not found" to client A's backend key and A's users,
// while the same requests on A's own resources succeed (so the 404s are not an accident).
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, call, room, type Tenant, tenant, worker } from "./helpers";

const me = (t: Tenant, i = 0) => t.users[i] as Tenant["users"][number];

let a: Tenant;
let b: Tenant;
let aRoom: { id: string };
let bRoom: { id: string };
let bPrivate: { id: string };

beforeAll(async () => {
	a = await tenant(2, "client-a");
	b = await tenant(2, "client-b");
	aRoom = await room(a, { name: "a-public", members: [me(a).id] });
	bRoom = await room(b, { name: "b-public", members: [me(b).id] });
	bPrivate = await room(b, { name: "b-private", private: true, members: [me(b).id] });
	expect((await call("POST", `/room/${bRoom.id}/message/send`, me(b).auth, { text_message: "b's secret" })).status).toBe(201);
	expect((await call("POST", `/room/${aRoom.id}/message/send`, me(a).auth, { text_message: "a's own" })).status).toBe(201);
});

type Req = readonly [method: string, path: string, body?: unknown];

/** Requests on B's resources, each with the not-found message it must get. */
const onB = (): Array<[string, Req, string]> => [
	["GET user", ["GET", `/user/${me(b).id}`], "User not found"],
	["GET user rooms", ["GET", `/user/${me(b).id}/rooms`], "User not found"],
	["GET room", ["GET", `/room/${bRoom.id}`], "Room not found"],
	["GET private room", ["GET", `/room/${bPrivate.id}`], "Room not found"],
	["join room", ["POST", `/room/${bRoom.id}/join`], "Room not found"],
	["GET members", ["GET", `/room/${bRoom.id}/members`], "Room not found"],
	["add member", ["POST", `/room/${bRoom.id}/members`, { user_id: me(a).id }], "Room not found"],
	["remove member", ["DELETE", `/room/${bRoom.id}/members/${me(b).id}`], "Room not found"],
	["GET messages", ["GET", `/room/${bRoom.id}/messages`], "Room not found"],
	["send message", ["POST", `/room/${bRoom.id}/message/send`, { text_message: "hi B" }], "Room not found"],
	["mint a JWT", ["POST", `/auth/${me(b).id}`], "User not found"],
	["add B's user to A's room", ["POST", `/room/${aRoom.id}/members`, { user_id: me(b).id }], "User not found"],
];

/** Which of A's credentials may make each request at all (backend-only and user-only routes differ). */
const allowed = (as: "backend" | "jwt" | "userKey", label: string) => {
	const backendOnly = ["add member", "remove member", "mint a JWT", "add B's user to A's room"];
	const userOnly = ["join room", "send message"];
	if (as === "backend") return !userOnly.includes(label);
	return !backendOnly.includes(label);
};

const creds = (as: "backend" | "jwt" | "userKey") => (as === "backend" ? a.backend : as === "jwt" ? me(a).auth : me(a).asKey);

describe.each(["backend", "jwt", "userKey"] as const)("client A's %s credentials", (as) => {
	it("get 404 on every resource of client B", async () => {
		let checked = 0;
		for (const [label, [method, path, body], message] of onB()) {
			if (!allowed(as, label)) continue;
			const res = await call(method, path, creds(as), body);
			expect([label, res.status, res.json]).toEqual([label, 404, { error: { code: "not_found", message } }]);
			checked++;
		}
		expect(checked).toBe(as === "backend" ? 10 : 8);
	});

	it("get 404 on B's room WebSocket handshake", async () => {
		if (as === "backend") return;
		const res = await worker.fetch(`${BASE}/room/${bRoom.id}/ws`, { headers: { Upgrade: "websocket", ...creds(as) } });
		expect(res.status).toBe(404);
		expect(res.webSocket).toBeNull();
		expect(await res.json()).toEqual({ error: { code: "not_found", message: "Room not found" } });
	});

	it("leave B's data untouched", async () => {
		const history = await call("GET", `/room/${bRoom.id}/messages`, b.backend);
		expect(history.json.messages.map((m: { text_message: string }) => m.text_message)).toEqual(["b's secret"]);
		const members = await call("GET", `/room/${bRoom.id}/members`, b.backend);
		expect(members.json.members.map((m: { user_id: string }) => m.user_id)).toEqual([me(b).id]);
	});
});

describe("the same requests on client A's own resources (control)", () => {
	it("succeed", async () => {
		expect((await call("GET", `/user/${me(a).id}`, me(a).auth)).status).toBe(200);
		expect((await call("GET", `/user/${me(a).id}/rooms`, a.backend)).status).toBe(200);
		expect((await call("GET", `/room/${aRoom.id}`, a.backend)).status).toBe(200);
		expect((await call("GET", `/room/${aRoom.id}/members`, me(a).asKey)).status).toBe(200);
		expect((await call("GET", `/room/${aRoom.id}/messages`, me(a).auth)).status).toBe(200);
		expect((await call("POST", `/room/${aRoom.id}/join`, me(a, 1).auth)).status).toBe(200);
		expect((await call("POST", `/room/${aRoom.id}/message/send`, me(a).auth, { text_message: "x" })).status).toBe(201);
		expect((await call("POST", `/auth/${me(a).id}`, a.backend)).status).toBe(200);
		expect((await call("DELETE", `/room/${aRoom.id}/members/${me(a, 1).id}`, a.backend)).status).toBe(204);
	});

	it("opens A's own room WebSocket (101)", async () => {
		const res = await worker.fetch(`${BASE}/room/${aRoom.id}/ws`, { headers: { Upgrade: "websocket", ...me(a).auth } });
		expect(res.status).toBe(101);
		const ws = res.webSocket as WebSocket;
		ws.accept();
		ws.close(1000, "done");
	});
});

describe("listings never cross tenants", () => {
	it("A's user list and A's user rooms hold only A's", async () => {
		const users = await call("GET", "/user", a.backend);
		expect(users.json.users.map((u: { id: string }) => u.id).sort()).toEqual([me(a).id, me(a, 1).id].sort());
		const rooms = await call("GET", `/user/${me(a).id}/rooms`, a.backend);
		expect(rooms.json.rooms.map((r: { id: string }) => r.id)).toEqual([aRoom.id]);
	});

	it("a room cannot be created with B's users as members", async () => {
		const res = await call("POST", "/room", a.backend, { members: [me(b).id] });
		expect(res.status).toBe(400);
		expect(res.json).toEqual({
			error: {
				code: "validation_failed",
				message: "Unknown members",
				fields: [{ path: "members.0", message: `No user ${me(b).id} in this client` }],
			},
		});
	});

	it("A's key cannot act as B's user", async () => {
		const res = await call("GET", `/room/${bRoom.id}/messages`, { clientKey: `${a.key}.${me(b).id}` });
		expect(res.status).toBe(401);
		expect(res.json).toEqual({ error: { code: "unauthorized", message: "Unknown user for this API token" } });
	});
});
