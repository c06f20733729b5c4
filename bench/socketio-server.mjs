// The socket.io 4 peer of `npm run bench`: the same events as the service, messages kept
// in memory with a seq per room. Usage: node bench/socketio-server.mjs <port>
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const http = createServer((req, res) => {
	res.writeHead(req.url === "/health" ? 200 : 404).end("ok");
});
const io = new Server(http, { transports: ["websocket"], serveClient: false });
/** room id -> stored messages (seq = index + 1) */
const rooms = new Map();

io.on("connection", (socket) => {
	const user = String(socket.handshake.query.user ?? "u");
	socket.on("join_room", (data, ack) => {
		const log = rooms.get(data.room_id) ?? [];
		rooms.set(data.room_id, log);
		socket.join(data.room_id);
		if (typeof ack === "function") ack({ room_id: data.room_id, last_seq: log.length });
	});
	socket.on("send_message", (data, ack) => {
		const log = rooms.get(data.room_id) ?? [];
		rooms.set(data.room_id, log);
		const message = {
			id: randomUUID(),
			room_id: data.room_id,
			seq: log.length + 1,
			user_id: user,
			text_message: data.text_message,
			created_at: new Date().toISOString(),
		};
		log.push(message);
		io.to(data.room_id).emit("new_message", message);
		if (typeof ack === "function") ack(message);
	});
	socket.on("leave_room", (data, ack) => {
		socket.leave(data.room_id);
		if (typeof ack === "function") ack({ room_id: data.room_id });
	});
});

http.listen(port, "127.0.0.1", () => console.log(`socket.io listening on ${port}`));
