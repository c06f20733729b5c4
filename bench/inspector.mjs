// A Chrome DevTools Protocol client for a Deno process started with --inspect=<host:port>: the
// bench scripts that profile the Deno host (deno-cpu-profile.mjs, deno-idle-heap.mjs) share it.
import WebSocket from "ws";

/** Connects to the first target of the inspector at `hostPort`; `send` resolves with a method's result. */
export async function connectInspector(hostPort) {
	const targets = await (await fetch(`http://${hostPort}/json`)).json();
	const cdp = new WebSocket(targets[0].webSocketDebuggerUrl);
	await new Promise((resolve) => cdp.once("open", resolve));
	let nextId = 0;
	const pending = new Map();
	cdp.on("message", (data) => {
		const message = JSON.parse(data);
		if (message.id === undefined) return;
		pending.get(message.id)?.(message.result);
		pending.delete(message.id);
	});
	const send = (method, params = {}) =>
		new Promise((resolve) => {
			const id = ++nextId;
			pending.set(id, resolve);
			cdp.send(JSON.stringify({ id, method, params }));
		});
	return { send, close: () => cdp.close() };
}
