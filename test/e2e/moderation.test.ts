// Moderation over real TCP on the three runtimes: roles, room bans and mutes (with expiry), slow
// mode, deletes by moderators and client-wide bans, each over REST, the room socket and the user socket.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api } from "./api-client";
import { RUNTIMES, type RunningServer } from "./harness";
import { openRoomSocket, openUserSocket, type RoomSocket } from "./ws-client";

/** Resolves with the close code the server sent. */
const closeCode = (s: RoomSocket) =>
	new Promise<number>((resolve) => {
		if (s.ws.readyState === s.ws.CLOSED) return resolve(-1);
		s.ws.once("close", (code) => resolve(code));
	});

/** The HTTP status a refused upgrade got. */
const refused = (open: Promise<RoomSocket>) =>
	open.then(
		(s) => {
			void s.close();
			return 101;
		},
		(e: { status?: number }) => e.status,
	);

const soon = (ms: number) => new Date(Date.now() + ms).toISOString();

describe.each(RUNTIMES)("moderation on $runtime", ({ start }) => {
	let server: RunningServer;
	let api: Api;
	const sockets: RoomSocket[] = [];
	const track = (s: RoomSocket) => {
		sockets.push(s);
		return s;
	};

	beforeAll(async () => {
		server = await start({ vars: { WS_RATE_PER_SECOND: "1000", WS_RATE_BURST: "1000" } });
		api = new Api(server.base);
	});
	afterAll(async () => {
		await Promise.all(sockets.map((s) => s.close()));
		await server?.stop();
	});

	/** A client with an owner (alice, who creates the room), a moderator (carol) and a member (bob). */
	const setup = async (options: { private?: boolean } = {}) => {
		const t = await api.tenant(server.adminToken);
		const [alice, bob] = t.users as [{ id: string; token: string }, { id: string; token: string }];
		const created = await api.call("POST", "/user", { clientKey: t.key }, { name: "carol" });
		const carolToken = await api.call("POST", `/auth/${created.json.id}`, { clientKey: t.key });
		const carol = { id: created.json.id as string, token: carolToken.json.token as string };
		const room = await api.call(
			"POST",
			"/room",
			{ Authorization: `Bearer ${alice.token}` },
			{ private: options.private ?? false, members: [bob.id, carol.id] },
		);
		const roomId = room.json.id as string;
		const role = await api.call("PATCH", `/room/${roomId}/members/${carol.id}`, { clientKey: t.key }, { role: "moderator" });
		expect(role).toEqual({ status: 200, json: { user_id: carol.id, role: "moderator", joined_at: expect.any(String) } });
		const as = (u: { token: string }) => ({ Authorization: `Bearer ${u.token}` });
		return { t, alice, bob, carol, roomId, as, backend: { clientKey: t.key } };
	};

	it("roles: the creator owns the room, the backend sets roles, member lists show them; users and other clients may not", async () => {
		const { t, alice, bob, carol, roomId, as, backend } = await setup();
		const members = await api.call("GET", `/room/${roomId}/members`, as(bob));
		expect(members.status).toBe(200);
		expect(Object.fromEntries(members.json.members.map((m: { user_id: string; role: string }) => [m.user_id, m.role]))).toEqual({
			[alice.id]: "owner",
			[bob.id]: "member",
			[carol.id]: "moderator",
		});
		expect((await api.call("PATCH", `/room/${roomId}/members/${bob.id}`, as(alice), { role: "moderator" })).status).toBe(403);
		expect(await api.call("PATCH", `/room/${roomId}/members/${bob.id}`, backend, { role: "admin" })).toMatchObject({
			status: 400,
			json: { error: { code: "validation_failed" } },
		});
		const stranger = (await api.call("POST", "/user", backend, {})).json.id;
		expect((await api.call("PATCH", `/room/${roomId}/members/${stranger}`, backend, { role: "moderator" })).status).toBe(404);
		// Another client sees nothing of this room: 404 for every moderation route.
		const other = await api.tenant(server.adminToken);
		const otherKey = { clientKey: other.key };
		for (const [method, path, body] of [
			["PATCH", `/room/${roomId}/members/${bob.id}`, { role: "moderator" }],
			["PATCH", `/room/${roomId}`, { cooldown_seconds: 5 }],
			["POST", `/room/${roomId}/bans`, { user_id: bob.id }],
			["GET", `/room/${roomId}/bans`, undefined],
			["DELETE", `/room/${roomId}/bans/${bob.id}`, undefined],
			["POST", `/room/${roomId}/mutes`, { user_id: bob.id }],
			["GET", `/room/${roomId}/mutes`, undefined],
			["DELETE", `/room/${roomId}/mutes/${bob.id}`, undefined],
			["POST", `/user/${bob.id}/ban`, {}],
		] as const) {
			expect([method, path, (await api.call(method, path, otherKey, body)).status]).toEqual([method, path, 404]);
		}
		expect(t.clientId).not.toBe(other.clientId);
	});

	it("a room ban cuts the user's sockets at once, refuses joins, reads and sends everywhere, and lifts again", async () => {
		const { alice, bob, carol, roomId, as, backend } = await setup();
		const roomSocket = track(await openRoomSocket(server.base, roomId, bob.token));
		await roomSocket.request("join_room", { room_id: roomId }, "j");
		const userSocket = track(await openUserSocket(server.base, bob.token));
		expect((await userSocket.request("join_room", { room_id: roomId }, "j")).event).toBe("ack");
		const roomClosed = closeCode(roomSocket);

		// Who may ban whom: members nobody, moderators members only, owners not owners.
		expect(await api.call("POST", `/room/${roomId}/bans`, as(bob), { user_id: carol.id })).toMatchObject({
			status: 403,
			json: { error: { code: "forbidden" } },
		});
		expect((await api.call("POST", `/room/${roomId}/bans`, as(carol), { user_id: alice.id })).status).toBe(403);
		expect((await api.call("POST", `/room/${roomId}/bans`, as(alice), { user_id: alice.id })).status).toBe(403);
		expect((await api.call("GET", `/room/${roomId}/bans`, as(bob))).status).toBe(403);
		expect(
			(
				await api.call("POST", `/room/${roomId}/bans`, as(carol), {
					user_id: bob.id,
					expires_at: new Date(Date.now() - 1000).toISOString(),
				})
			).json.error.fields,
		).toEqual([{ path: "expires_at", message: "must be in the future" }]);

		const ban = await api.call("POST", `/room/${roomId}/bans`, as(carol), { user_id: bob.id, reason: "spam" });
		expect(ban).toEqual({
			status: 201,
			json: { room_id: roomId, user_id: bob.id, reason: "spam", expires_at: null, created_by: carol.id, created_at: expect.any(String) },
		});
		expect(await roomClosed).toBe(4003);
		expect(await userSocket.next((e) => e.event === "room_removed")).toEqual({ event: "room_removed", data: { room_id: roomId } });
		expect(await userSocket.request("join_room", { room_id: roomId }, "j2")).toEqual({
			event: "error",
			id: "j2",
			data: { code: "banned", message: "You are banned from this room" },
		});
		expect((await userSocket.request("send_message", { room_id: roomId, text_message: "hi" }, "s")).data.code).toBe("banned");
		const bannedBody = { error: { code: "banned", message: "You are banned from this room" } };
		expect(await api.call("POST", `/room/${roomId}/message/send`, as(bob), { text_message: "hi" })).toEqual({
			status: 403,
			json: bannedBody,
		});
		expect(await api.call("GET", `/room/${roomId}/messages`, as(bob))).toEqual({ status: 403, json: bannedBody });
		expect(await api.call("POST", `/room/${roomId}/join`, as(bob))).toEqual({ status: 403, json: bannedBody });
		expect((await api.call("POST", `/room/${roomId}/members`, backend, { user_id: bob.id })).status).toBe(403);
		expect(await refused(openRoomSocket(server.base, roomId, bob.token))).toBe(403);
		// The ban ended the membership; the room is gone from bob's room list.
		const members = (await api.call("GET", `/room/${roomId}/members`, backend)).json.members.map((m: { user_id: string }) => m.user_id);
		expect(members).not.toContain(bob.id);
		expect((await api.call("GET", `/user/${bob.id}/rooms`, as(bob))).json.rooms).toEqual([]);
		expect((await api.call("GET", `/room/${roomId}/bans`, as(carol))).json).toEqual({ bans: [ban.json], next_cursor: null });

		expect((await api.call("DELETE", `/room/${roomId}/bans/${bob.id}`, as(carol))).status).toBe(204);
		expect((await api.call("DELETE", `/room/${roomId}/bans/${bob.id}`, as(carol))).status).toBe(404);
		expect((await api.call("GET", `/room/${roomId}/bans`, backend)).json).toEqual({ bans: [], next_cursor: null });
		expect((await api.call("POST", `/room/${roomId}/join`, as(bob))).status).toBe(200);
		expect((await userSocket.request("join_room", { room_id: roomId }, "j3")).event).toBe("ack");
		expect((await api.call("POST", `/room/${roomId}/message/send`, as(bob), { text_message: "back" })).status).toBe(201);
	});

	it("a ban with expires_at ends by itself; a moderator may not ban another moderator, the owner may", async () => {
		const { alice, bob, carol, roomId, as } = await setup({ private: true });
		const roomSocket = track(await openRoomSocket(server.base, roomId, bob.token));
		await roomSocket.request("join_room", { room_id: roomId }, "j");
		const closed = closeCode(roomSocket);
		expect((await api.call("POST", `/room/${roomId}/bans`, as(alice), { user_id: bob.id, expires_at: soon(1500) })).status).toBe(201);
		expect(await closed).toBe(4003);
		expect((await api.call("GET", `/room/${roomId}/messages`, as(bob))).status).toBe(403);
		// Once over, a public room could be joined again; this private one needs the backend to add bob back.
		await expect.poll(async () => (await api.call("GET", `/room/${roomId}/messages`, as(bob))).json.error.code).toBe("forbidden");
		expect(await refused(openRoomSocket(server.base, roomId, bob.token))).toBe(403);
		expect((await api.call("GET", `/room/${roomId}/bans`, as(alice))).json.bans).toEqual([]);

		expect((await api.call("POST", `/room/${roomId}/bans`, as(carol), { user_id: carol.id })).status).toBe(403);
		expect((await api.call("POST", `/room/${roomId}/bans`, as(alice), { user_id: carol.id, expires_at: soon(60_000) })).status).toBe(201);
		expect((await api.call("GET", `/room/${roomId}/messages`, as(carol))).json.error.code).toBe("banned");
	});

	it("a room ban with expires_at ends by itself on the user socket: join_room is refused with banned, then accepted", async () => {
		const { bob, carol, roomId, as } = await setup();
		const userSocket = track(await openUserSocket(server.base, bob.token));
		expect((await userSocket.request("join_room", { room_id: roomId }, "j")).event).toBe("ack");
		expect((await api.call("POST", `/room/${roomId}/bans`, as(carol), { user_id: bob.id, expires_at: soon(1500) })).status).toBe(201);
		expect(await userSocket.next((e) => e.event === "room_removed")).toEqual({ event: "room_removed", data: { room_id: roomId } });
		expect(await userSocket.request("join_room", { room_id: roomId }, "b")).toEqual({
			event: "error",
			id: "b",
			data: { code: "banned", message: "You are banned from this room" },
		});
		// The same socket, once the ban is over: a public room, so bob may join it again without being added.
		let attempt = 0;
		await expect.poll(async () => (await userSocket.request("join_room", { room_id: roomId }, `p${attempt++}`)).event).toBe("ack");
		expect((await userSocket.request("send_message", { room_id: roomId, text_message: "back" }, "s")).event).toBe("ack");
	});

	it("a mute refuses sends and edits over REST and both sockets (which stay open), not reads; it ends at expires_at", async () => {
		const { bob, carol, roomId, as, backend } = await setup();
		const sent = (await api.call("POST", `/room/${roomId}/message/send`, as(bob), { text_message: "before" })).json;
		const roomSocket = track(await openRoomSocket(server.base, roomId, bob.token));
		await roomSocket.request("join_room", { room_id: roomId }, "j");
		const userSocket = track(await openUserSocket(server.base, bob.token));
		await userSocket.request("join_room", { room_id: roomId }, "j");

		const mute = await api.call("POST", `/room/${roomId}/mutes`, as(carol), { user_id: bob.id, expires_at: soon(2000) });
		expect(mute).toMatchObject({ status: 201, json: { room_id: roomId, user_id: bob.id, reason: null, created_by: carol.id } });
		const mutedBody = { error: { code: "muted", message: "You are muted in this room" } };
		expect(await api.call("POST", `/room/${roomId}/message/send`, as(bob), { text_message: "x" })).toEqual({
			status: 403,
			json: mutedBody,
		});
		expect(await api.call("PATCH", `/room/${roomId}/messages/${sent.id}`, as(bob), { text_message: "y" })).toEqual({
			status: 403,
			json: mutedBody,
		});
		const frameError = (id: string) => ({ event: "error", id, data: { code: "muted", message: "You are muted in this room" } });
		expect(await roomSocket.request("send_message", { room_id: roomId, text_message: "x" }, "r1")).toEqual(frameError("r1"));
		expect(await userSocket.request("send_message", { room_id: roomId, text_message: "x" }, "u1")).toEqual(frameError("u1"));
		// Still open and still reading.
		expect((await roomSocket.request("join_room", { room_id: roomId }, "r2")).event).toBe("ack");
		expect((await api.call("GET", `/room/${roomId}/messages`, as(bob))).json.messages.map((m: { id: string }) => m.id)).toEqual([sent.id]);
		expect((await api.call("GET", `/room/${roomId}/mutes`, backend)).json).toEqual({ mutes: [mute.json], next_cursor: null });

		await expect
			.poll(async () => (await api.call("POST", `/room/${roomId}/message/send`, as(bob), { text_message: "after" })).status)
			.toBe(201);
		expect((await roomSocket.request("send_message", { room_id: roomId, text_message: "room" }, "r3")).event).toBe("ack");
		expect((await userSocket.request("send_message", { room_id: roomId, text_message: "user" }, "u3")).event).toBe("ack");
		expect((await api.call("GET", `/room/${roomId}/mutes`, backend)).json.mutes).toEqual([]);

		expect((await api.call("POST", `/room/${roomId}/mutes`, backend, { user_id: bob.id })).status).toBe(201);
		expect((await roomSocket.request("send_message", { room_id: roomId, text_message: "x" }, "r4")).data.code).toBe("muted");
		expect((await api.call("DELETE", `/room/${roomId}/mutes/${bob.id}`, backend)).status).toBe(204);
		expect((await roomSocket.request("send_message", { room_id: roomId, text_message: "free" }, "r5")).event).toBe("ack");
	});

	it("slow mode: members wait cooldown_seconds between messages on every path (429 with Retry-After), owners and moderators do not", async () => {
		const { alice, bob, carol, roomId, as, backend } = await setup();
		expect((await api.call("PATCH", `/room/${roomId}`, as(alice), { cooldown_seconds: 2 })).status).toBe(403);
		expect((await api.call("PATCH", `/room/${roomId}`, backend, { cooldown_seconds: 3601 })).status).toBe(400);
		const patched = await api.call("PATCH", `/room/${roomId}`, backend, { cooldown_seconds: 2 });
		expect(patched).toEqual({
			status: 200,
			json: { id: roomId, name: null, private: false, cooldown_seconds: 2, created_at: expect.any(String) },
		});
		expect((await api.call("GET", `/room/${roomId}`, as(bob))).json.cooldown_seconds).toBe(2);

		const first = await api.call("POST", `/room/${roomId}/message/send`, as(bob), { text_message: "one", client_msg_id: "c1" });
		expect(first.status).toBe(201);
		const res = await fetch(`${server.base}/room/${roomId}/message/send`, {
			method: "POST",
			headers: { "content-type": "application/json", ...as(bob) },
			body: JSON.stringify({ text_message: "two" }),
		});
		const body = (await res.json()) as { error: { code: string; message: string; retry_after_ms: number } };
		expect(res.status).toBe(429);
		expect(body.error).toEqual({
			code: "rate_limited",
			message: "Slow mode: wait before sending again",
			retry_after_ms: expect.any(Number),
		});
		expect(body.error.retry_after_ms).toBeGreaterThan(0);
		expect(body.error.retry_after_ms).toBeLessThanOrEqual(2000);
		expect(res.headers.get("Retry-After")).toMatch(/^[12]$/);
		// A retry of the stored message is answered, not refused.
		expect((await api.call("POST", `/room/${roomId}/message/send`, as(bob), { text_message: "one", client_msg_id: "c1" })).status).toBe(
			200,
		);

		const roomSocket = track(await openRoomSocket(server.base, roomId, bob.token));
		const userSocket = track(await openUserSocket(server.base, bob.token));
		for (const [socket, id] of [
			[roomSocket, "r"],
			[userSocket, "u"],
		] as const) {
			const error = await socket.request("send_message", { room_id: roomId, text_message: "fast" }, id);
			expect(error).toEqual({
				event: "error",
				id,
				data: { code: "rate_limited", message: "Slow mode: wait before sending again", retry_after_ms: expect.any(Number) },
			});
		}
		for (const owner of [alice, carol]) {
			for (const text of ["a", "b"]) {
				expect((await api.call("POST", `/room/${roomId}/message/send`, as(owner), { text_message: text })).status).toBe(201);
			}
			// And over both sockets: two sends in a row, both stored.
			const sockets = [
				track(await openRoomSocket(server.base, roomId, owner.token)),
				track(await openUserSocket(server.base, owner.token)),
			];
			for (const [i, socket] of sockets.entries()) {
				for (const text of ["c", "d"]) {
					const ack = await socket.request("send_message", { room_id: roomId, text_message: text }, `${i}${text}`);
					expect([ack.event, ack.data.user_id, ack.data.text_message]).toEqual(["ack", owner.id, text]);
				}
			}
		}
		await expect
			.poll(async () => (await userSocket.request("send_message", { room_id: roomId, text_message: "later" }, "w")).event)
			.toBe("ack");
		expect((await roomSocket.request("send_message", { room_id: roomId, text_message: "again" }, "r2")).data.code).toBe("rate_limited");
		expect((await api.call("PATCH", `/room/${roomId}`, backend, { cooldown_seconds: 0 })).json.cooldown_seconds).toBe(0);
		expect((await roomSocket.request("send_message", { room_id: roomId, text_message: "off" }, "r3")).event).toBe("ack");
	});

	it("slow mode: the backend sending for a member (clientKey: <api_token>.<user_id>) is exempt; the member's own JWT is not", async () => {
		const { t, bob, roomId, as, backend } = await setup();
		expect((await api.call("PATCH", `/room/${roomId}`, backend, { cooldown_seconds: 30 })).status).toBe(200);
		expect((await api.call("POST", `/room/${roomId}/message/send`, as(bob), { text_message: "own" })).status).toBe(201);
		const slow = await api.call("POST", `/room/${roomId}/message/send`, as(bob), { text_message: "own again" });
		expect(slow).toMatchObject({
			status: 429,
			json: { error: { code: "rate_limited", message: "Slow mode: wait before sending again", retry_after_ms: expect.any(Number) } },
		});
		expect(slow.json.error.retry_after_ms).toBeGreaterThan(25_000);
		expect(slow.json.error.retry_after_ms).toBeLessThanOrEqual(30_000);
		const forBob = { clientKey: `${t.key}.${bob.id}` };
		for (const text of ["for bob", "for bob again"]) {
			const sent = await api.call("POST", `/room/${roomId}/message/send`, forBob, { text_message: text });
			expect([sent.status, sent.json.user_id, sent.json.text_message]).toEqual([201, bob.id, text]);
		}
		// Bob's own JWT still waits, now from the last message sent for him.
		expect((await api.call("POST", `/room/${roomId}/message/send`, as(bob), { text_message: "own" })).status).toBe(429);
	});

	it("owners and moderators delete others' messages over REST and both sockets; members may not", async () => {
		const { alice, bob, carol, roomId, as } = await setup();
		const send = async (text: string) => (await api.call("POST", `/room/${roomId}/message/send`, as(bob), { text_message: text })).json;
		const [m1, m2, m3] = [await send("one"), await send("two"), await send("three")];
		const mine = (await api.call("POST", `/room/${roomId}/message/send`, as(alice), { text_message: "owner's" })).json;
		expect(await api.call("DELETE", `/room/${roomId}/messages/${mine.id}`, as(bob))).toEqual({
			status: 403,
			json: { error: { code: "forbidden", message: "Only the author may change this message" } },
		});
		expect(await api.call("DELETE", `/room/${roomId}/messages/${m1.id}`, as(carol))).toEqual({
			status: 200,
			json: { room_id: roomId, message_id: m1.id, seq: 5 },
		});
		const roomSocket = track(await openRoomSocket(server.base, roomId, alice.token));
		expect(await roomSocket.request("delete_message", { room_id: roomId, message_id: m2.id }, "d")).toEqual({
			event: "ack",
			id: "d",
			data: { room_id: roomId, message_id: m2.id, seq: 6 },
		});
		const userSocket = track(await openUserSocket(server.base, carol.token));
		expect(await userSocket.request("delete_message", { room_id: roomId, message_id: m3.id }, "d")).toEqual({
			event: "ack",
			id: "d",
			data: { room_id: roomId, message_id: m3.id, seq: 7 },
		});
		const bobSocket = track(await openUserSocket(server.base, bob.token));
		expect((await bobSocket.request("delete_message", { room_id: roomId, message_id: mine.id }, "x")).data.code).toBe("forbidden");
	});

	it("a client-wide ban also closes a room socket the user holds in a public room they are not a member of, again after a lift", async () => {
		const { roomId, backend } = await setup();
		const created = await api.call("POST", "/user", backend, { name: "dave" });
		const dave = {
			id: created.json.id as string,
			token: (await api.call("POST", `/auth/${created.json.id}`, backend)).json.token as string,
		};
		const visitor = track(await openRoomSocket(server.base, roomId, dave.token));
		await visitor.request("join_room", { room_id: roomId }, "j");
		const closed = closeCode(visitor);
		expect((await api.call("POST", `/user/${dave.id}/ban`, backend, {})).status).toBe(201);
		expect(await closed).toBe(4003);
		expect(await refused(openRoomSocket(server.base, roomId, dave.token))).toBe(403);
		// The ban's closing forgot that visit; the next one, after the ban is lifted, is recorded again and found by a second ban.
		expect((await api.call("DELETE", `/user/${dave.id}/ban`, backend)).status).toBe(204);
		const again = track(await openRoomSocket(server.base, roomId, dave.token));
		await again.request("join_room", { room_id: roomId }, "j");
		const closedAgain = closeCode(again);
		expect((await api.call("POST", `/user/${dave.id}/ban`, backend, {})).status).toBe(201);
		expect(await closedAgain).toBe(4003);
	});

	it("a client-wide ban refuses the user's JWTs and clientKey calls (403 banned), closes their sockets, and ends by itself or when lifted", async () => {
		const { bob, roomId, as, backend, t } = await setup();
		const roomSocket = track(await openRoomSocket(server.base, roomId, bob.token));
		await roomSocket.request("join_room", { room_id: roomId }, "j");
		const userSocket = track(await openUserSocket(server.base, bob.token));
		await userSocket.request("join_room", { room_id: roomId }, "j");
		const closed = [closeCode(roomSocket), closeCode(userSocket)];
		expect((await api.call("POST", `/user/${bob.id}/ban`, as(bob), {})).status).toBe(403);
		const ban = await api.call("POST", `/user/${bob.id}/ban`, backend, { reason: "abuse" });
		expect(ban).toEqual({ status: 201, json: { user_id: bob.id, reason: "abuse", expires_at: null, created_at: expect.any(String) } });
		expect(await Promise.all(closed)).toEqual([4003, 4003]);
		const bannedBody = { status: 403, json: { error: { code: "banned", message: "This user is banned" } } };
		expect(await api.call("GET", `/user/${bob.id}/rooms`, as(bob))).toEqual(bannedBody);
		expect(await api.call("GET", `/room/${roomId}/messages`, { clientKey: `${t.key}.${bob.id}` })).toEqual(bannedBody);
		expect(await refused(openUserSocket(server.base, bob.token))).toBe(403);
		expect(await refused(openRoomSocket(server.base, roomId, bob.token))).toBe(403);
		// The backend still sees the user.
		expect((await api.call("GET", `/user/${bob.id}`, backend)).status).toBe(200);

		expect((await api.call("DELETE", `/user/${bob.id}/ban`, backend)).status).toBe(204);
		expect((await api.call("DELETE", `/user/${bob.id}/ban`, backend)).status).toBe(404);
		expect((await api.call("GET", `/user/${bob.id}/rooms`, as(bob))).status).toBe(200);
		const back = track(await openUserSocket(server.base, bob.token));
		expect((await back.next((e) => e.event === "ready")).data.user_id).toBe(bob.id);
		expect((await back.request("join_room", { room_id: roomId }, "j")).event).toBe("ack");

		const backClosed = closeCode(back);
		expect((await api.call("POST", `/user/${bob.id}/ban`, backend, { expires_at: soon(1500) })).status).toBe(201);
		expect(await backClosed).toBe(4003);
		expect((await api.call("GET", `/user/${bob.id}/rooms`, as(bob))).status).toBe(403);
		expect(await refused(openUserSocket(server.base, bob.token))).toBe(403);
		expect(await refused(openRoomSocket(server.base, roomId, bob.token))).toBe(403);
		// Once it is over, both handshakes are accepted again (nobody lifted it).
		await expect.poll(() => refused(openUserSocket(server.base, bob.token))).toBe(101);
		expect(await refused(openRoomSocket(server.base, roomId, bob.token))).toBe(101);
		expect((await api.call("GET", `/user/${bob.id}/rooms`, as(bob))).status).toBe(200);
	});
});
