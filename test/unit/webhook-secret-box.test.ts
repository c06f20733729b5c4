import { describe, expect, it } from "vitest";
import { SecretBox } from "../../src/webhooks/secret-box";

describe("endpoint secrets at rest", () => {
	it("seal with AES-GCM: the sealed text hides the secret and opens only under the same key and endpoint", async () => {
		const box = await SecretBox.fromOperatorSecret("operator-key");
		const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
		const sealed = await box.seal(secret, "endpoint-1");
		expect(sealed).toMatch(/^v1\.[A-Za-z0-9+/]{16}\.[A-Za-z0-9+/=]+$/);
		expect(sealed).not.toContain("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
		expect(await box.seal(secret, "endpoint-1")).not.toBe(sealed);
		expect(await box.open(sealed, "endpoint-1")).toBe(secret);
		await expect(box.open(sealed, "endpoint-2")).rejects.toThrow();
		const other = await SecretBox.fromOperatorSecret("another-key");
		await expect(other.open(sealed, "endpoint-1")).rejects.toThrow();
		await expect(box.open("v0.x.y", "endpoint-1")).rejects.toThrow(new Error("unknown sealed secret format"));
	});
});
