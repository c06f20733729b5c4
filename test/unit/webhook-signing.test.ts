import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateSecret, SECRET_PREFIX, secretKeyBytes, sign, signedHeaders } from "../../src/webhooks/signing";

// The test vector published with the Standard Webhooks reference libraries.
const SPEC = {
	secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
	timestamp: 1614265330,
	body: '{"test": 2432232314}',
	signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

/** An independent verifier: a few lines of node:crypto, not our code. */
const nodeSignature = (secret: string, id: string, ts: number, body: string) =>
	`v1,${createHmac("sha256", Buffer.from(secret.slice("whsec_".length), "base64"))
		.update(`${id}.${ts}.${body}`)
		.digest("base64")}`;

describe("Standard Webhooks signatures", () => {
	it("reproduce the spec's published test vector", async () => {
		expect(await sign(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
	});

	it("agree with node:crypto for generated secrets and unicode bodies", async () => {
		const secret = generateSecret();
		const body = JSON.stringify({ type: "message.new", data: { text_message: "héllo 👋" } });
		expect(await sign(secret, "evt_1", 1_800_000_000, body)).toBe(nodeSignature(secret, "evt_1", 1_800_000_000, body));
	});

	it("sign with every given secret, space separated, for rotations", async () => {
		const [a, b] = [generateSecret(), generateSecret()];
		const headers = await signedHeaders([a, b], "evt_2", 1_800_000_001, "{}");
		expect(headers).toEqual({
			"webhook-id": "evt_2",
			"webhook-timestamp": "1800000001",
			"webhook-signature": `${nodeSignature(a, "evt_2", 1_800_000_001, "{}")} ${nodeSignature(b, "evt_2", 1_800_000_001, "{}")}`,
		});
	});

	it("generate whsec_ secrets of 32 random bytes", () => {
		const secret = generateSecret();
		expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
		expect(secretKeyBytes(secret)).toHaveLength(32);
		expect(generateSecret()).not.toBe(secret);
		expect(() => secretKeyBytes("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).toThrow(new Error(`webhook secrets start with ${SECRET_PREFIX}`));
	});
});
