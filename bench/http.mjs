// Small helpers the benchmark scripts share: a JSON REST call, and a bounded pool of async work.

/** A JSON request to the service; throws with the status and body unless it answered 2xx. */
export async function call(base, method, path, headers, body) {
	const res = await fetch(`${base}${path}`, {
		method,
		headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const json = await res.json().catch(() => null);
	if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
	return json;
}

/** Runs `fn` over `items` with at most `n` at once; resolves with the results in order. */
export async function pool(items, n, fn) {
	let next = 0;
	const out = new Array(items.length);
	await Promise.all(
		Array.from({ length: Math.min(n, items.length) }, async () => {
			while (next < items.length) {
				const i = next++;
				out[i] = await fn(items[i], i);
			}
		}),
	);
	return out;
}
