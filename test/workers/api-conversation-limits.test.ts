// REST edits, deletes and reactions take from the same per-user budget in a room as REST sends
// (REST_SEND_RATE_PER_SECOND=20, REST_SEND_RATE_BURST=40), while another user and the backend carry on.
import { beforeAll, describe, expect, it } from "vitest";
import { call, type Reply, room, type Tenant, tenant } from "./helpers";

let t: Tenant;

beforeAll(async () => {
	t = await tenant(2, "conversation-limits");
});

const as = (i: number) => t.users[i]!;
const CHANGE_LIMITED = { error: { code: "rate_limited", message: "Too many changes from this user in this room, slow down" } };
const SEND_LIMITED = { error: { code: "rate_limited", message: "Too many messages from this user in this room, slow down" } };

describe("REST edits, deletes and reactions: the REST write budget per user and room", () => {
	it("a burst of every kind gets 429 rate_limited once the budget is spent, sends included; others are unaffected", async () => {
		const r = await room(t, {});
		const path = (id: string) => `/room/${r.id}/messages/${id}`;
		const post = async (text: string) => {
			const res = await call("POST", `/room/${r.id}/message/send`, as(0).auth, { text_message: text });
			expect(res.status).toBe(201);
			return res.json.id as string;
		};
		const [edited, reacted, deleted] = [await post("edit me"), await post("react to me"), await post("delete me")];
		const kinds: Record<string, () => Promise<Reply>> = {
			edit: () => call("PATCH", path(edited), as(0).auth, { text_message: "edited" }),
			add_reaction: () => call("POST", `${path(reacted)}/reactions`, as(0).auth, { type: "👍" }),
			remove_reaction: () => call("DELETE", `${path(reacted)}/reactions/${encodeURIComponent("👍")}`, as(0).auth),
			delete: () => call("DELETE", path(deleted), as(0).auth),
			send: () => call("POST", `/room/${r.id}/message/send`, as(0).auth, { text_message: "more" }),
		};
		const names = Object.keys(kinds);
		const refused = new Map<string, Reply>();
		const started = Date.now();
		let accepted = 3;
		for (let i = 0; refused.size < names.length && i < 400; i++) {
			const name = names[i % names.length]!;
			const res = await kinds[name]!();
			if (res.status === 429) {
				if (!refused.has(name)) refused.set(name, res);
			} else {
				expect([name, res.status]).toEqual([name, name === "send" ? 201 : 200]);
				accepted++;
			}
		}
		const elapsed = (Date.now() - started) / 1000;
		expect(Object.fromEntries([...refused].map(([name, res]) => [name, { status: res.status, json: res.json }]))).toEqual({
			edit: { status: 429, json: CHANGE_LIMITED },
			add_reaction: { status: 429, json: CHANGE_LIMITED },
			remove_reaction: { status: 429, json: CHANGE_LIMITED },
			delete: { status: 429, json: CHANGE_LIMITED },
			send: { status: 429, json: SEND_LIMITED },
		});
		// One budget for all of them: the burst, plus whatever refilled at 20/s meanwhile.
		expect(accepted).toBeGreaterThanOrEqual(40);
		expect(accepted).toBeLessThanOrEqual(40 + Math.ceil(elapsed * 20) + 1);
		// Another user in the room has a budget of their own; the backend's deletes are not limited.
		const other = await call("POST", `${path(reacted)}/reactions`, as(1).auth, { type: "🎉" });
		expect(other.status).toBe(200);
		expect((await call("DELETE", path(edited), t.backend)).status).toBe(200);
	});
});
