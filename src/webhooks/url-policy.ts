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

/** The eight 16-bit groups of an IPv6 literal as URL serialises it (hex only, `::` at most once), or null. */
const ipv6Groups = (host: string): number[] | null => {
	const halves = host.split("::");
	if (halves.length > 2) return null;
	const parse = (part: string | undefined) =>
		part ? part.split(":").map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? Number.parseInt(g, 16) : Number.NaN)) : [];
	const head = parse(halves[0]);
	const tail = parse(halves[1]);
	const groups = halves.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill(0), ...tail] : head;
	return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0) ? groups : null;
};

const v4Of = (hi: number, lo: number): number[] => [hi >> 8, hi & 255, lo >> 8, lo & 255];

/**
 * IPv6 targets that are not public: unspecified, loopback, unique-local, link- and site-local,
 * multicast, documentation and discard ranges, and every prefix that embeds an IPv4 address a
 * gateway may translate to (IPv4-compatible `::/96`, IPv4-mapped `::ffff:0:0/96`, IPv4-translated
 * `::ffff:0:0:0/96`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`), whatever IPv4 address they carry.
 * 6to4 (`2002::/16`) is refused when its embedded IPv4 address is private.
 */
const privateIpv6 = (host: string): boolean => {
	const g = ipv6Groups(host.toLowerCase());
	if (!g) return true;
	const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0] = g;
	const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
	if (zeroTo(6)) return true; // ::/96: ::, ::1 and IPv4-compatible addresses
	if (zeroTo(5) && f === 0xffff) return true; // ::ffff:0:0/96, IPv4-mapped
	if (zeroTo(4) && e === 0xffff && f === 0) return true; // ::ffff:0:0:0/96, IPv4-translated
	if (a === 0x64 && b === 0xff9b && ((c === 0 && d === 0 && e === 0 && f === 0) || c === 1)) return true; // NAT64
	if (a === 0x100 && b === 0 && c === 0 && d === 0) return true; // 100::/64, discard
	if (a === 0x2001 && b === 0xdb8) return true; // documentation
	if (a === 0x2002) return privateIpv4(v4Of(b, c)); // 6to4
	return (a & 0xfe00) === 0xfc00 || (a & 0xffc0) === 0xfe80 || (a & 0xffc0) === 0xfec0 || (a & 0xff00) === 0xff00;
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
