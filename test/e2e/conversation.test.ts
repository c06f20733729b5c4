// Conversations over real TCP on both runtimes: edits, deletes, reactions, replies and metadata
// as numbered events in the room's log (live and after a reconnect), typing and read receipts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Api } from "./api-client";
import { RUNTIMES, type RunningServer } from "./harness";
import { openRoomSocket, openUserSocket, type RoomSocket, type ServerEvent } from "./ws-client";

const TYPING_TTL_MS = 800;
const TYPE_TOO_LONG = "Too big: expected string to have <=32 characters";
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

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

	it("keeps every version readable by another member while the message exists; an edit replaces the metadata it names", async () => {
		const { alice, bob, roomId } = await setup();
		const asAlice = { Authorization: `Bearer ${alice.token}` };
		const asBob = { Authorization: `Bearer ${bob.token}` };
		const sent = (await api.call("POST", `/room/${roomId}/message/send`, asAlice, { text_message: "helo", metadata: { draft: 1 } })).json;
		// Without metadata the edit keeps it; with metadata it replaces it (not a merge), stored verbatim.
		const first = await api.call("PATCH", `/room/${roomId}/messages/${sent.id}`, asAlice, { text_message: "hello" });
		expect(first).toEqual({
			status: 200,
			json: { seq: sent.seq + 1, message: { ...sent, text_message: "hello", version: 2, edited_at: expect.stringMatching(ISO_TIME) } },
		});
		const replaced = { final: true, tags: ["a", "é"], nested: { n: 1.5, none: null }, "": "" };
		const second = await api.call("PATCH", `/room/${roomId}/messages/${sent.id}`, asAlice, { text_message: "hello!", metadata: replaced });
		expect(second).toEqual({
			status: 200,
			json: {
				seq: sent.seq + 2,
				message: { ...sent, text_message: "hello!", metadata: replaced, version: 3, edited_at: expect.stringMatching(ISO_TIME) },
			},
		});
		expect(second.json.message.edited_at >= first.json.message.edited_at).toBe(true);
		// Oldest first, each with the time it became current; the current version last.
		expect(await api.call("GET", `/room/${roomId}/messages/${sent.id}/versions`, asBob)).toEqual({
			status: 200,
			json: {
				versions: [
					{ version: 1, text_message: "helo", metadata: { draft: 1 }, at: sent.created_at },
					{ version: 2, text_message: "hello", metadata: { draft: 1 }, at: first.json.message.edited_at },
					{ version: 3, text_message: "hello!", metadata: replaced, at: second.json.message.edited_at },
				],
			},
		});
		expect((await api.call("GET", `/room/${roomId}/messages`, asBob)).json.messages).toEqual([second.json.message]);
		// An edit over a socket replaces the metadata too, and the versions grow by one.
		const b = track(await openUserSocket(server.base, alice.token));
		const third = await b.request(
			"edit_message",
			{ room_id: roomId, message_id: sent.id, text_message: "hello!!", metadata: { v: 4 } },
			"e",
		);
		expect(third.data).toEqual({
			seq: sent.seq + 3,
			message: { ...sent, text_message: "hello!!", metadata: { v: 4 }, version: 4, edited_at: expect.stringMatching(ISO_TIME) },
		});
		const versions = (await api.call("GET", `/room/${roomId}/messages/${sent.id}/versions`, asBob)).json.versions;
		expect(versions.map((v: { version: number; text_message: string }) => [v.version, v.text_message])).toEqual([
			[1, "helo"],
			[2, "hello"],
			[3, "hello!"],
			[4, "hello!!"],
		]);
	});

	it("keeps a refreshed typer in the set until TYPING_TTL_MS after the refresh, then drops it, typing on either socket kind", async () => {
		const refreshOn = async (typistOnUserSocket: boolean) => {
			const { bob, alice, roomId } = await setup();
			const watcher = track(
				typistOnUserSocket ? await openRoomSocket(server.base, roomId, alice.token) : await openUserSocket(server.base, alice.token),
			);
			await watcher.request("join_room", { room_id: roomId }, "j");
			const typist = track(
				typistOnUserSocket ? await openUserSocket(server.base, bob.token) : await openRoomSocket(server.base, roomId, bob.token),
			);
			await typist.request("join_room", { room_id: roomId }, "j");
			const started = Date.now();
			await typist.request("typing", { room_id: roomId }, "t1");
			expect(await watcher.next((e) => e.event === "typing")).toEqual({ event: "typing", data: { room_id: roomId, user_ids: [bob.id] } });
			// Refresh late in the first expiry window: without the refresh, bob would be dropped
			// TYPING_TTL_MS after `started` (or when his 1 s broadcast gap ends), well before the deadline below.
			await new Promise((r) => setTimeout(r, started + TYPING_TTL_MS * 0.75 - Date.now()));
			const refreshed = Date.now();
			expect(refreshed - started).toBeLessThan(TYPING_TTL_MS);
			expect(await typist.request("typing", { room_id: roomId }, "t2")).toEqual({ event: "ack", id: "t2", data: { room_id: roomId } });
			const stopped = await watcher.next((e) => e.event === "typing", TYPING_TTL_MS * 6);
			const at = Date.now();
			expect(stopped).toEqual({ event: "typing", data: { room_id: roomId, user_ids: [] } });
			// The server saw the refresh after `refreshed`, so it may drop bob only TYPING_TTL_MS after it
			// (50 ms for the two clocks' rounding); and it does drop him, with no further refresh.
			expect(at - refreshed).toBeGreaterThanOrEqual(TYPING_TTL_MS - 50);
			expect(at - refreshed).toBeLessThan(TYPING_TTL_MS + 2_000);
		};
		await Promise.all([refreshOn(true), refreshOn(false)]);
	});

	it("pages a message's replies with limit and after_seq; the parent counts them", async () => {
		const { alice, bob, roomId } = await setup();
		const as = (u: { token: string }) => ({ Authorization: `Bearer ${u.token}` });
		const parent = (await api.call("POST", `/room/${roomId}/message/send`, as(alice), { text_message: "parent" })).json;
		const replies = [];
		for (let i = 0; i < 5; i++) {
			const by = i % 2 === 0 ? bob : alice;
			replies.push(
				(await api.call("POST", `/room/${roomId}/message/send`, as(by), { text_message: `reply ${i}`, reply_to: parent.id })).json,
			);
			// Messages that are not replies to it, between them, are not in its pages.
			await api.call("POST", `/room/${roomId}/message/send`, as(by), { text_message: `aside ${i}` });
		}
		expect(replies.map((r) => r.reply_to)).toEqual(Array(5).fill(parent.id));
		const page = async (query: string) => {
			const res = await api.call("GET", `/room/${roomId}/messages/${parent.id}/replies${query}`, as(bob));
			expect(res.status).toBe(200);
			return res.json.messages;
		};
		expect(await page("?limit=2")).toEqual(replies.slice(0, 2));
		expect(await page(`?limit=2&after_seq=${replies[1].seq}`)).toEqual(replies.slice(2, 4));
		expect(await page(`?limit=2&after_seq=${replies[3].seq}`)).toEqual(replies.slice(4));
		expect(await page(`?limit=2&after_seq=${replies[4].seq}`)).toEqual([]);
		expect(await page("")).toEqual(replies);
		// A cursor between two replies starts at the next one.
		expect(await page(`?limit=1&after_seq=${replies[2].seq + 1}`)).toEqual([replies[3]]);
		const history = (await api.call("GET", `/room/${roomId}/messages`, as(alice))).json.messages;
		expect(history[0]).toEqual({ ...parent, reply_count: 5 });
		expect(history.filter((m: { reply_count?: number }) => m.reply_count !== undefined)).toHaveLength(1);
	});

	it("replays from a mid-log last_seq exactly the events after it, all five kinds in seq order, on both sockets", async () => {
		const { alice, bob, roomId } = await setup();
		const as = (u: { token: string }) => ({ Authorization: `Bearer ${u.token}` });
		const a = (await api.call("POST", `/room/${roomId}/message/send`, as(bob), { text_message: "A" })).json; // 1
		const b = (await api.call("POST", `/room/${roomId}/message/send`, as(alice), { text_message: "B" })).json; // 2
		expect([a.seq, b.seq]).toEqual([1, 2]);
		await api.call("PATCH", `/room/${roomId}/messages/${a.id}`, as(bob), { text_message: "A2" }); // 3
		const thumbs = encodeURIComponent("👍");
		await api.call("POST", `/room/${roomId}/messages/${b.id}/reactions`, as(bob), { type: "👍" }); // 4
		await api.call("POST", `/room/${roomId}/messages/${b.id}/reactions`, as(alice), { type: "🎉" }); // 5
		await api.call("DELETE", `/room/${roomId}/messages/${b.id}/reactions/${thumbs}`, as(bob)); // 6
		await api.call("DELETE", `/room/${roomId}/messages/${a.id}`, as(bob)); // 7
		const c = (await api.call("POST", `/room/${roomId}/message/send`, as(alice), { text_message: "C", reply_to: b.id })).json; // 8
		expect(c.seq).toBe(8);
		// A replayed event shows its message as it is now: the edited message is a tombstone by then.
		const nowA = (await api.call("GET", `/room/${roomId}/messages`, as(alice))).json.messages[0];
		expect(nowA).toMatchObject({ id: a.id, text_message: "", version: 2, deleted_at: expect.stringMatching(ISO_TIME) });
		const reaction = (user: string, type: string, reactions: Record<string, number>, seq: number) => ({
			room_id: roomId,
			message_id: b.id,
			user_id: user,
			type,
			reactions,
			seq,
		});
		const expected = [
			{ event: "message_updated", data: { message: nowA, seq: 3 } },
			{ event: "reaction_added", data: reaction(bob.id, "👍", { "👍": 1 }, 4) },
			{ event: "reaction_added", data: reaction(alice.id, "🎉", { "👍": 1, "🎉": 1 }, 5) },
			{ event: "reaction_removed", data: reaction(bob.id, "👍", { "🎉": 1 }, 6) },
			{ event: "message_deleted", data: { room_id: roomId, message_id: a.id, seq: 7 } },
			{ event: "new_message", data: { ...c, reply_to: b.id } },
		];
		for (const open of [() => openRoomSocket(server.base, roomId, alice.token), () => openUserSocket(server.base, alice.token)]) {
			const socket = track(await open());
			expect((await socket.request("join_room", { room_id: roomId, last_seq: 2 }, "mid")).data).toMatchObject({
				room_id: roomId,
				last_seq: 8,
			});
			const replay = [];
			for (let i = 0; i < expected.length; i++) replay.push(await socket.next(logged));
			expect(replay).toEqual(expected);
			// Nothing at or before last_seq, nothing twice.
			await expect(socket.next(logged, 300)).rejects.toThrow(/no matching event/);
		}
	});

	it("answers bad conversation input with exact error codes over REST and on both sockets, which stay open", async () => {
		const { t, alice, bob, roomId } = await setup();
		const as = (u: { token: string }) => ({ Authorization: `Bearer ${u.token}` });
		const send = (body: unknown, user = alice) => api.call("POST", `/room/${roomId}/message/send`, as(user), body);
		// Metadata: 4096 bytes of JSON pass, 4097 do not.
		const metadata = (bytes: number) => ({ b: "x".repeat(bytes - '{"b":""}'.length) });
		expect(JSON.stringify(metadata(4097)).length).toBe(4097);
		expect((await send({ text_message: "fits", metadata: metadata(4096) })).status).toBe(201);
		const tooBig = {
			status: 400,
			json: {
				error: {
					code: "validation_failed",
					message: "Invalid request",
					fields: [{ path: "metadata", message: "metadata is limited to 4096 bytes of JSON" }],
				},
			},
		};
		expect(await send({ text_message: "big", metadata: metadata(4097) })).toEqual(tooBig);
		const target = (await send({ text_message: "target" }, bob)).json;
		const mine = (await send({ text_message: "mine" })).json;
		expect(
			await api.call("PATCH", `/room/${roomId}/messages/${mine.id}`, as(alice), { text_message: "e", metadata: metadata(4097) }),
		).toEqual(tooBig);
		// Reaction types: at most 32 UTF-16 code units.
		const react = (type: string) => api.call("POST", `/room/${roomId}/messages/${target.id}/reactions`, as(alice), { type });
		expect((await react("x".repeat(32))).status).toBe(200);
		const longType = await react("x".repeat(33));
		expect(longType).toEqual({
			status: 400,
			json: { error: { code: "validation_failed", message: "Invalid request", fields: [{ path: "type", message: TYPE_TOO_LONG }] } },
		});
		expect(await api.call("DELETE", `/room/${roomId}/messages/${target.id}/reactions/${"x".repeat(33)}`, as(alice))).toEqual(longType);
		// reply_to: an unknown message, or one of another room, is not found here.
		const elsewhere = (await api.call("POST", "/room", { clientKey: t.key }, { members: [alice.id] })).json.id as string;
		const foreign = (await api.call("POST", `/room/${elsewhere}/message/send`, as(alice), { text_message: "there" })).json;
		const unknownId = "0190a000-0000-7000-8000-00000000dead";
		const noParent = { status: 404, json: { error: { code: "not_found", message: "No such message to reply to in this room" } } };
		expect(await send({ text_message: "r", reply_to: unknownId })).toEqual(noParent);
		expect(await send({ text_message: "r", reply_to: foreign.id })).toEqual(noParent);
		// Unknown message ids.
		const noMessage = { status: 404, json: { error: { code: "not_found", message: "Message not found" } } };
		expect(await api.call("PATCH", `/room/${roomId}/messages/${unknownId}`, as(alice), { text_message: "e" })).toEqual(noMessage);
		expect(await api.call("PATCH", `/room/${roomId}/messages/${foreign.id}`, as(alice), { text_message: "e" })).toEqual(noMessage);
		expect(await api.call("DELETE", `/room/${roomId}/messages/${unknownId}`, as(alice))).toEqual(noMessage);
		expect(await api.call("DELETE", `/room/${roomId}/messages/${unknownId}`, { clientKey: t.key })).toEqual(noMessage);
		expect(await api.call("POST", `/room/${roomId}/messages/${unknownId}/reactions`, as(alice), { type: "👍" })).toEqual(noMessage);
		// A deleted message takes no edit and no reaction.
		await api.call("DELETE", `/room/${roomId}/messages/${mine.id}`, as(alice));
		const gone = { status: 409, json: { error: { code: "message_deleted", message: "This message was deleted" } } };
		expect(await api.call("PATCH", `/room/${roomId}/messages/${mine.id}`, as(alice), { text_message: "e" })).toEqual(gone);
		expect(await api.call("POST", `/room/${roomId}/messages/${mine.id}/reactions`, as(alice), { type: "👍" })).toEqual(gone);
		expect(await api.call("DELETE", `/room/${roomId}/messages/${mine.id}/reactions/${encodeURIComponent("👍")}`, as(alice))).toEqual(gone);

		// The same input as socket frames: each answered with its error, the socket stays open.
		const onRoom = track(await openRoomSocket(server.base, roomId, alice.token));
		const onUser = track(await openUserSocket(server.base, alice.token));
		for (const [socket, replyText] of [
			[onRoom, "No such message in this room"],
			[onUser, "No such message to reply to"],
		] as const) {
			const error = async (event: string, data: object, code: string, message: string) => {
				const id = `${event}-${code}`;
				const answer = await socket.request(event, { room_id: roomId, ...data }, id);
				expect(answer).toEqual({
					event: "error",
					id,
					data: { code, message },
				});
			};
			const big = metadata(4097);
			await error(
				"send_message",
				{ text_message: "big", metadata: big },
				"validation_failed",
				"data.metadata: metadata is limited to 4096 bytes of JSON",
			);
			await error(
				"edit_message",
				{ message_id: mine.id, text_message: "e", metadata: big },
				"validation_failed",
				"data.metadata: metadata is limited to 4096 bytes of JSON",
			);
			await error("add_reaction", { message_id: target.id, type: "x".repeat(33) }, "validation_failed", `data.type: ${TYPE_TOO_LONG}`);
			await error("remove_reaction", { message_id: target.id, type: "x".repeat(33) }, "validation_failed", `data.type: ${TYPE_TOO_LONG}`);
			await error("send_message", { text_message: "r", reply_to: unknownId }, "not_found", replyText);
			const foreignReply = await socket.request("send_message", { room_id: roomId, text_message: "r", reply_to: foreign.id }, "fr");
			expect(foreignReply).toEqual({ event: "error", id: "fr", data: { code: "not_found", message: replyText } });
			await error("edit_message", { message_id: unknownId, text_message: "e" }, "not_found", "No such message in this room");
			await error("delete_message", { message_id: unknownId }, "not_found", "No such message in this room");
			await error("add_reaction", { message_id: unknownId, type: "👍" }, "not_found", "No such message in this room");
			await error("edit_message", { message_id: mine.id, text_message: "e" }, "message_deleted", "This message was deleted");
			await error("add_reaction", { message_id: mine.id, type: "👍" }, "message_deleted", "This message was deleted");
			await error("remove_reaction", { message_id: mine.id, type: "👍" }, "message_deleted", "This message was deleted");
			const ok = await socket.request("send_message", { room_id: roomId, text_message: "still here", metadata: metadata(4096) }, "ok");
			expect(ok).toMatchObject({ event: "ack", id: "ok", data: { text_message: "still here", metadata: metadata(4096) } });
			expect(socket.ws.readyState).toBe(WebSocket.OPEN);
		}
	});
});
