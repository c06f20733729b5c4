// The SDK's verifyWebhook against the Standard Webhooks spec's test vector and the official
// `standardwebhooks` package, both ways: it accepts what that package signs, and that package
// accepts what our server signs.
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { verifyWebhook, WebhookVerificationError } from "../../src/client";
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
	it("accepts the spec's test vector signature (and then refuses its body, which is not an event)", async () => {
		const headers = { "webhook-id": SPEC.id, "webhook-timestamp": String(SPEC.timestamp), "webhook-signature": SPEC.signature };
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
