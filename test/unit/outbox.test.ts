// The Outbox's batching and flush policy, driven by a hand-held clock and timer queue.
import { describe, expect, it } from "vitest";
import { Outbox, type Scheduler, type Sink } from "../../src/room/outbox";

class Recorder implements Sink {
	readonly frames: string[] = [];
	constructor(
		readonly log?: string[],
		readonly name = "",
	) {}
	write(frame: string): void {
		this.frames.push(frame);
		this.log?.push(`${this.name}:${frame}`);
	}
}

/** A clock that only moves when told, and the timers the outbox asked for. */
function manualScheduler() {
	const timers: Array<{ at: number; run: () => void }> = [];
	const scheduler: Scheduler & { time: number } = {
		time: 1_000_000,
		now: () => scheduler.time,
		after: (ms, run) => {
			timers.push({ at: scheduler.time + ms, run });
		},
	};
	/** Moves the clock to `to` and runs every timer due by then, in order. */
	const advance = (to: number) => {
		for (;;) {
			timers.sort((a, b) => a.at - b.at);
			const next = timers[0];
			if (!next || next.at > to) break;
			timers.shift();
			scheduler.time = Math.max(scheduler.time, next.at);
			next.run();
		}
		scheduler.time = Math.max(scheduler.time, to);
	};
	const delays = () => timers.map((t) => t.at - scheduler.time);
	return { scheduler, timers, advance, delays };
}

const sinks = (n: number, log?: string[]) => Array.from({ length: n }, (_, i) => new Recorder(log, `s${i}`));

describe("batching", () => {
	it("sends nothing until the flush, then one frame per socket with its events joined by \\n in push order", () => {
		const { scheduler, advance } = manualScheduler();
		const outbox = new Outbox(scheduler);
		const [a, b] = sinks(2);
		outbox.push(a!, "m1");
		outbox.push(b!, "m1");
		outbox.push(a!, "m2");
		outbox.push(b!, "m2");
		outbox.push(a!, "ack");
		expect([a!.frames, b!.frames]).toEqual([[], []]);
		advance(scheduler.time);
		expect(a!.frames).toEqual(["m1\nm2\nack"]);
		expect(b!.frames).toEqual(["m1\nm2"]);
	});

	it("puts the sender's ack in the same frame as the broadcast, after it", () => {
		const { scheduler, advance } = manualScheduler();
		const outbox = new Outbox(scheduler);
		const [sender, other] = sinks(2);
		// What RoomCore does for one send_message: broadcast to every joined socket, then ack the sender.
		for (const s of [sender!, other!]) outbox.push(s, '{"event":"new_message","data":{"seq":1}}');
		outbox.push(sender!, '{"event":"ack","id":7,"data":{"seq":1}}');
		advance(scheduler.time);
		expect(sender!.frames).toEqual(['{"event":"new_message","data":{"seq":1}}\n{"event":"ack","id":7,"data":{"seq":1}}']);
		expect(other!.frames).toEqual(['{"event":"new_message","data":{"seq":1}}']);
	});

	it("writes a socket's batch at once when it reaches the cap, keeping per-socket order across frames", () => {
		const { scheduler, advance } = manualScheduler();
		const outbox = new Outbox(scheduler, { maxBatchEvents: 3 });
		const [a, b] = sinks(2);
		for (let i = 1; i <= 7; i++) outbox.push(a!, `e${i}`);
		outbox.push(b!, "x");
		expect(a!.frames).toEqual(["e1\ne2\ne3", "e4\ne5\ne6"]);
		expect(b!.frames).toEqual([]);
		advance(scheduler.time);
		expect(a!.frames).toEqual(["e1\ne2\ne3", "e4\ne5\ne6", "e7"]);
		expect(b!.frames).toEqual(["x"]);
		expect(outbox.stats()).toEqual({ flushes: 1, frames: 4, events: 8, capped: 2 });
	});

	it("drops what a forgotten socket was owed and still delivers the others", () => {
		const { scheduler, advance } = manualScheduler();
		const outbox = new Outbox(scheduler);
		const [gone, stays] = sinks(2);
		outbox.push(gone!, "m1");
		outbox.push(stays!, "m1");
		outbox.forget(gone!);
		advance(scheduler.time);
		expect([gone!.frames, stays!.frames]).toEqual([[], ["m1"]]);
	});

	it("writes sockets in the order they were first owed something in this batch", () => {
		const { scheduler, advance } = manualScheduler();
		const order: string[] = [];
		const outbox = new Outbox(scheduler);
		const [s0, s1, s2] = sinks(3, order);
		outbox.push(s2!, "a");
		outbox.push(s0!, "b");
		outbox.push(s1!, "c");
		outbox.push(s2!, "d");
		advance(scheduler.time);
		expect(order).toEqual(["s2:a\nd", "s0:b", "s1:c"]);
	});
});

describe("flush policy", () => {
	it("in a quiet room flushes on a 0 ms timer: everything pushed before it runs shares one flush", () => {
		const { scheduler, delays, advance } = manualScheduler();
		const outbox = new Outbox(scheduler);
		const [a] = sinks(1);
		outbox.push(a!, "m1");
		outbox.push(a!, "m2");
		expect(delays()).toEqual([0]);
		advance(scheduler.time);
		expect(a!.frames).toEqual(["m1\nm2"]);
		expect(delays()).toEqual([]);
	});

	it("under load waits a gap after the previous flush that grows with its fan-out (0.02 ms per frame)", () => {
		const { scheduler, delays, advance } = manualScheduler();
		const outbox = new Outbox(scheduler);
		const room = sinks(500);
		const broadcast = (event: string) => {
			for (const s of room) outbox.push(s, event);
		};
		broadcast("m1");
		expect(delays()).toEqual([0]);
		advance(scheduler.time);
		// 500 frames written: the next flush may come 10 ms after this one at the earliest.
		scheduler.time += 3;
		broadcast("m2");
		expect(delays()).toEqual([7]);
		scheduler.time += 4;
		broadcast("m3");
		advance(scheduler.time + 3);
		expect(room[0]!.frames).toEqual(["m1", "m2\nm3"]);
		expect(room[499]!.frames).toEqual(["m1", "m2\nm3"]);
		expect(outbox.stats()).toEqual({ flushes: 2, frames: 1000, events: 1500, capped: 0 });
	});

	it("a small room's gap is small: 50 sockets wait at most 1 ms", () => {
		const { scheduler, delays, advance } = manualScheduler();
		const outbox = new Outbox(scheduler);
		const room = sinks(50);
		for (const s of room) outbox.push(s, "m1");
		advance(scheduler.time);
		for (const s of room) outbox.push(s, "m2");
		expect(delays()).toEqual([1]);
	});

	it("once the gap has passed the room is quiet again and flushes at once", () => {
		const { scheduler, delays, advance } = manualScheduler();
		const outbox = new Outbox(scheduler);
		const room = sinks(500);
		for (const s of room) outbox.push(s, "m1");
		advance(scheduler.time);
		scheduler.time += 10;
		outbox.push(room[0]!, "m2");
		expect(delays()).toEqual([0]);
	});

	it("caps the gap at maxGapMs however large the room", () => {
		const { scheduler, delays, advance } = manualScheduler();
		const outbox = new Outbox(scheduler, { gapPerFrameMs: 1, maxGapMs: 20 });
		const room = sinks(100);
		for (const s of room) outbox.push(s, "m1");
		advance(scheduler.time);
		outbox.push(room[0]!, "m2");
		expect(delays()).toEqual([20]);
	});

	it("the gap follows the last flush: a flush to one socket after a big one shrinks it", () => {
		const { scheduler, delays, advance } = manualScheduler();
		const outbox = new Outbox(scheduler);
		const room = sinks(500);
		for (const s of room) outbox.push(s, "m1");
		advance(scheduler.time);
		scheduler.time += 10;
		outbox.push(room[0]!, "ack");
		advance(scheduler.time);
		scheduler.time += 1;
		outbox.push(room[0]!, "ack2");
		expect(delays()).toEqual([0]);
	});

	it("schedules one timer per flush however many events are pushed", () => {
		const { scheduler, timers } = manualScheduler();
		const outbox = new Outbox(scheduler);
		const room = sinks(10);
		for (let i = 0; i < 5; i++) for (const s of room) outbox.push(s, `m${i}`);
		expect(timers.length).toBe(1);
	});

	it("accepts a bare schedule function (no clock): every flush is treated as quiet", () => {
		const queued: Array<() => void> = [];
		const outbox = new Outbox((flush) => queued.push(flush));
		const [a] = sinks(1);
		outbox.push(a!, "m1");
		outbox.push(a!, "m2");
		expect(queued.length).toBe(1);
		queued.shift()!();
		outbox.push(a!, "m3");
		queued.shift()!();
		expect(a!.frames).toEqual(["m1\nm2", "m3"]);
	});
});
