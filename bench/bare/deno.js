// The "deno-bare" peer of `npm run bench`: the least a room can do on Deno, as bench/bare/worker.ts
// is on workerd. `Deno.serve` and `Deno.upgradeWebSocket`, one SQLite file per room as the Deno host
// keeps them (node:sqlite, WAL, synchronous=FULL: SQLite fsyncs each message before it is sent),
// the message broadcast to the room's joined sockets and acked, frames trusted as sent. No auth, no
// validation, no outbox, no unread counts: what is left is Deno's own cost per socket and message.
// BARE_FILES=one puts every room in one file, as socket.io + SQLite does.
import { DatabaseSync } from "node:sqlite";

const port = Number(Deno.env.get("PORT") ?? "8787");
const dataDir = Deno.env.get("DATA_DIR") ?? ".";
const oneFile = Deno.env.get("BARE_FILES") === "one";
const SCHEMA =
	"CREATE TABLE IF NOT EXISTS messages (room_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL, text_message TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (room_id, seq))";

function openInsert(path) {
	const db = new DatabaseSync(path);
	db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
	db.exec(SCHEMA);
	return db.prepare("INSERT INTO messages (room_id, seq, id, user_id, text_message, created_at) VALUES (?, ?, ?, ?, ?, ?)");
}
const shared = oneFile ? openInsert(`${dataDir}/rooms.sqlite`) : null;
const rooms = new Map();
const roomOf = (roomId) => {
	let room = rooms.get(roomId);
	if (!room) {
		room = { seq: 0, joined: new Set(), insert: shared ?? openInsert(`${dataDir}/room-${rooms.size}.sqlite`) };
		rooms.set(roomId, room);
	}
	return room;
};

const handle = (roomId, user, socket) => {
	const room = roomOf(roomId);
	const onMessage = (data) => {
		const frame = JSON.parse(data);
		if (frame.event === "join_room") {
			room.joined.add(socket);
			socket.send(JSON.stringify({ event: "ack", id: frame.id, data: { room_id: roomId, last_seq: room.seq } }));
			return;
		}
		const message = {
			id: crypto.randomUUID(),
			room_id: roomId,
			seq: ++room.seq,
			user_id: user,
			text_message: frame.data.text_message,
			created_at: new Date().toISOString(),
		};
		room.insert.run(message.room_id, message.seq, message.id, message.user_id, message.text_message, message.created_at);
		const encoded = `{"event":"new_message","data":${JSON.stringify(message)}}`;
		for (const peer of room.joined) peer.send(encoded);
		socket.send(JSON.stringify({ event: "ack", id: frame.id, data: message }));
	};
	return onMessage;
};

if (Deno.env.get("BARE_WS") === "node") {
	const http = await import("node:http");
	const { WebSocketServer } = await import("ws");
	const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
	const server = http.createServer((_req, res) => res.end("ok"));
	server.on("upgrade", (req, sock, head) => {
		const url = new URL(req.url, "http://x");
		wss.handleUpgrade(req, sock, head, (ws) => {
			const onMessage = handle(url.searchParams.get("room") ?? "r", url.searchParams.get("user") ?? "u", ws);
			ws.on("message", (d) => onMessage(d.toString()));
			ws.on("close", () => roomOf(url.searchParams.get("room") ?? "r").joined.delete(ws));
		});
	});
	server.listen(port, "127.0.0.1");
} else
	Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (request) => {
		const url = new URL(request.url);
		if (url.pathname === "/health") return new Response("ok");
		const roomId = url.searchParams.get("room") ?? "r";
		const { socket, response } = Deno.upgradeWebSocket(request);
		const onMessage = handle(roomId, url.searchParams.get("user") ?? "u", socket);
		socket.onmessage = (event) => onMessage(event.data);
		socket.onclose = () => roomOf(roomId).joined.delete(socket);
		return response;
	});
