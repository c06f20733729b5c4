// What the benchmark scripts share on the command line and in their output.

/**
 * The value of `--name=value`, or `fallback`. Everything after the first `=` is the value, so
 * `--ours-env=DENO_COMMIT=statement` gives `DENO_COMMIT=statement`.
 */
export const arg = (name, fallback) => {
	const prefix = `--${name}=`;
	const found = process.argv.find((a) => a.startsWith(prefix));
	return found === undefined ? fallback : found.slice(prefix.length);
};

/** `--name=K=V,K=V` as an object of environment variables (each value after its first `=`). */
export const envArg = (name) =>
	Object.fromEntries(
		arg(name, "")
			.split(",")
			.filter(Boolean)
			.map((kv) => {
				const at = kv.indexOf("=");
				if (at <= 0) throw new Error(`--${name} takes NAME=value pairs, got ${JSON.stringify(kv)}`);
				return [kv.slice(0, at), kv.slice(at + 1)];
			}),
	);

export const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
