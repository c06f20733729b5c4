// REST edits stop at MAX_MESSAGE_VERSIONS (100 versions: the original and 99 edits) with 409 too_many_versions.
import { describe, expect, it } from "vitest";
import { call, room, tenant } from "./helpers";

describe("PATCH /room/{room_id}/messages/{message_id}: at most 100 versions", () => {
	it("the edit after the 99th gets 409 too_many_versions; the versions stay readable", async () => {
		const t = await tenant(1, "versions");
		const me = t.users[0]!;
		const r = await room(t, {});
		const sent = await call("POST", `/room/${r.id}/message/send`, me.auth, { text_message: "v1" });
		expect(sent.status).toBe(201);
		const path = `/room/${r.id}/messages/${sent.json.id}`;
		/** An edit, waiting out the REST write budget (20/s after a burst of 40) when it is spent. */
		const edit = async (text: string) => {
			for (;;) {
				const res = await call("PATCH", path, me.auth, { text_message: text });
				if (res.status !== 429) return res;
				await new Promise((resolve) => setTimeout(resolve, 60));
			}
		};
		for (let v = 2; v <= 100; v++) expect((await edit(`v${v}`)).status).toBe(200);
		const refused = await edit("v101");
		expect({ status: refused.status, json: refused.json }).toEqual({
			status: 409,
			json: { error: { code: "too_many_versions", message: "This message has 100 versions, the most a message may have" } },
		});
		const versions = await call("GET", `${path}/versions`, me.auth);
		expect(versions.status).toBe(200);
		expect(versions.json.versions.map((v: { version: number }) => v.version)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
		expect(versions.json.versions.at(-1).text_message).toBe("v100");
	});
});
