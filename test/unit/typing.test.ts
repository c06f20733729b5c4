// The typing set alone, on a hand-driven clock: whole sets, the per-user and per-room windows, expiry.
import { describe, expect, it } from "vitest";
import { Typing } from "../../src/room/typing";

function typingWith() {
	const clock = { now: 1_000_000 };
	const timers: Array<{ at: number; run: () => void }> = [];
	const sent: Array<{ at: number; set: string[]; by: string }> = [];
	const typing = new Typing({
		ttlMs: 6_000,
		now: () => clock.now,
		after: (ms, run) => timers.push({ at: clock.now + ms, run }),
		changed: (set, by) => sent.push({ at: clock.now, set, by }),
	});
	const advance = (ms: number) => {
		const until = clock.now + ms;
		for (;;) {
			timers.sort((a, b) => a.at - b.at);
			const next = timers[0];
			if (!next || next.at > until) break;
			timers.shift();
			clock.now = Math.max(clock.now, next.at);
			next.run();
		}
		clock.now = until;
	};
	return { typing, sent, advance, clock };
}

describe("Typing", () => {
	it("sends several users' changes inside the room's 250 ms window as one whole set when it ends", () => {
		const { typing, sent, advance, clock } = typingWith();
		const t0 = clock.now;
		typing.touch("alice");
		advance(50);
		typing.touch("bob");
		advance(50);
		typing.touch("carol");
		expect(sent).toEqual([{ at: t0, set: ["alice"], by: "alice" }]);
		advance(200);
		expect(sent).toEqual([
			{ at: t0, set: ["alice"], by: "alice" },
			{ at: t0 + 250, set: ["alice", "bob", "carol"], by: "carol" },
		]);
		// Refreshes of typers already in the set send nothing.
		typing.touch("bob");
		advance(1_000);
		expect(sent).toHaveLength(2);
	});

	it("still sends one user's start and stop a second apart, and expires a typer after 6 s", () => {
		const { typing, sent, advance, clock } = typingWith();
		const t0 = clock.now;
		typing.touch("alice");
		advance(100);
		typing.stop("alice");
		advance(1_000);
		typing.touch("bob");
		advance(6_000);
		expect(sent).toEqual([
			{ at: t0, set: ["alice"], by: "alice" },
			{ at: t0 + 1_000, set: [], by: "alice" },
			// Inside the room's window after alice's stop: it waits for the window to end.
			{ at: t0 + 1_250, set: ["bob"], by: "bob" },
			{ at: t0 + 7_100, set: [], by: "bob" },
		]);
	});
});
