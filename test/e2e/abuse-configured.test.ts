// Every abuse limit is a setting: bare workerd and the Deno host, started with small values from the
// environment, enforce exactly those (per-room and per-user sockets, WS and REST rates, text length,
// the frame size), over real TCP, while another user in the same room stays unaffected.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Api } from "./api-client";
import { type RunningServer, type StartOptions, startDeno, startSelfhost } from "./harness";
import { openRoomSocket, type RoomSocket } from "./ws-client";

const SERVERS: Array<{ runtime: string; start: (options: StartOptions) => Promise<RunningServer>; secrets: boolean }> = [
	{ runtime: "bare workerd", start: startSelfhost, secrets: true },
	{ runtime: "Deno", start: startDeno, secrets: false },
];

for (const { runtime, start, secrets } of SERVERS) {
	describe(runtime, () => {
		let server: RunningServer;
		let api: Api;
		let key: string;
		let tenantClientId: string;
		let users: Array<{ id: string; token: string }>;
		const sockets: RoomSocket[] = [];

		beforeAll(async () => {
			server = await start({
				vars: {
					MAX_SOCKETS_PER_ROOM: "5",
					MAX_SOCKETS_PER_USER: "3",
					WS_RATE_PER_SECOND: "1",
					WS_RATE_BURST: "5",
					REST_SEND_RATE_PER_SECOND: "1",
					REST_SEND_RATE_BURST: "3",
					MAX_MESSAGE_LENGTH: "10",
				},
			});
			api = new Api(server.base);
			const t = await api.tenant(server.adminToken);
			key = t.key;
			tenantClientId = t.clientId;
			users = t.users;
			for (const name of ["carol", "dave", "erin"]) {
				const user = await api.call("POST", "/user", { clientKey: key }, { name });
				const token = await api.call("POST", `/auth/${user.json.id}`, { clientKey: key });
				users.push({ id: user.json.id, token: token.json.token });
			}
		}, 180_000);
		afterAll(async () => {
			await Promise.all(sockets.map((s) => s.close()));
			await server?.stop();
		});

		const newRoom = async () => (await api.call("POST", "/room", { clientKey: key }, {})).json.id as string;
		const auth = (i: number) => ({ Authorization: `Bearer ${users[i]!.token}` });
		async function open(roomId: string, user: number): Promise<RoomSocket> {
			const s = await openRoomSocket(server.base, roomId, users[user]!.token);
			sockets.push(s);
			return s;
		}
		/** The handshake's status and body when the server refuses the upgrade. */
		function refusal(roomId: string, user: number): Promise<{ status: number; body: unknown }> {
			return new Promise((resolve, reject) => {
				const ws = new WebSocket(`${server.base.replace(/^http/, "ws")}/room/${roomId}/ws`, ["roomkit.v1", users[user]!.token]);
				ws.once("open", () => {
					ws.close();
					reject(new Error("the handshake was accepted"));
				});
				ws.once("unexpected-response", (_req, res) => {
					let body = "";
					res.on("data", (d) => (body += d));
					res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }));
				});
			});
		}

		describe(`limits from the environment (${runtime})`, () => {
			it("MAX_SOCKETS_PER_USER=3 and MAX_SOCKETS_PER_ROOM=5: the next socket gets 429 too_many_connections", async () => {
				const roomId = await newRoom();
				for (let i = 0; i < 3; i++) await open(roomId, 0);
				expect(await refusal(roomId, 0)).toEqual({
					status: 429,
					body: { error: { code: "too_many_connections", message: "Too many sockets for this user in this room" } },
				});
				await open(roomId, 1);
				const bystander = await open(roomId, 2);
				expect(await refusal(roomId, 3)).toEqual({
					status: 429,
					body: { error: { code: "too_many_connections", message: "This room has as many sockets as it may hold" } },
				});
				// Users already in the room are unaffected by the full room.
				expect(await bystander.request("send_message", { room_id: roomId, text_message: "still ok" }, "b")).toMatchObject({
					event: "ack",
					id: "b",
				});
				// Another room has its own count.
				await open(await newRoom(), 3);
			});

			it("WS_RATE_BURST=5: the sixth quick frame is rate_limited; another user's socket is served", async () => {
				const roomId = await newRoom();
				const abuser = await open(roomId, 0);
				const bystander = await open(roomId, 1);
				for (let i = 0; i < 6; i++)
					abuser.ws.send(JSON.stringify({ event: "send_message", id: i, data: { room_id: roomId, text_message: `f${i}` } }));
				const answers = [];
				for (let i = 0; i < 6; i++)
					answers.push(await abuser.next((e) => e.id === i || (e.event === "error" && e.data.code === "rate_limited")));
				expect(answers.map((a) => (a.event === "ack" ? "ack" : a.data.code))).toEqual(["ack", "ack", "ack", "ack", "ack", "rate_limited"]);
				expect(await bystander.request("send_message", { room_id: roomId, text_message: "ok" }, "b")).toMatchObject({
					event: "ack",
					id: "b",
				});
			});

			it("answers a 2 MiB frame with frame_too_large and keeps serving the socket", async () => {
				const roomId = await newRoom();
				const sender = await open(roomId, 4);
				sender.ws.send("x".repeat(2 * 1024 * 1024));
				expect(await sender.next((e) => e.event === "error")).toEqual({
					event: "error",
					data: { code: "frame_too_large", message: "Frames are limited to 65536 bytes" },
				});
				expect(await sender.request("send_message", { room_id: roomId, text_message: "after" }, "a")).toMatchObject({
					event: "ack",
					id: "a",
				});
			});

			it("REST_SEND_RATE_BURST=3 and MAX_MESSAGE_LENGTH=10: the fourth send is 429, an 11-character text is 400; another user sends", async () => {
				const roomId = await newRoom();
				const statuses = [];
				for (let i = 0; i < 4; i++)
					statuses.push((await api.call("POST", `/room/${roomId}/message/send`, auth(0), { text_message: `m${i}` })).status);
				expect(statuses).toEqual([201, 201, 201, 429]);
				expect((await api.call("POST", `/room/${roomId}/message/send`, auth(1), { text_message: "x".repeat(11) })).json).toEqual({
					error: {
						code: "validation_failed",
						message: "Invalid request",
						fields: [{ path: "text_message", message: "Too big: expected string to have <=10 characters" }],
					},
				});
				expect((await api.call("POST", `/room/${roomId}/message/send`, auth(1), { text_message: "x".repeat(10) })).status).toBe(201);
			});
		});

		describe.runIf(secrets)("secrets at rest on bare workerd", () => {
			it("writes no API token (nor any 16-character piece of one), JWT secret or admin token into the data directory", async () => {
				// A rotated token too: neither the old nor the new one may be on disk.
				const rotated = await api.call(
					"POST",
					`/admin/clients/${(await api.call("POST", "/admin/clients", { Authorization: `Bearer ${server.adminToken}` }, { name: "disk" })).json.id}/rotate-token`,
					{
						Authorization: `Bearer ${server.adminToken}`,
					},
				);
				expect(rotated.status).toBe(200);
				const secrets = [key, rotated.json.api_token as string, server.jwtSecret, server.adminToken];
				const files: string[] = [];
				const walk = (dir: string) => {
					for (const entry of readdirSync(dir, { withFileTypes: true })) {
						const path = join(dir, entry.name);
						if (entry.isDirectory()) walk(path);
						else files.push(path);
					}
				};
				walk(server.stateDir);
				// SQLite files, their WAL included: whatever the runtime wrote.
				const disk = Buffer.concat(files.map((f) => readFileSync(f))).toString("latin1");
				expect(files.length).toBeGreaterThan(0);
				expect(disk).toContain(tenantClientId);
				for (const secret of secrets) {
					const body = secret.startsWith("rk_") ? secret.slice(3) : secret;
					for (let i = 0; i + 16 <= body.length; i++)
						expect(disk.includes(body.slice(i, i + 16)), `a piece of a secret at ${i}`).toBe(false);
				}
			});
		});
	});
}
