// The user socket (`GET /ws`) over real TCP on every runtime: one connection for all of a user's
// rooms, catch-up per room, leave_room, the room cap, inbox updates, read sync across sockets,
// removal, bad frames and the handshake's other credentials.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Api } from "./api-client";
import { RUNTIMES, type RunningServer } from "./harness";
import { openUserSocket, type RoomSocket, type ServerEvent } from "./ws-client";

describe.each(RUNTIMES)("user socket on $runtime", ({ start }) => {
	let server: RunningServer;
	let api: Api;
	const sockets: RoomSocket[] = [];
	const open = async (token: string) => {
		const socket = await openUserSocket(server.base, token);
		sockets.push(socket);
		return socket;
	};

	beforeAll(async () => {
		server = await start({
			vars: {
				// The reconnect test sends faster than the default per-socket frame rate allows.
				WS_RATE_PER_SECOND: "1000",
				WS_RATE_BURST: "1000",
				// A cap the room-cap test can reach; no other test joins more than 3 rooms on one socket.
				MAX_ROOMS_PER_SOCKET: "3",
				// Sockets without an Origin (the ws client's default) pass; the handshake test sends a foreign one.
				WS_ALLOWED_ORIGINS: "https://app.example",
			},
		});
		api = new Api(server.base);
	});
	afterAll(async () => {
		await Promise.all(sockets.map((s) => s.close()));
		await server?.stop();
	});

	/** A client with alice and bob, and `count` rooms both are members of. */
	const setup = async (count: number, options: { private?: boolean } = {}) => {
		const t = await api.tenant(server.adminToken);
		const [alice, bob] = t.users as [{ id: string; token: string }, { id: string; token: string }];
		const rooms: string[] = [];
		for (let i = 0; i < count; i++) {
			const res = await api.call("POST", "/room", { clientKey: t.key }, { name: `r${i}`, members: [alice.id, bob.id], ...options });
			expect(res.status).toBe(201);
			rooms.push(res.json.id);
		}
		return { t, alice, bob, rooms };
	};
	const isMessage = (roomId: string) => (e: ServerEvent) => e.event === "new_message" && e.data.room_id === roomId;

	it("opens with ready, then one socket joins three rooms and gets each room's messages in order; sends to two rooms on it", async () => {
		const { alice, bob, rooms } = await setup(3);
		// The rooms tell alice's gateway of her membership right after they are created, not before
		// the REST answer: wait until all three have (a machine under load can take a moment).
		await expect
			.poll(async () => {
				const probe = await openUserSocket(server.base, alice.token);
				const ready = await probe.next((e) => e.event === "ready");
				await probe.close();
				return ready.data.rooms.length;
			})
			.toBe(3);
		const a = await open(alice.token);
		expect(await a.next((e) => e.event === "ready")).toEqual({
			event: "ready",
			data: {
				user_id: alice.id,
				rooms: expect.arrayContaining(rooms.map((room_id) => ({ room_id, last_seq: 0, last_read_seq: 0, unread: 0, online: [] }))),
				unread_total: 0,
			},
		});
		for (const [i, room_id] of rooms.entries()) {
			expect(await a.request("join_room", { room_id }, `j${i}`)).toEqual({
				event: "ack",
				id: `j${i}`,
				data: { room_id, last_seq: 0, online: [alice.id] },
			});
		}
		const b = await open(bob.token);
		for (let n = 1; n <= 4; n++) {
			for (const room_id of rooms) {
				const ack = await b.request("send_message", { room_id, text_message: `${n}` }, `${room_id}-${n}`);
				expect(ack.data).toMatchObject({ room_id, seq: n, user_id: bob.id, text_message: `${n}` });
			}
		}
		for (const room_id of rooms) {
			const seqs = [];
			for (let n = 1; n <= 4; n++) seqs.push((await a.next(isMessage(room_id))).data.seq);
			expect(seqs).toEqual([1, 2, 3, 4]);
		}
		// Sends to two rooms on one socket, joined or not.
		const one = await a.request("send_message", { room_id: rooms[0], text_message: "to 0" }, "s0");
		const two = await a.request("send_message", { room_id: rooms[1], text_message: "to 1" }, "s1");
		expect([one.data.room_id, one.data.seq, two.data.room_id, two.data.seq]).toEqual([rooms[0], 5, rooms[1], 5]);
	});

	it("catches up per room after each of 50 reconnects with traffic in every room, also while the joins run: every seq once, in order", async () => {
		const { alice, bob, rooms } = await setup(3);
		const b = await open(bob.token);
		const seen = new Map(rooms.map((r) => [r, [] as number[]]));
		const sent = new Map(rooms.map((r) => [r, 0]));
		const send = async (room_id: string, tag: string) => {
			const ack = await b.request("send_message", { room_id, text_message: tag }, tag);
			expect(ack.event).toBe("ack");
			sent.set(room_id, Math.max(sent.get(room_id) ?? 0, ack.data.seq));
		};
		/** Takes the room's messages up to `upTo`, each the next seq (a duplicate or a gap fails here); `wait` 0: already received. */
		const take = async (a: RoomSocket, room_id: string, upTo: number, wait: number) => {
			const got = seen.get(room_id) as number[];
			while ((got.at(-1) ?? 0) < upTo) {
				const seq = (await a.next(isMessage(room_id), wait)).data.seq;
				expect(seq, `room ${room_id} after ${got.at(-1) ?? 0}`).toBe((got.at(-1) ?? 0) + 1);
				got.push(seq);
			}
		};
		for (let cycle = 0; cycle < 50; cycle++) {
			const a = await open(alice.token);
			await Promise.all(
				rooms.map(async (room_id) => {
					// Bob sends right before and right after alice's join frame: each message lands in the
					// join's catch-up or goes live after it, as the timing falls.
					const before = send(room_id, `b${cycle}-${room_id}`);
					const joined = a.request("join_room", { room_id, last_seq: seen.get(room_id)?.at(-1) ?? 0 }, `j-${room_id}`);
					const during = send(room_id, `d${cycle}-${room_id}`);
					const ack = await joined;
					expect(ack.event).toBe("ack");
					// Everything up to the ack's last_seq came before the ack.
					await take(a, room_id, ack.data.last_seq, 0);
					await Promise.all([before, during]);
					await take(a, room_id, sent.get(room_id) as number, 10_000);
				}),
			);
			// A moment for anything sent twice to show up before the socket goes.
			await expect(a.next((e) => e.event === "new_message", 100)).rejects.toThrow(/no matching event/);
			await a.close();
			// Traffic while alice is away: one message per room.
			for (const room_id of rooms) await send(room_id, `a${cycle}-${room_id}`);
		}
		// Three messages per room and cycle; the last cycle's away messages were sent after the last socket closed.
		for (const room_id of rooms) expect(seen.get(room_id)).toEqual(Array.from({ length: 3 * 50 - 1 }, (_, i) => i + 1));
	}, 180_000);

	it("leave_room stops live delivery of that room on the socket (a member gets inbox_update instead); the other joined room goes on", async () => {
		const { alice, bob, rooms } = await setup(2);
		const [left, kept] = rooms as [string, string];
		const a = await open(alice.token);
		for (const room_id of rooms) expect((await a.request("join_room", { room_id }, `j-${room_id}`)).event).toBe("ack");
		const b = await open(bob.token);
		const first = (await b.request("send_message", { room_id: left, text_message: "before" }, 1)).data;
		expect(await a.next(isMessage(left))).toEqual({ event: "new_message", data: first });
		expect(await a.request("leave_room", { room_id: left }, "leave")).toEqual({ event: "ack", id: "leave", data: { room_id: left } });
		const after = (await b.request("send_message", { room_id: left, text_message: "after" }, 2)).data;
		const still = (await b.request("send_message", { room_id: kept, text_message: "still joined" }, 3)).data;
		expect(await a.next(isMessage(kept))).toEqual({ event: "new_message", data: still });
		// The room list's news instead (debounced by INBOX_DEBOUNCE_MS), as for any member room not joined.
		expect(await a.next((e) => e.event === "inbox_update" && e.data.room_id === left)).toEqual({
			event: "inbox_update",
			data: { room_id: left, last_seq: 2, unread: 2, message: after },
		});
		await expect(a.next(isMessage(left), 500)).rejects.toThrow(/no matching event/);
		// Joining again resumes from last_seq: the message it did not get live comes before the ack.
		expect(await a.request("join_room", { room_id: left, last_seq: 1 }, "again")).toEqual({
			event: "ack",
			id: "again",
			data: { room_id: left, last_seq: 2, online: [alice.id] },
		});
		expect(await a.next(isMessage(left), 0)).toEqual({ event: "new_message", data: after });
	});

	it("joins at most MAX_ROOMS_PER_SOCKET rooms (3 here): the next gets too_many_rooms, and the socket stays open and works", async () => {
		const { alice, bob, rooms } = await setup(4);
		const [r0, r1, r2, r3] = rooms as [string, string, string, string];
		const a = await open(alice.token);
		for (const room_id of [r0, r1, r2]) expect((await a.request("join_room", { room_id }, `j-${room_id}`)).event).toBe("ack");
		expect(await a.request("join_room", { room_id: r3 }, "fourth")).toEqual({
			event: "error",
			id: "fourth",
			data: { code: "too_many_rooms", message: "A socket may join at most 3 rooms" },
		});
		// Joining a room it already follows takes no new place.
		expect((await a.request("join_room", { room_id: r0 }, "again")).event).toBe("ack");
		expect(a.ws.readyState).toBe(WebSocket.OPEN);
		// It still sends, to the room it could not join too, and still hears its joined rooms.
		expect((await a.request("send_message", { room_id: r3, text_message: "over the cap" }, "s")).data).toMatchObject({
			room_id: r3,
			seq: 1,
			user_id: alice.id,
		});
		const b = await open(bob.token);
		const live = (await b.request("send_message", { room_id: r2, text_message: "live" }, 1)).data;
		expect(await a.next(isMessage(r2))).toEqual({ event: "new_message", data: live });
		// A leave frees a place.
		expect((await a.request("leave_room", { room_id: r0 }, "leave")).event).toBe("ack");
		expect(await a.request("join_room", { room_id: r3, last_seq: 0 }, "now")).toEqual({
			event: "ack",
			id: "now",
			data: { room_id: r3, last_seq: 1, online: [alice.id] },
		});
		expect((await a.next(isMessage(r3), 0)).data.text_message).toBe("over the cap");
	});

	it("sends inbox_update for a member room not joined; mark_read on one socket clears the badge on the second; REST agrees", async () => {
		const { alice, bob, rooms } = await setup(1);
		const room_id = rooms[0] as string;
		const tab1 = await open(alice.token);
		const tab2 = await open(alice.token);
		await tab1.next((e) => e.event === "ready");
		await tab2.next((e) => e.event === "ready");
		const b = await open(bob.token);
		await b.request("send_message", { room_id, text_message: "ping" }, 1);
		await b.request("send_message", { room_id, text_message: "pong" }, 2);
		// Debounced per flush: the last update always says the final state.
		const last = async (s: RoomSocket) => {
			let update = await s.next((e) => e.event === "inbox_update");
			while (update.data.last_seq < 2) update = await s.next((e) => e.event === "inbox_update");
			return update;
		};
		for (const tab of [tab1, tab2]) {
			expect(await last(tab)).toEqual({
				event: "inbox_update",
				data: {
					room_id,
					last_seq: 2,
					unread: 2,
					message: expect.objectContaining({ room_id, seq: 2, text_message: "pong", user_id: bob.id }),
				},
			});
		}
		expect((await api.call("GET", `/user/${alice.id}/unread`, { Authorization: `Bearer ${alice.token}` })).json).toEqual({
			unread_total: 2,
			rooms: [{ room_id, last_seq: 2, last_read_seq: 0, unread: 2 }],
		});
		expect(await tab1.request("mark_read", { room_id, seq: 2 }, "read")).toEqual({
			event: "ack",
			id: "read",
			data: { room_id, last_read_seq: 2, unread: 0 },
		});
		expect(await tab2.next((e) => e.event === "read")).toEqual({ event: "read", data: { room_id, last_read_seq: 2, unread: 0 } });
		expect((await api.call("GET", `/user/${alice.id}/unread`, { Authorization: `Bearer ${alice.token}` })).json).toEqual({
			unread_total: 0,
			rooms: [],
		});
		// A REST read reaches every socket of the user.
		await b.request("send_message", { room_id, text_message: "again" }, 3);
		await tab2.next((e) => e.event === "inbox_update" && e.data.last_seq === 3);
		expect((await api.call("POST", `/room/${room_id}/read`, { Authorization: `Bearer ${alice.token}` }, { seq: 3 })).json).toEqual({
			room_id,
			last_read_seq: 3,
			unread: 0,
		});
		for (const tab of [tab1, tab2]) {
			expect(await tab.next((e) => e.event === "read" && e.data.last_read_seq === 3)).toEqual({
				event: "read",
				data: { room_id, last_read_seq: 3, unread: 0 },
			});
		}
		const reconnect = await open(alice.token);
		expect((await reconnect.next((e) => e.event === "ready")).data).toEqual({
			user_id: alice.id,
			rooms: [{ room_id, last_seq: 3, last_read_seq: 3, unread: 0, online: [] }],
			unread_total: 0,
		});
	});

	it("refuses a non-member's join of a private room per frame; a removed member gets room_removed and nothing more", async () => {
		const { t, alice, bob, rooms } = await setup(1, { private: true });
		const room_id = rooms[0] as string;
		const carol = await api.call("POST", "/user", { clientKey: t.key }, { name: "carol" });
		const carolJwt = (await api.call("POST", `/auth/${carol.json.id}`, { clientKey: t.key })).json.token as string;
		const c = await open(carolJwt);
		expect(await c.request("join_room", { room_id }, 1)).toEqual({
			event: "error",
			id: 1,
			data: { code: "forbidden", message: "This room is private and you are not a member" },
		});
		expect(await c.request("send_message", { room_id, text_message: "let me in" }, 2)).toEqual({
			event: "error",
			id: 2,
			data: { code: "forbidden", message: "This room is private and you are not a member" },
		});
		// Another client's room id is simply not found.
		const other = await api.tenant(server.adminToken);
		const foreign = await open(other.users[0]?.token as string);
		expect((await foreign.request("join_room", { room_id }, 3)).data.code).toBe("not_found");
		// The socket stays open.
		expect(c.ws.readyState).toBe(1);

		const a = await open(alice.token);
		expect((await a.request("join_room", { room_id }, "j")).event).toBe("ack");
		const b = await open(bob.token);
		await b.request("send_message", { room_id, text_message: "before" }, 1);
		expect((await a.next(isMessage(room_id))).data.text_message).toBe("before");
		expect((await api.call("DELETE", `/room/${room_id}/members/${alice.id}`, { clientKey: t.key })).status).toBe(204);
		expect(await a.next((e) => e.event === "room_removed")).toEqual({ event: "room_removed", data: { room_id } });
		await b.request("send_message", { room_id, text_message: "after" }, 2);
		expect(await a.request("join_room", { room_id }, "again")).toEqual({
			event: "error",
			id: "again",
			data: { code: "forbidden", message: "This room is private and you are not a member" },
		});
		await expect(a.next(isMessage(room_id), 500)).rejects.toThrow(/no matching event/);
	});

	it("answers bad frames as the room socket does and refuses a handshake without credentials (401)", async () => {
		const { alice } = await setup(0);
		const a = await open(alice.token);
		a.ws.send("not json");
		expect((await a.next((e) => e.event === "error")).data.code).toBe("invalid_json");
		a.ws.send(JSON.stringify({ event: "dance", data: {}, id: 1 }));
		expect(await a.next((e) => e.event === "error")).toEqual({
			event: "error",
			id: 1,
			data: {
				code: "unknown_event",
				message:
					'Unknown event "dance"; expected join_room, send_message, leave_room, edit_message, delete_message, add_reaction, remove_reaction, typing or mark_read',
			},
		});
		a.ws.send(JSON.stringify({ event: "mark_read", data: { room_id: "nope", seq: 1 }, id: 2 }));
		expect((await a.next((e) => e.event === "error")).data.code).toBe("validation_failed");
		a.ws.send(Buffer.from([1, 2, 3]));
		expect((await a.next((e) => e.event === "error")).data.code).toBe("binary_not_supported");
		expect(a.ws.readyState).toBe(1);
		await expect(openUserSocket(server.base, null)).rejects.toMatchObject({ status: 401 });
		await expect(openUserSocket(server.base, "not-a-jwt")).rejects.toMatchObject({ status: 401 });
	});

	it("takes the room socket's other credentials over TCP (?token=, Authorization, clientKey) and refuses a foreign Origin (403) and a plain GET (426)", async () => {
		const { t, alice } = await setup(0);
		const url = `${server.base.replace(/^http/, "ws")}/ws`;
		/** The first frame of a socket, or the refused handshake's status and body. */
		const firstFrame = (ws: WebSocket) =>
			new Promise<ServerEvent | { status: number; body: unknown }>((resolve, reject) => {
				ws.once("message", (data) => resolve(JSON.parse(data.toString().split("\n")[0] as string)));
				ws.once("unexpected-response", (_req, res) => {
					let body = "";
					res.on("data", (chunk) => (body += chunk));
					res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }));
				});
				ws.once("error", reject);
			});
		const ways: Array<[string, WebSocket.ClientOptions]> = [
			[`${url}?token=${alice.token}`, {}],
			[url, { headers: { Authorization: `Bearer ${alice.token}` } }],
			[url, { headers: { clientKey: `${t.key}.${alice.id}` } }],
			// An allowed Origin passes.
			[url, { headers: { Authorization: `Bearer ${alice.token}` }, origin: "https://app.example" }],
		];
		for (const [address, options] of ways) {
			const ws = new WebSocket(address, options);
			expect(await firstFrame(ws)).toEqual({ event: "ready", data: { user_id: alice.id, rooms: [], unread_total: 0 } });
			expect(ws.protocol).toBe("");
			ws.close();
		}
		const foreign = new WebSocket(url, ["roomkit.v1", alice.token], { origin: "https://evil.example" });
		expect(await firstFrame(foreign)).toEqual({
			status: 403,
			body: { error: { code: "forbidden", message: "Origin https://evil.example may not open sockets here" } },
		});
		foreign.terminate();
		const plain = await api.call("GET", "/ws", { Authorization: `Bearer ${alice.token}` });
		expect(plain).toEqual({
			status: 426,
			json: { error: { code: "validation_failed", message: "This endpoint needs `Upgrade: websocket`" } },
		});
	});
});
