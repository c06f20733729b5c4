// The socket.io 4 peer of `npm run bench`: the same events as the service, a seq per room.
// Usage: node bench/socketio-server.mjs <port> [<sqlite file> <synchronous>]
// Without a file, messages are kept in memory. With one, each message is inserted into SQLite
// (node:sqlite, journal_mode=WAL, the given synchronous setting: NORMAL does not fsync per
// commit, FULL does) before it is broadcast and acked, as our room object writes before it sends.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const file = process.argv[3];
const synchronous = process.argv[4] ?? "NORMAL";
if (!["OFF", "NORMAL", "FULL"].includes(synchronous)) throw new Error(`synchronous must be OFF, NORMAL or FULL, got ${synchronous}`);

/** Stores one message; returns its seq. */
let store = (() => {
	/** room id -> stored messages (seq = index + 1) */
	const rooms = new Map();
	return {
		lastSeq: (roomId) => rooms.get(roomId)?.length ?? 0,
		insert(message) {
			const log = rooms.get(message.room_id) ?? [];
			rooms.set(message.room_id, log);
			log.push(message);
		},
	};
})();

if (file) {
	const { DatabaseSync } = await import("node:sqlite");
	const db = new DatabaseSync(file);
	db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=${synchronous};`);
	db.exec(
		"CREATE TABLE IF NOT EXISTS messages (room_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL, text_message TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (room_id, seq))",
	);
	const last = db.prepare("SELECT COALESCE(MAX(seq), 0) AS s FROM messages WHERE room_id = ?");
	const insert = db.prepare("INSERT INTO messages (room_id, seq, id, user_id, text_message, created_at) VALUES (?, ?, ?, ?, ?, ?)");
	const seqs = new Map();
	store = {
		lastSeq(roomId) {
			if (!seqs.has(roomId)) seqs.set(roomId, Number(last.get(roomId).s));
			return seqs.get(roomId);
		},
		insert(m) {
			// Autocommit: one transaction (and, with FULL, one fsync) per message.
			insert.run(m.room_id, m.seq, m.id, m.user_id, m.text_message, m.created_at);
			seqs.set(m.room_id, m.seq);
		},
	};
}

const http = createServer((req, res) => {
	res.writeHead(req.url === "/health" ? 200 : 404).end("ok");
});
const io = new Server(http, { transports: ["websocket"], serveClient: false });

io.on("connection", (socket) => {
	const user = String(socket.handshake.query.user ?? "u");
	socket.on("join_room", (data, ack) => {
		socket.join(data.room_id);
		if (typeof ack === "function") ack({ room_id: data.room_id, last_seq: store.lastSeq(data.room_id) });
	});
	socket.on("send_message", (data, ack) => {
		const message = {
			id: randomUUID(),
			room_id: data.room_id,
			seq: store.lastSeq(data.room_id) + 1,
			user_id: user,
			text_message: data.text_message,
			created_at: new Date().toISOString(),
		};
		store.insert(message);
		io.to(data.room_id).emit("new_message", message);
		if (typeof ack === "function") ack(message);
	});
	socket.on("leave_room", (data, ack) => {
		socket.leave(data.room_id);
		if (typeof ack === "function") ack({ room_id: data.room_id });
	});
});

http.listen(port, "127.0.0.1", () =>
	console.log(`socket.io listening on ${port}${file ? ` (SQLite ${file}, WAL, synchronous=${synchronous})` : ""}`),
);
