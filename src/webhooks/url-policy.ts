/**
 * Which URLs an endpoint may point at. By default only `https://` to a public host name or
 * address: a webhook must not become a way to reach the operator's own network (SSRF).
 * WEBHOOK_ALLOW_INSECURE=1 (local development, the tests) also allows `http://` and private,
 * loopback and link-local targets. Host names that resolve to private addresses cannot be
 * caught here (Workers have no DNS API); on bare workerd the network service that makes the
 * requests refuses private addresses too unless that setting is on (selfhost/workerd.capnp).
 */
export type UrlVerdict = { ok: true; url: string } | { ok: false; reason: string };

const ipv4 = (host: string): number[] | null => {
	const parts = host.split(".");
	if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p))) return null;
	const octets = parts.map(Number);
	return octets.every((o) => o <= 255) ? octets : null;
};

const privateIpv4 = ([a = 0, b = 0]: number[]): boolean =>
	a === 0 ||
	a === 10 ||
	a === 127 ||
	(a === 100 && b >= 64 && b <= 127) ||
	(a === 169 && b === 254) ||
	(a === 172 && b >= 16 && b <= 31) ||
	(a === 192 && b === 168) ||
	(a === 198 && (b === 18 || b === 19)) ||
	a >= 224;

const privateIpv6 = (host: string): boolean => {
	const h = host.toLowerCase();
	if (h === "::" || h === "::1") return true;
	if (/^f[cd]/.test(h) || /^fe[89ab]/.test(h) || h.startsWith("ff")) return true;
	// IPv4-mapped (::ffff:a.b.c.d, which URL normalises to ::ffff:xxxx:xxxx).
	const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
	if (mapped) {
		const hi = Number.parseInt(mapped[1] as string, 16);
		const lo = Number.parseInt(mapped[2] as string, 16);
		return privateIpv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
	}
	return h.startsWith("::ffff:");
};

/** Private, loopback, link-local or otherwise not publicly routable, by name or literal address. */
export function isPrivateHost(hostname: string): boolean {
	const host = hostname.toLowerCase().replace(/\.$/, "");
	if (host.startsWith("[") && host.endsWith("]")) return privateIpv6(host.slice(1, -1));
	const v4 = ipv4(host);
	if (v4) return privateIpv4(v4);
	if (!host.includes(".")) return true;
	return host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") || host.endsWith(".internal");
}

export function checkTargetUrl(raw: string, allowInsecure: boolean): UrlVerdict {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return { ok: false, reason: "is not a valid absolute URL" };
	}
	if (url.username || url.password) return { ok: false, reason: "must not carry credentials (user:password@)" };
	if (url.protocol !== "https:" && !(allowInsecure && url.protocol === "http:")) {
		return {
			ok: false,
			reason: allowInsecure ? "must use https:// or http://" : "must use https:// (http:// needs WEBHOOK_ALLOW_INSECURE=1 on the server)",
		};
	}
	if (!allowInsecure && isPrivateHost(url.hostname)) {
		return {
			ok: false,
			reason: "points at a private, loopback or link-local address (allowed only with WEBHOOK_ALLOW_INSECURE=1 on the server)",
		};
	}
	url.hash = "";
	return { ok: true, url: url.toString() };
}
