// Presence over real TCP on the three runtimes: who is online in a room (a socket of either kind
// joined to it), in join acks, `presence` events, `ready` and REST; the grace period that keeps a
// reload quiet; and privacy (a non-reader of a private room hears and reads nothing).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api } from "./api-client";
import { RUNTIMES, type RunningServer } from "./harness";
import { onlineIds, openRoomSocket, openUserSocket, presenceEvent, type RoomSocket, type ServerEvent } from "./ws-client";

const GRACE_MS = 2_000;
const isPresence = (e: ServerEvent) => e.event === "presence";

describe.each(RUNTIMES)("presence on $runtime", ({ start }) => {
	let server: RunningServer;
	let api: Api;
	const sockets: RoomSocket[] = [];
	const track = (s: RoomSocket) => {
		sockets.push(s);
		return s;
	};

	beforeAll(async () => {
		server = await start({ vars: { PRESENCE_GRACE_MS: String(GRACE_MS) } });
		api = new Api(server.base);
	});
	afterAll(async () => {
		await Promise.all(sockets.map((s) => s.close()));
		await server?.stop();
	});

	const setup = async (isPrivate: boolean) => {
		const t = await api.tenant(server.adminToken);
		const [alice, bob] = t.users as [{ id: string; token: string }, { id: string; token: string }];
		const mallory = (await api.call("POST", "/user", { clientKey: t.key }, { name: "mallory" })).json.id as string;
		const malloryToken = (await api.call("POST", `/auth/${mallory}`, { clientKey: t.key })).json.token as string;
		const room = await api.call("POST", "/room", { clientKey: t.key }, { private: isPrivate, members: [alice.id, bob.id] });
		return { t, alice, bob, mallory: { id: mallory, token: malloryToken }, roomId: room.json.id as string };
	};
	const presenceOf = async (roomId: string, token: string) =>
		api.call("GET", `/room/${roomId}/presence`, { Authorization: `Bearer ${token}` });

	it("a second user's join reaches the first on either socket kind; a reload within the grace sends nothing; leaving sends offline after it", async () => {
		const { alice, bob, roomId } = await setup(false);
		// Alice on the user socket, bob on the room socket: one room, both kinds.
		const a = track(await openUserSocket(server.base, alice.token));
		expect(await a.request("join_room", { room_id: roomId }, "a")).toEqual({
			event: "ack",
			id: "a",
			data: { room_id: roomId, last_seq: 0, online: [alice.id] },
		});
		let b = track(await openRoomSocket(server.base, roomId, bob.token));
		expect(await b.request("join_room", { room_id: roomId }, "b")).toEqual({
			event: "ack",
			id: "b",
			data: { room_id: roomId, last_seq: 0, online: onlineIds(alice.id, bob.id) },
		});
		expect(await a.next(isPresence)).toEqual(presenceEvent(roomId, bob.id, true));

		// A page reload: bob's socket closes and a new one joins within the grace. Nobody hears of it.
		await b.close();
		b = track(await openRoomSocket(server.base, roomId, bob.token));
		expect((await b.request("join_room", { room_id: roomId }, "again")).data).toEqual({
			room_id: roomId,
			last_seq: 0,
			online: onlineIds(alice.id, bob.id),
		});
		// The same on the user socket: alice leaves the room and joins it again.
		expect((await a.request("leave_room", { room_id: roomId }, "out")).event).toBe("ack");
		expect((await a.request("join_room", { room_id: roomId }, "in")).data.online).toEqual(onlineIds(alice.id, bob.id));
		await Promise.all([
			expect(a.next(isPresence, GRACE_MS + 1_500)).rejects.toThrow("no matching event"),
			expect(b.next(isPresence, GRACE_MS + 1_500)).rejects.toThrow("no matching event"),
		]);

		// Bob goes for good: offline one grace period after his socket closed, with when it closed.
		const closedAt = Date.now();
		await b.close();
		const offline = await a.next(isPresence, GRACE_MS + 10_000);
		expect(offline).toEqual(presenceEvent(roomId, bob.id, false));
		expect(Date.now() - closedAt).toBeGreaterThanOrEqual(GRACE_MS - 200);
		expect(Math.abs(Date.parse(offline.data.last_active_at) - closedAt)).toBeLessThan(1_500);
		// REST agrees: bob's last activity is when his socket closed; alice is online ("now").
		const rest = await presenceOf(roomId, alice.token);
		expect(rest.status).toBe(200);
		expect(rest.json.presence).toEqual(
			[
				{ user_id: alice.id, online: true, last_active_at: expect.any(String) },
				{ user_id: bob.id, online: false, last_active_at: offline.data.last_active_at },
			].sort((x, y) => x.user_id.localeCompare(y.user_id)),
		);
		expect(
			Math.abs(Date.parse(rest.json.presence.find((p: { user_id: string }) => p.user_id === alice.id).last_active_at) - Date.now()),
		).toBeLessThan(5_000);
		// Alice's own sockets never hear about her; her leave ends her presence too.
		expect(await a.request("leave_room", { room_id: roomId }, "l")).toEqual({ event: "ack", id: "l", data: { room_id: roomId } });
	});

	it("ready lists who is online in each of the user's rooms, without asking the rooms", async () => {
		const { alice, bob, roomId } = await setup(false);
		const a = track(await openUserSocket(server.base, alice.token));
		await a.request("join_room", { room_id: roomId }, "a");
		const b = track(await openRoomSocket(server.base, roomId, bob.token));
		await b.request("join_room", { room_id: roomId }, "b");
		await a.next(isPresence);
		// Bob's own user socket: his room list says both are online (the room told his gateway).
		await expect
			.poll(async () => {
				const s = await openUserSocket(server.base, bob.token);
				const ready = await s.next((e) => e.event === "ready");
				await s.close();
				return ready.data.rooms;
			})
			.toEqual([{ room_id: roomId, last_seq: 0, last_read_seq: 0, unread: 0, online: onlineIds(alice.id, bob.id) }]);
	});

	it("a private room's presence is for its members: a non-member cannot join, hears nothing and cannot read it by REST", async () => {
		const { alice, bob, mallory, roomId } = await setup(true);
		const m = track(await openUserSocket(server.base, mallory.token));
		expect(await m.request("join_room", { room_id: roomId }, "m")).toEqual({
			event: "error",
			id: "m",
			data: { code: "forbidden", message: "This room is private and you are not a member" },
		});
		await expect(openRoomSocket(server.base, roomId, mallory.token)).rejects.toMatchObject({ status: 403 });
		const a = track(await openUserSocket(server.base, alice.token));
		await a.request("join_room", { room_id: roomId }, "a");
		const b = track(await openRoomSocket(server.base, roomId, bob.token));
		expect((await b.request("join_room", { room_id: roomId }, "b")).data.online).toEqual(onlineIds(alice.id, bob.id));
		expect(await a.next(isPresence)).toEqual(presenceEvent(roomId, bob.id, true));
		expect(await presenceOf(roomId, mallory.token)).toEqual({
			status: 403,
			json: { error: { code: "forbidden", message: "This room is private and you are not a member" } },
		});
		const members = await presenceOf(roomId, bob.token);
		expect(members.json.presence.map((p: { user_id: string; online: boolean }) => [p.user_id, p.online])).toEqual(
			onlineIds(alice.id, bob.id).map((id) => [id, true]),
		);
		await expect(m.next(isPresence, 1_000)).rejects.toThrow("no matching event");
	});
});
