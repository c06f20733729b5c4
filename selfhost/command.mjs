// The one workerd command line for self-hosting. `npm run selfhost`, the tests
// (test/e2e/harness.ts) and the production image (Dockerfile CMD, checked by
// test/e2e/compose.test.ts) all run exactly these arguments.
//
// A workerd config cannot read the environment for its listen address or its
// directories, so PORT and DATA_DIR reach it as command-line overrides of the
// socket and disk service named in workerd.capnp.

/** Config file, relative to the repository root (the working directory in the image too). */
export const CONFIG = "selfhost/workerd.capnp";

/**
 * @param {{ address: string, dataDir: string }} where
 *   address: `host:port` to listen on; dataDir: directory holding the Durable Objects' SQLite files.
 * @returns {string[]} arguments for the workerd binary
 */
export function workerdArgs({ address, dataDir }) {
	// --experimental: durableObjectStorage.localDisk is marked experimental in workerd's schema.
	return ["serve", CONFIG, "--experimental", "--socket-addr", `http=${address}`, "--directory-path", `data=${dataDir}`];
}

/** Where the production image listens and keeps its data (a named volume). */
export const IMAGE = { address: "*:8787", dataDir: "/data" };
