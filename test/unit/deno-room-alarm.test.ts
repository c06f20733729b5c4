// The Deno room host's alarm handler, under Node (node:sqlite): an alarm set while the handler ran
// (the webhook feed's, after a message was stored meanwhile) is kept when the handler's own next
// alarm is later. Setting its next alarm unconditionally had pushed that one back and stalled the
// room's webhooks (BENCHMARKS.md, "A push is answered once its frames are written").
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate } from "node:timers";
import { afterEach, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { workerdScheduler } from "../../src/room/outbox";
import { Alarms } from "../../src/runtimes/deno/alarms";
import { GroupCommit } from "../../src/runtimes/deno/group-commit";
import { RoomHost } from "../../src/runtimes/deno/room-host";
import { SqliteFile } from "../../src/runtimes/deno/sqlite-file";

const dirs: string[] = [];
afterEach(() => {
	for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

it("keeps an earlier alarm set while the room's alarm ran, instead of pushing it back to its own next one", async () => {
	const dir = mkdtempSync(join(tmpdir(), "roomkit-deno-alarm-"));
	dirs.push(dir);
	const group = new GroupCommit(
		(run) => setImmediate(run),
		(error) => {
			throw error;
		},
	);
	const fired: string[] = [];
	const alarms = new Alarms(new SqliteFile(join(dir, "alarms.sqlite"), group), (key) => fired.push(key));
	const slot = alarms.slot("room:r1");
	const env = { ADMIN_TOKEN: "a", JWT_SECRET: "b" } as unknown as Env;
	const host = new RoomHost("r1", {
		env,
		file: new SqliteFile(join(dir, "r1.sqlite"), group),
		alarm: slot,
		group,
		scheduler: workerdScheduler,
	});
	const now = Date.now();
	// The room's own work (gateway push retries, the webhook feed) wants the alarm in a minute; while it
	// ran, a message was stored and the webhook feed asked for one in a second.
	const service = (host as unknown as { service: { alarm: () => Promise<number | null> } }).service;
	service.alarm = async () => {
		await new Promise((resolve) => setImmediate(resolve));
		slot.setAlarm(now + 1_000);
		return now + 60_000;
	};
	await host.alarm();
	expect(slot.getAlarm()).toBe(now + 1_000);
	// With nothing set meanwhile, the handler's own next alarm is set.
	slot.deleteAlarm();
	service.alarm = async () => now + 60_000;
	await host.alarm();
	expect(slot.getAlarm()).toBe(now + 60_000);
	alarms.stop();
	expect(fired).toEqual([]);
});
