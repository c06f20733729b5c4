import { describe, expect, it } from "vitest";
import { checkTargetUrl, isPrivateHost } from "../../src/webhooks/url-policy";

describe("webhook URL policy", () => {
	it("accepts public https URLs and drops the fragment", () => {
		expect(checkTargetUrl("https://hooks.example.com/chat?x=1#frag", false)).toEqual({
			ok: true,
			url: "https://hooks.example.com/chat?x=1",
		});
		expect(checkTargetUrl("https://8.8.8.8/hook", false)).toEqual({ ok: true, url: "https://8.8.8.8/hook" });
	});

	it("refuses http, other schemes, credentials and garbage, saying why", () => {
		expect(checkTargetUrl("http://hooks.example.com/", false)).toEqual({
			ok: false,
			reason: "must use https:// (http:// needs WEBHOOK_ALLOW_INSECURE=1 on the server)",
		});
		expect(checkTargetUrl("ftp://hooks.example.com/", true)).toEqual({ ok: false, reason: "must use https:// or http://" });
		expect(checkTargetUrl("https://user:pw@hooks.example.com/", false)).toEqual({
			ok: false,
			reason: "must not carry credentials (user:password@)",
		});
		expect(checkTargetUrl("not a url", false)).toEqual({ ok: false, reason: "is not a valid absolute URL" });
	});

	it.each([
		"https://localhost/",
		"https://api.localhost/",
		"https://127.0.0.1/",
		"https://127.1.2.3:8443/",
		"https://10.1.2.3/",
		"https://172.16.0.1/",
		"https://172.31.255.255/",
		"https://192.168.1.1/",
		"https://169.254.169.254/latest/meta-data",
		"https://100.64.0.1/",
		"https://0.0.0.0/",
		"https://[::1]/",
		"https://[fd00::1]/",
		"https://[fe80::1]/",
		"https://[::ffff:127.0.0.1]/",
		"https://[::ffff:10.0.0.1]/",
		// IPv4-compatible (::/96): URL serialises [::127.0.0.1] as [::7f00:1].
		"https://[::127.0.0.1]/",
		"https://[::7f00:1]/",
		"https://[::a00:1]/",
		"https://[::]/",
		"https://[0:0:0:0:0:0:0:1]/",
		// IPv4-mapped and -translated, whatever address they carry (a gateway may translate them).
		"https://[::ffff:8.8.8.8]/",
		"https://[::ffff:0:127.0.0.1]/",
		// NAT64, well-known and local-use prefixes.
		"https://[64:ff9b::127.0.0.1]/",
		"https://[64:ff9b::7f00:1]/",
		"https://[64:ff9b::808:808]/",
		"https://[64:ff9b:1::a00:1]/",
		// 6to4 of a private address, site-local, multicast, documentation, discard.
		"https://[2002:7f00:1::1]/",
		"https://[2002:c0a8:101::]/",
		"https://[fec0::1]/",
		"https://[ff02::1]/",
		"https://[2001:db8::1]/",
		"https://[100::1]/",
		"https://metadata.google.internal/",
		"https://printer.local/",
		"https://intranet/",
		"https://2130706433/",
		"https://0x7f000001/",
	])("refuses the private target %s unless insecure targets are allowed", (url) => {
		const verdict = checkTargetUrl(url, false);
		expect(verdict).toEqual({
			ok: false,
			reason: "points at a private, loopback or link-local address (allowed only with WEBHOOK_ALLOW_INSECURE=1 on the server)",
		});
		expect(checkTargetUrl(url, true).ok).toBe(true);
	});

	it("allows http://127.0.0.1 with WEBHOOK_ALLOW_INSECURE", () => {
		expect(checkTargetUrl("http://127.0.0.1:4567/hook", true)).toEqual({ ok: true, url: "http://127.0.0.1:4567/hook" });
	});

	it("does not mistake public addresses for private ones", () => {
		expect(isPrivateHost("172.32.0.1")).toBe(false);
		expect(isPrivateHost("192.169.0.1")).toBe(false);
		expect(isPrivateHost("[2606:4700::1111]")).toBe(false);
		expect(isPrivateHost("[2606:4700:4700::64]")).toBe(false);
		// 6to4 of a public address, and addresses that only look like the refused prefixes.
		expect(isPrivateHost("[2002:808:808::1]")).toBe(false);
		expect(isPrivateHost("[64:ff9c::1]")).toBe(false);
		expect(isPrivateHost("[1::7f00:1]")).toBe(false);
		expect(isPrivateHost("[::1:0:0:7f00:1]")).toBe(false);
		expect(isPrivateHost("example.com")).toBe(false);
	});
});
