// A TCP proxy between an SDK client and a real server, so a test can break the network
// the way real networks break: reset connections, go silent, lose one direction, refuse.
import { createServer, type Server, Socket } from "node:net";

interface Pair {
	client: Socket;
	upstream: Socket;
}

export class TcpProxy {
	/** Connections accepted since start (refused ones included). */
	accepted = 0;
	/** While true, new connections are reset at once (the server is unreachable). */
	refusing = false;
	private readonly pairs = new Set<Pair>();
	private readonly sockets = new Set<Socket>();

	private constructor(
		private readonly server: Server,
		readonly port: number,
	) {}

	static async start(targetPort: number): Promise<TcpProxy> {
		const server = createServer();
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		const address = server.address();
		const proxy = new TcpProxy(server, typeof address === "object" && address ? address.port : 0);
		server.on("connection", (client) => proxy.accept(client, targetPort));
		return proxy;
	}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	/** Connections currently relayed. */
	get live(): number {
		return this.pairs.size;
	}

	private accept(client: Socket, targetPort: number): void {
		this.accepted += 1;
		this.sockets.add(client);
		client.on("close", () => this.sockets.delete(client));
		if (this.refusing) {
			reset(client);
			return;
		}
		const upstream = new Socket();
		const pair = { client, upstream };
		this.pairs.add(pair);
		const end = () => {
			this.pairs.delete(pair);
			client.destroy();
			upstream.destroy();
		};
		client.on("error", end).on("close", end);
		upstream.on("error", end).on("close", end);
		upstream.connect(targetPort, "127.0.0.1");
		client.pipe(upstream);
		upstream.pipe(client);
	}

	/** Resets every relayed connection (both ends see the TCP connection die). */
	killAll(): void {
		for (const { client, upstream } of [...this.pairs]) {
			reset(client);
			reset(upstream);
		}
	}

	/** Stops relaying on the current connections while keeping them open: nothing arrives, nothing errors. */
	silenceAll(): void {
		for (const { client, upstream } of this.pairs) {
			client.unpipe(upstream);
			upstream.unpipe(client);
			client.on("data", () => {});
			upstream.on("data", () => {});
		}
	}

	/** Keeps client -> server flowing but drops server -> client on the current connections. */
	dropDownstream(): void {
		for (const { client, upstream } of this.pairs) {
			upstream.unpipe(client);
			upstream.on("data", () => {});
		}
	}

	async close(): Promise<void> {
		this.refusing = true;
		this.killAll();
		for (const socket of this.sockets) socket.destroy();
		await new Promise<void>((resolve) => this.server.close(() => resolve()));
	}
}

/** An RST where the socket allows one (a socket still connecting does not). */
function reset(socket: Socket): void {
	try {
		socket.resetAndDestroy();
	} catch {
		socket.destroy();
	}
}
