import { afterAll, beforeAll, expect, it } from "vitest";
import { Api } from "./api-client";
import { type RunningServer, startWranglerDev } from "./harness";

let server: RunningServer;
beforeAll(async () => {
	server = await startWranglerDev();
});
afterAll(() => server?.stop());

it("runs the README flow over real TCP on wrangler dev", async () => {
	const api = new Api(server.base);
	const { key, users } = await api.tenant(server.adminToken);
	const [alice] = users;
	const room = await api.call("POST", "/room", { Authorization: `Bearer ${alice!.token}` }, { name: "general" });
	expect(room.status).toBe(201);
	const sent = await api.call(
		"POST",
		`/room/${room.json.id}/message/send`,
		{ Authorization: `Bearer ${alice!.token}` },
		{ text_message: "hello" },
	);
	expect(sent.status).toBe(201);
	expect(sent.json.seq).toBe(1);
	const history = await api.call("GET", `/room/${room.json.id}/messages`, { clientKey: key });
	expect(history.json.messages.map((m: { text_message: string }) => m.text_message)).toEqual(["hello"]);
});
