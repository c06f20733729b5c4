// Conversations over real TCP on both runtimes: edits, deletes, reactions, replies and metadata
// as numbered events in the room's log (live and after a reconnect), typing and read receipts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api } from "./api-client";
import { RUNTIMES, type RunningServer } from "./harness";
import { openRoomSocket, openUserSocket, type RoomSocket, type ServerEvent } from "./ws-client";

const TYPING_TTL_MS = 800;

describe.each(RUNTIMES)("conversations on $runtime", ({ start }) => {
	let server: RunningServer;
	let api: Api;
	const sockets: RoomSocket[] = [];
	const track = (s: RoomSocket) => {
		sockets.push(s);
		return s;
	};

	beforeAll(async () => {
		server = await start({ vars: { TYPING_TTL_MS: String(TYPING_TTL_MS), WS_RATE_PER_SECOND: "1000", WS_RATE_BURST: "1000" } });
		api = new Api(server.base);
	});
	afterAll(async () => {
		await Promise.all(sockets.map((s) => s.close()));
		await server?.stop();
	});

	const setup = async () => {
		const t = await api.tenant(server.adminToken);
		const [alice, bob] = t.users as [{ id: string; token: string }, { id: string; token: string }];
		const room = await api.call("POST", "/room", { clientKey: t.key }, { members: [alice.id, bob.id] });
		return { t, alice, bob, roomId: room.json.id as string };
	};
	const logged = (e: ServerEvent) =>
		["new_message", "message_updated", "message_deleted", "reaction_added", "reaction_removed"].includes(e.event);

	it("edits, deletes and reactions are numbered events, live on both sockets and replayed after a reconnect, in order with no gaps", async () => {
		const { t, alice, bob, roomId } = await setup();
		const onRoom = track(await openRoomSocket(server.base, roomId, alice.token));
		await onRoom.request("join_room", { room_id: roomId }, "j");
		const onUser = track(await openUserSocket(server.base, alice.token));
		await onUser.request("join_room", { room_id: roomId }, "j");
		const b = track(await openUserSocket(server.base, bob.token));

		const sent = (await b.request("send_message", { room_id: roomId, text_message: "helo", metadata: { lang: "en" } }, 1)).data;
		expect(sent).toMatchObject({ seq: 1, text_message: "helo", metadata: { lang: "en" } });
		expect(await b.request("edit_message", { room_id: roomId, message_id: sent.id, text_message: "hello" }, 2)).toMatchObject({
			event: "ack",
			data: {
				seq: 2,
				message: { id: sent.id, text_message: "hello", version: 2, edited_at: expect.any(String), metadata: { lang: "en" } },
			},
		});
		// Someone else's message cannot be edited, on either socket.
		expect(await onUser.request("edit_message", { room_id: roomId, message_id: sent.id, text_message: "mine" }, "x")).toEqual({
			event: "error",
			id: "x",
			data: { code: "forbidden", message: "Only the author may change this message" },
		});
		expect((await onRoom.request("edit_message", { room_id: roomId, message_id: sent.id, text_message: "mine" }, "y")).data.code).toBe(
			"forbidden",
		);
		const edit = await api.call(
			"PATCH",
			`/room/${roomId}/messages/${sent.id}`,
			{ Authorization: `Bearer ${alice.token}` },
			{ text_message: "mine" },
		);
		expect(edit).toEqual({ status: 403, json: { error: { code: "forbidden", message: "Only the author may change this message" } } });

		await onUser.request("add_reaction", { room_id: roomId, message_id: sent.id, type: "👍" }, "r");
		const reply = (await b.request("send_message", { room_id: roomId, text_message: "a reply", reply_to: sent.id }, 3)).data;
		expect(reply).toMatchObject({ seq: 4, reply_to: sent.id });
		const removed = await api.call("DELETE", `/room/${roomId}/messages/${sent.id}`, { Authorization: `Bearer ${bob.token}` });
		expect(removed).toEqual({ status: 200, json: { room_id: roomId, message_id: sent.id, seq: 5 } });
		// Twice answers the first deletion; the client's backend may delete too.
		expect((await api.call("DELETE", `/room/${roomId}/messages/${sent.id}`, { Authorization: `Bearer ${bob.token}` })).json).toEqual(
			removed.json,
		);

		const expected = [
			["new_message", 1],
			["message_updated", 2],
			["reaction_added", 3],
			["new_message", 4],
			["message_deleted", 5],
		];
		for (const socket of [onRoom, onUser]) {
			const seen = [];
			for (let i = 0; i < 5; i++) {
				const e = await socket.next(logged);
				seen.push([e.event, e.data.seq ?? e.data.message?.seq]);
			}
			expect(seen).toEqual(expected);
		}
		// After a reconnect from 0, the same events in the same order; the deleted message is a tombstone.
		for (const open of [() => openRoomSocket(server.base, roomId, alice.token), () => openUserSocket(server.base, alice.token)]) {
			const again = track(await open());
			const ack = await again.request("join_room", { room_id: roomId, last_seq: 0 }, "again");
			expect(ack.data.last_seq).toBe(5);
			const replay = [];
			for (let i = 0; i < 5; i++) replay.push(await again.next(logged));
			expect(replay.map((e) => [e.event, e.data.seq])).toEqual(expected);
			expect(replay[0]?.data).toMatchObject({ id: sent.id, text_message: "", deleted_at: expect.any(String), reply_count: 1 });
			expect(replay[0]?.data.metadata).toBeUndefined();
		}
		const other = (
			await api.call("POST", `/room/${roomId}/message/send`, { Authorization: `Bearer ${alice.token}` }, { text_message: "by alice" })
		).json;
		expect((await api.call("DELETE", `/room/${roomId}/messages/${other.id}`, { clientKey: t.key })).json).toEqual({
			room_id: roomId,
			message_id: other.id,
			seq: 7,
		});
		const history = await api.call("GET", `/room/${roomId}/messages`, { Authorization: `Bearer ${alice.token}` });
		expect(history.json.messages.map((m: { seq: number; text_message: string }) => [m.seq, m.text_message])).toEqual([
			[1, ""],
			[4, "a reply"],
			[6, ""],
		]);
		const versions = await api.call("GET", `/room/${roomId}/messages/${sent.id}/versions`, { Authorization: `Bearer ${alice.token}` });
		expect(versions.json).toEqual({ versions: [{ version: 2, text_message: "", at: expect.any(String) }] });
		const replies = await api.call("GET", `/room/${roomId}/messages/${sent.id}/replies`, { Authorization: `Bearer ${alice.token}` });
		expect(replies.json.messages.map((m: { id: string }) => m.id)).toEqual([reply.id]);
		// Deleted messages are not unread: only bob's reply counts for alice.
		expect((await api.call("GET", `/user/${alice.id}/unread`, { Authorization: `Bearer ${alice.token}` })).json.unread_total).toBe(1);
	});

	it("keeps one reaction per user and type under concurrent adds and removes from several users", async () => {
		const { t, alice, bob, roomId } = await setup();
		const carol = (await api.call("POST", "/user", { clientKey: t.key }, {})).json.id as string;
		await api.call("POST", `/room/${roomId}/members`, { clientKey: t.key }, { user_id: carol });
		const carolJwt = (await api.call("POST", `/auth/${carol}`, { clientKey: t.key })).json.token as string;
		const m = (await api.call("POST", `/room/${roomId}/message/send`, { Authorization: `Bearer ${alice.token}` }, { text_message: "vote" }))
			.json;
		const users = [alice.token, bob.token, carolJwt];
		const socketsByUser = await Promise.all(users.map(async (token) => track(await openUserSocket(server.base, token))));
		await Promise.all(
			socketsByUser.flatMap((s, u) => [
				s.request("add_reaction", { room_id: roomId, message_id: m.id, type: "👍" }, `a${u}`),
				s.request("add_reaction", { room_id: roomId, message_id: m.id, type: "👍" }, `b${u}`),
				s.request("add_reaction", { room_id: roomId, message_id: m.id, type: "🎉" }, `c${u}`),
				...(u === 2 ? [s.request("remove_reaction", { room_id: roomId, message_id: m.id, type: "🎉" }, `d${u}`)] : []),
			]),
		);
		const after = await api.call("GET", `/room/${roomId}/messages`, { Authorization: `Bearer ${alice.token}` });
		expect(after.json.messages[0].reactions).toEqual({ "👍": 3, "🎉": 2 });
		const rest = await api.call("DELETE", `/room/${roomId}/messages/${m.id}/reactions/${encodeURIComponent("🎉")}`, {
			Authorization: `Bearer ${alice.token}`,
		});
		expect(rest.json).toMatchObject({ message_id: m.id, user_id: alice.id, type: "🎉", reactions: { "👍": 3, "🎉": 1 } });
	});

	it("shows who is typing (whole sets), refreshes, and drops a typer after the expiry; read receipts go to joined sockets", async () => {
		const { alice, bob, roomId } = await setup();
		const watcher = track(await openRoomSocket(server.base, roomId, alice.token));
		await watcher.request("join_room", { room_id: roomId }, "j");
		const watcherUser = track(await openUserSocket(server.base, alice.token));
		await watcherUser.request("join_room", { room_id: roomId }, "j");
		const typist = track(await openUserSocket(server.base, bob.token));
		// Typing needs a joined socket.
		expect((await typist.request("typing", { room_id: roomId }, "t0")).data.code).toBe("forbidden");
		await typist.request("join_room", { room_id: roomId }, "j");
		await typist.request("typing", { room_id: roomId }, "t1");
		for (const s of [watcher, watcherUser]) {
			expect(await s.next((e) => e.event === "typing")).toEqual({ event: "typing", data: { room_id: roomId, user_ids: [bob.id] } });
		}
		// A socket that joins while bob types learns it at once, on either socket kind.
		const lateRoom = track(await openRoomSocket(server.base, roomId, alice.token));
		await lateRoom.request("join_room", { room_id: roomId }, "late");
		expect(await lateRoom.next((e) => e.event === "typing")).toEqual({ event: "typing", data: { room_id: roomId, user_ids: [bob.id] } });
		const lateUser = track(await openUserSocket(server.base, alice.token));
		await lateUser.request("join_room", { room_id: roomId }, "late");
		expect(await lateUser.next((e) => e.event === "typing")).toEqual({ event: "typing", data: { room_id: roomId, user_ids: [bob.id] } });
		// Refreshed before the expiry: still typing, no new broadcast; then it expires.
		await new Promise((r) => setTimeout(r, TYPING_TTL_MS / 2));
		await typist.request("typing", { room_id: roomId }, "t2");
		await new Promise((r) => setTimeout(r, TYPING_TTL_MS / 2));
		for (const s of [watcher, watcherUser]) {
			expect(await s.next((e) => e.event === "typing", TYPING_TTL_MS * 4)).toEqual({
				event: "typing",
				data: { room_id: roomId, user_ids: [] },
			});
		}
		// A read receipt for every joined socket after a mark_read.
		const m = (await typist.request("send_message", { room_id: roomId, text_message: "read me" }, "s")).data;
		await watcherUser.request("mark_read", { room_id: roomId, seq: m.seq }, "r");
		expect(await watcher.next((e) => e.event === "read_receipt")).toEqual({
			event: "read_receipt",
			data: { room_id: roomId, user_id: alice.id, last_read_seq: m.seq },
		});
		expect(await typist.next((e) => e.event === "read_receipt")).toEqual({
			event: "read_receipt",
			data: { room_id: roomId, user_id: alice.id, last_read_seq: m.seq },
		});
		const reads = await api.call("GET", `/room/${roomId}/reads`, { Authorization: `Bearer ${bob.token}` });
		expect(reads.json.reads).toEqual(
			[
				{ user_id: alice.id, last_read_seq: m.seq },
				{ user_id: bob.id, last_read_seq: 0 },
			].sort((x, y) => x.user_id.localeCompare(y.user_id)),
		);
	});
});
