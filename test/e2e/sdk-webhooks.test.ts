// The SDK's verifyWebhook against the Standard Webhooks spec's test vector and the official
// `standardwebhooks` package, both ways: it accepts what that package signs, and that package
// accepts what our server signs.
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { verifyWebhook, verifyWebhookSignature, WebhookVerificationError } from "../../src/client";
import { generateSecret, signedHeaders } from "../../src/webhooks/signing";

const SPEC = {
	secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
	timestamp: 1614265330,
	body: '{"test": 2432232314}',
	signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
const at = (seconds: number) => ({ now: () => seconds * 1000 });
const event = JSON.stringify({
	type: "member.removed",
	timestamp: "2026-12-01T09:00:00.000Z",
	data: { room_id: "0190a000-0000-7000-8000-000000000001", user_id: "0190a000-0000-7000-8000-000000000002" },
});

async function refusal(promise: Promise<unknown>): Promise<[string, string]> {
	const error = await promise.then(
		() => null,
		(e: unknown) => e,
	);
	if (!(error instanceof WebhookVerificationError)) throw new Error(`expected a WebhookVerificationError, got ${String(error)}`);
	return [error.code, error.message];
}

describe("verifyWebhook", () => {
	it("verifies the spec's test vector (and verifyWebhook then refuses its body, which is not an event)", async () => {
		const headers = { "webhook-id": SPEC.id, "webhook-timestamp": String(SPEC.timestamp), "webhook-signature": SPEC.signature };
		// With the clock at the vector's timestamp, the vector's signature verifies, as a string and as bytes.
		await expect(verifyWebhookSignature(SPEC.secret, headers, SPEC.body, at(SPEC.timestamp))).resolves.toBeUndefined();
		await expect(
			verifyWebhookSignature(SPEC.secret, headers, new TextEncoder().encode(SPEC.body), at(SPEC.timestamp)),
		).resolves.toBeUndefined();
		expect(await refusal(verifyWebhookSignature(SPEC.secret, headers, `${SPEC.body} `, at(SPEC.timestamp)))).toEqual([
			"invalid_signature",
			"No v1 signature matches this secret",
		]);
		expect(await refusal(verifyWebhook(SPEC.secret, headers, SPEC.body, at(SPEC.timestamp)))).toEqual([
			"invalid_payload",
			"Expected {type, timestamp, data}",
		]);
		const wrong = { ...headers, "webhook-signature": "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=" };
		expect(await refusal(verifyWebhook(SPEC.secret, wrong, SPEC.body, at(SPEC.timestamp)))).toEqual([
			"invalid_signature",
			"No v1 signature matches this secret",
		]);
	});

	it("accepts what the official standardwebhooks package signs", async () => {
		const secret = generateSecret();
		const now = Math.floor(Date.now() / 1000);
		const signature = new Webhook(secret).sign("evt_1", new Date(now * 1000), event);
		const headers = new Headers({ "webhook-id": "evt_1", "webhook-timestamp": String(now), "webhook-signature": signature });
		expect(await verifyWebhook(secret, headers, event)).toEqual(JSON.parse(event));
		expect(await verifyWebhook(secret, headers, new TextEncoder().encode(event))).toEqual(JSON.parse(event));
	});

	it("signs a bytes body as the bytes it is, not as the text they decode to", async () => {
		const secret = generateSecret();
		const now = 1_800_000_000;
		// Not valid UTF-8 inside a JSON string: decoding and re-encoding would turn 0xff into U+FFFD (3 other bytes).
		const prefix = new TextEncoder().encode(event.slice(0, -3));
		const raw = new Uint8Array([...prefix, 0xff, ...new TextEncoder().encode('"}}')]);
		const id = "evt_bytes";
		const key = Buffer.from(secret.slice("whsec_".length), "base64");
		const mac = createHmac("sha256", key)
			.update(Buffer.concat([Buffer.from(`${id}.${now}.`), Buffer.from(raw)]))
			.digest("base64");
		const headers = { "webhook-id": id, "webhook-timestamp": String(now), "webhook-signature": `v1,${mac}` };
		await expect(verifyWebhookSignature(secret, headers, raw, at(now))).resolves.toBeUndefined();
		expect(await verifyWebhook(secret, headers, raw, at(now))).toMatchObject({ type: "member.removed" });
		// The same bytes decoded to text first no longer match: the signature is over bytes.
		expect(await refusal(verifyWebhook(secret, headers, new TextDecoder().decode(raw), at(now)))).toEqual([
			"invalid_signature",
			"No v1 signature matches this secret",
		]);
	});

	it("produces, on the server, what the official package verifies, including both signatures of a rotation", async () => {
		const [next, previous] = [generateSecret(), generateSecret()];
		const now = Math.floor(Date.now() / 1000);
		const headers = await signedHeaders([next, previous], "evt_2", now, event);
		expect(new Webhook(next).verify(event, headers)).toEqual(JSON.parse(event));
		expect(new Webhook(previous).verify(event, headers)).toEqual(JSON.parse(event));
		expect(() => new Webhook(generateSecret()).verify(event, headers)).toThrow();
		expect(await verifyWebhook(previous, headers, event)).toEqual(JSON.parse(event));
	});

	it("refuses a re-serialised body, an old timestamp, missing headers and a non-whsec secret", async () => {
		const secret = generateSecret();
		const now = 1_800_000_000;
		const headers = await signedHeaders([secret], "evt_3", now, event);
		const reserialised = JSON.stringify(JSON.parse(event), null, 1);
		expect(await refusal(verifyWebhook(secret, headers, reserialised, at(now)))).toEqual([
			"invalid_signature",
			"No v1 signature matches this secret",
		]);
		expect(await verifyWebhook(secret, headers, event, at(now + 300))).toMatchObject({ type: "member.removed" });
		expect(await refusal(verifyWebhook(secret, headers, event, at(now + 301)))).toEqual([
			"timestamp_out_of_range",
			"webhook-timestamp is missing, malformed or too far from now",
		]);
		expect(await refusal(verifyWebhook(secret, headers, event, at(now - 301)))).toEqual([
			"timestamp_out_of_range",
			"webhook-timestamp is missing, malformed or too far from now",
		]);
		expect(await refusal(verifyWebhook(secret, { "webhook-id": "evt_3" }, event, at(now)))).toEqual([
			"missing_headers",
			"Expected webhook-id, webhook-timestamp and webhook-signature headers",
		]);
		expect(await refusal(verifyWebhook("whsec_not base64!", headers, event, at(now)))).toEqual([
			"invalid_secret",
			"The secret is not a whsec_ value",
		]);
		// Another id with the same signature (a replay under a new id) does not verify.
		expect(await refusal(verifyWebhook(secret, { ...headers, "webhook-id": "evt_4" }, event, at(now)))).toEqual([
			"invalid_signature",
			"No v1 signature matches this secret",
		]);
	});
});
