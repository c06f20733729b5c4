// The room's copy of its moderation state (src/room/moderation.ts), on real SQLite with a hand-driven clock.
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { RoomModeration } from "../../src/room/moderation";
import { sqlOf, T0 } from "./room-support";

const setup = () => {
	const db = new DatabaseSync(":memory:");
	const clock = { now: T0 };
	const open = () => new RoomModeration(sqlOf(db), () => clock.now);
	return { clock, open, moderation: open() };
};
const never = () => null;

describe("RoomModeration", () => {
	it("refuses a banned user's sends, then a muted user's, each until its expiry on the clock", () => {
		const { clock, moderation } = setup();
		moderation.apply({ userId: "bob", role: "member", ban: T0 + 1000, mute: T0 + 2000 });
		expect([moderation.banned("bob"), moderation.sendRefusal("bob", never)]).toEqual([true, { code: "banned" }]);
		clock.now = T0 + 1000;
		expect([moderation.banned("bob"), moderation.sendRefusal("bob", never)]).toEqual([false, { code: "muted" }]);
		clock.now = T0 + 2000;
		expect(moderation.sendRefusal("bob", never)).toBeUndefined();
		// A ban or mute without end lasts until a newer standing lifts it.
		moderation.apply({ userId: "bob", role: "member", mute: null });
		clock.now = T0 + 10 ** 9;
		expect(moderation.sendRefusal("bob", never)).toEqual({ code: "muted" });
		moderation.apply({ userId: "bob", role: "member" });
		expect(moderation.sendRefusal("bob", never)).toBeUndefined();
	});

	it("slow mode waits from the user's last message; owners and moderators are exempt; it reads the log only when it applies", () => {
		const { clock, moderation } = setup();
		const reads: string[] = [];
		const last = (userId: string) => {
			reads.push(userId);
			return T0 - 500;
		};
		expect(moderation.sendRefusal("bob", last)).toBeUndefined();
		expect(reads).toEqual([]);
		moderation.setCooldown(2);
		expect(moderation.sendRefusal("bob", last)).toEqual({ code: "rate_limited", retryAfterMs: 1500 });
		expect(moderation.sendRefusal("bob", never)).toBeUndefined();
		clock.now = T0 + 1500;
		expect(moderation.sendRefusal("bob", last)).toBeUndefined();
		clock.now = T0;
		moderation.apply({ userId: "carol", role: "moderator" });
		moderation.apply({ userId: "alice", role: "owner" });
		expect([moderation.sendRefusal("carol", last), moderation.sendRefusal("alice", last)]).toEqual([undefined, undefined]);
		expect([moderation.moderates("carol"), moderation.moderates("alice"), moderation.moderates("bob")]).toEqual([true, true, false]);
		expect(reads).toEqual(["bob", "bob"]);
	});

	it("the backend's sends for a user skip slow mode, not the user's ban or mute", () => {
		const { moderation } = setup();
		moderation.setCooldown(60);
		const last = () => T0 - 1000;
		expect(moderation.sendRefusal("bob", last)).toEqual({ code: "rate_limited", retryAfterMs: 59_000 });
		expect(moderation.sendRefusal("bob", last, true)).toBeUndefined();
		moderation.apply({ userId: "bob", role: "member", mute: null });
		expect(moderation.sendRefusal("bob", last, true)).toEqual({ code: "muted" });
		moderation.apply({ userId: "bob", role: null, ban: null });
		expect(moderation.sendRefusal("bob", last, true)).toEqual({ code: "banned" });
	});

	it("survives a restart from its own storage, and initialize replaces the whole state", () => {
		const { open, moderation } = setup();
		expect(moderation.isSynced()).toBe(false);
		moderation.initialize(
			[
				{ userId: "alice", role: "owner" },
				{ userId: "bob", role: "member", ban: null },
			],
			30,
		);
		const again = open();
		expect([again.isSynced(), again.moderates("alice"), again.banned("bob")]).toEqual([true, true, true]);
		expect(again.sendRefusal("dave", () => T0)).toEqual({ code: "rate_limited", retryAfterMs: 30_000 });
		again.initialize([{ userId: "dave", role: "moderator" }], 0);
		const third = open();
		expect([third.moderates("alice"), third.banned("bob"), third.moderates("dave")]).toEqual([false, false, true]);
		expect(third.sendRefusal("bob", () => T0)).toBeUndefined();
	});
});
