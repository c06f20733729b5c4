// A real WebSocket client (ws, over TCP) for black-box tests: opens a room socket with the JWT
// offered as a subprotocol, splits batched server frames into events and waits for them.
import { expect } from "vitest";
import WebSocket from "ws";

// biome-ignore lint/suspicious/noExplicitAny: black-box tests read arbitrary JSON and assert on it exactly
export type ServerEvent = { event: string; id?: string | number; data?: any };

export interface RoomSocket {
	ws: WebSocket;
	/** The subprotocol the server answered with. */
	protocol: string;
	/** Resolves with the first not-yet-consumed event matching `match`. */
	next(match: (e: ServerEvent) => boolean, timeoutMs?: number): Promise<ServerEvent>;
	/** Sends a frame and resolves with the ack or error carrying its id. */
	request(event: string, data: unknown, id: string | number): Promise<ServerEvent>;
	/** Resolves with the next raw text frame (for ping/pong, which is not an event). */
	nextRaw(timeoutMs?: number): Promise<string>;
	close(): Promise<void>;
}

/** Opens `/room/{id}/ws`; rejects with the HTTP status when the server refuses the upgrade. */
export function openRoomSocket(base: string, roomId: string, token: string | null): Promise<RoomSocket> {
	return openSocket(`${base.replace(/^http/, "ws")}/room/${roomId}/ws`, token);
}

/** Opens the user socket `/ws` (one connection for all of the user's rooms). */
export function openUserSocket(base: string, token: string | null): Promise<RoomSocket> {
	return openSocket(`${base.replace(/^http/, "ws")}/ws`, token);
}

function openSocket(url: string, token: string | null): Promise<RoomSocket> {
	const ws = new WebSocket(url, token === null ? [] : ["roomkit.v1", token]);
	const events: ServerEvent[] = [];
	const raws: string[] = [];
	const waiters = new Set<() => void>();
	ws.on("message", (payload) => {
		const text = payload.toString();
		raws.push(text);
		for (const line of text.split("\n"))
			if (line.startsWith('{"event":"') && !line.startsWith('{"event":"pong"')) events.push(JSON.parse(line));
		for (const wake of waiters) wake();
	});
	const wait = <T>(take: () => T | undefined, timeoutMs: number, what: string) =>
		new Promise<T>((resolve, reject) => {
			const attempt = () => {
				const value = take();
				if (value === undefined) return;
				clearTimeout(timer);
				waiters.delete(attempt);
				resolve(value);
			};
			const timer = setTimeout(() => {
				waiters.delete(attempt);
				reject(new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(events)}`));
			}, timeoutMs);
			waiters.add(attempt);
			attempt();
		});
	const socket: RoomSocket = {
		ws,
		protocol: "",
		next: (match, timeoutMs = 10_000) =>
			wait(
				() => {
					const index = events.findIndex(match);
					return index === -1 ? undefined : events.splice(index, 1)[0];
				},
				timeoutMs,
				"matching event",
			),
		request(event, data, id) {
			ws.send(JSON.stringify({ event, data, id }));
			return socket.next((e) => (e.event === "ack" || e.event === "error") && e.id === id);
		},
		nextRaw: (timeoutMs = 10_000) => wait(() => raws.shift(), timeoutMs, "frame"),
		close: () =>
			new Promise((resolve) => {
				if (ws.readyState === WebSocket.CLOSED) return resolve();
				ws.once("close", () => resolve());
				ws.close(1000);
			}),
	};
	return new Promise((resolve, reject) => {
		ws.once("open", () => {
			socket.protocol = ws.protocol;
			raws.length = 0;
			resolve(socket);
		});
		ws.once("unexpected-response", (_req, res) => {
			reject(Object.assign(new Error(`upgrade refused with ${res.statusCode}`), { status: res.statusCode }));
			ws.terminate();
		});
		ws.once("error", reject);
	});
}

/** Who is online in a join ack: user ids, sorted. */
export const onlineIds = (...userIds: string[]) => [...userIds].sort();

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A `presence` event as the server sends it (its time is the server's clock). */
export const presenceEvent = (roomId: string, userId: string, online: boolean) => ({
	event: "presence",
	data: { room_id: roomId, user_id: userId, online, last_active_at: expect.stringMatching(ISO_TIME) },
});
