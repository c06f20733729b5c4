// The directory outbox on both drivers: triggers (migrations/0001_webhooks.sql) write an event in
// the same transaction as the change, only for clients with webhook endpoints, in change order.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import type { DirectoryObject } from "../../src/runtimes/cloudflare/directory-object";
import { openDirectory } from "../../src/storage";
import type { Directory } from "../../src/storage/directory";

const bindings = env as unknown as Env;
const DIRECTORY = bindings.DIRECTORY as DurableObjectNamespace<DirectoryObject>;
const onD1 = () => openDirectory({ ROOMS: bindings.ROOMS, GATEWAYS: bindings.GATEWAYS, DB: bindings.DB });
const onObject = () => openDirectory({ ROOMS: bindings.ROOMS, GATEWAYS: bindings.GATEWAYS, DIRECTORY });
const directoryObject = () => DIRECTORY.get(DIRECTORY.idFromName("directory"));
const tag = () => crypto.randomUUID().slice(0, 8);
const T = 1_800_000_000_000;

const simplified = (rows: Awaited<ReturnType<Directory["webhookEvents"]>>) =>
	rows.map((r) => ({ type: r.type, roomId: r.roomId, data: JSON.parse(r.data), createdAt: r.createdAt }));

describe.each([
	{ driver: "D1", open: onD1 },
	{ driver: "the directory Durable Object", open: onObject },
])("webhook outbox on $driver", ({ open }) => {
	it("records user, room and membership changes only for clients with webhooks, in order, and drops what was taken", async () => {
		const dir = open();
		const t = tag();
		const [on, off] = [`${t}-on`, `${t}-off`];
		for (const id of [on, off]) await dir.createClient({ id, name: id, apiTokenHash: `${id}-hash`, createdAt: T });
		await dir.setWebhookEvents(on, true);
		await dir.setWebhookEvents(on, true); // idempotent
		for (const clientId of [on, off]) {
			await dir.createUser({ id: `${clientId}-u1`, clientId, name: "ann", metadata: '{"a":1}', createdAt: T + 1 });
			await dir.createRoom({ id: `${clientId}-r1`, clientId, name: "r", private: true, createdBy: `${clientId}-u1`, createdAt: T + 2 }, [
				`${clientId}-u1`,
			]);
			await dir.addMember({ roomId: `${clientId}-r1`, userId: `${clientId}-u2`, clientId, createdAt: T + 3 });
			await dir.addMember({ roomId: `${clientId}-r1`, userId: `${clientId}-u2`, clientId, createdAt: T + 4 }); // already a member
			await dir.removeMember(clientId, `${clientId}-r1`, `${clientId}-u1`);
			await dir.removeMember(clientId, `${clientId}-r1`, `${clientId}-u1`); // not a member any more
		}
		expect(await dir.webhookEvents(off, 100)).toEqual([]);
		const events = await dir.webhookEvents(on, 100);
		expect(events.map((e) => e.id)).toEqual(events.map(() => expect.stringMatching(/^evt_[0-9a-f]{32}$/)));
		expect(new Set(events.map((e) => e.id)).size).toBe(5);
		const removedAt = events[4]?.createdAt ?? 0;
		expect(Math.abs(removedAt - Date.now())).toBeLessThan(60_000);
		expect(simplified(events)).toEqual([
			{
				type: "user.created",
				roomId: null,
				data: { id: `${on}-u1`, name: "ann", metadata: '{"a":1}', created_at: T + 1 },
				createdAt: T + 1,
			},
			{
				type: "room.created",
				roomId: `${on}-r1`,
				data: { id: `${on}-r1`, name: "r", private: 1, created_by: `${on}-u1`, created_at: T + 2 },
				createdAt: T + 2,
			},
			{ type: "member.added", roomId: `${on}-r1`, data: { room_id: `${on}-r1`, user_id: `${on}-u1`, created_at: T + 2 }, createdAt: T + 2 },
			{ type: "member.added", roomId: `${on}-r1`, data: { room_id: `${on}-r1`, user_id: `${on}-u2`, created_at: T + 3 }, createdAt: T + 3 },
			{
				type: "member.removed",
				roomId: `${on}-r1`,
				data: { room_id: `${on}-r1`, user_id: `${on}-u1`, created_at: T + 2 },
				createdAt: removedAt,
			},
		]);
		expect((await dir.webhookEvents(on, 2)).map((e) => e.seq)).toEqual(events.slice(0, 2).map((e) => e.seq));
		await dir.dropWebhookEvents(on, events[2]?.seq ?? 0);
		expect((await dir.webhookEvents(on, 100)).map((e) => e.type)).toEqual(["member.added", "member.removed"]);
		await dir.setWebhookEvents(on, false);
		await dir.createUser({ id: `${on}-u3`, clientId: on, name: null, metadata: null, createdAt: T + 5 });
		expect((await dir.webhookEvents(on, 100)).map((e) => e.type)).toEqual(["member.added", "member.removed"]);
	});
});

describe.each([
	{ driver: "D1", open: onD1 },
	{ driver: "the directory Durable Object", open: onObject },
])("message.flagged in the outbox on $driver", ({ open }) => {
	it("records a report once, for clients with webhooks", async () => {
		const dir = open();
		const clientId = `${tag()}-c`;
		await dir.createClient({ id: clientId, name: "c", apiTokenHash: `${clientId}-h`, createdAt: T });
		await dir.setWebhookEvents(clientId, true);
		const flag = {
			id: `${clientId}-f`,
			clientId,
			roomId: `${clientId}-r`,
			messageId: `${clientId}-m`,
			seq: 7,
			userId: `${clientId}-u`,
			reason: "spam",
			createdAt: T + 9,
		};
		expect(await dir.flagMessage(flag)).toEqual({ created: true, flag });
		expect(await dir.flagMessage({ ...flag, id: `${clientId}-f2`, reason: "again" })).toEqual({ created: false, flag });
		expect(simplified(await dir.webhookEvents(clientId, 10))).toEqual([
			{
				type: "message.flagged",
				roomId: flag.roomId,
				data: {
					id: flag.id,
					room_id: flag.roomId,
					message_id: flag.messageId,
					seq: 7,
					user_id: flag.userId,
					reason: "spam",
					created_at: T + 9,
				},
				createdAt: T + 9,
			},
		]);
	});
});

describe("the outbox shares the change's transaction", () => {
	it("a room creation that fails part way writes no event (directory object)", async () => {
		const t = tag();
		const clientId = `${t}-c`;
		const dir = onObject();
		await dir.createClient({ id: clientId, name: "c", apiTokenHash: `${t}-h`, createdAt: T });
		await dir.setWebhookEvents(clientId, true);
		await dir.createRoom({ id: `${t}-r`, clientId, name: null, private: false, createdBy: null, createdAt: T }, []);
		expect((await dir.webhookEvents(clientId, 10)).map((e) => e.type)).toEqual(["room.created"]);
		// The same room id again: the insert fails, and with it the whole transaction (members too).
		const failed = await runInDurableObject(directoryObject(), (instance: Directory) =>
			instance.createRoom({ id: `${t}-r`, clientId, name: null, private: false, createdBy: null, createdAt: T }, [`${t}-u`]).then(
				() => "resolved",
				(e: Error) => String((e.cause as Error | undefined)?.message ?? e.message),
			),
		);
		expect(failed).toMatch(/UNIQUE constraint failed: rooms.id/);
		expect((await dir.webhookEvents(clientId, 10)).map((e) => e.type)).toEqual(["room.created"]);
	});

	it("a room creation that fails part way writes no event (D1 batch)", async () => {
		const t = tag();
		const clientId = `${t}-c`;
		const dir = onD1();
		await dir.createClient({ id: clientId, name: "c", apiTokenHash: `${t}-h`, createdAt: T });
		await dir.setWebhookEvents(clientId, true);
		await dir.createRoom({ id: `${t}-r`, clientId, name: null, private: false, createdBy: null, createdAt: T }, []);
		const again = await dir
			.createRoom({ id: `${t}-r`, clientId, name: null, private: false, createdBy: null, createdAt: T }, [`${t}-u`])
			.then(
				() => "resolved",
				(e: Error) => String((e.cause as Error | undefined)?.message ?? e.message),
			);
		expect(again).toMatch(/UNIQUE constraint failed: rooms.id/);
		expect((await dir.webhookEvents(clientId, 10)).map((e) => e.type)).toEqual(["room.created"]);
	});
});
