// Whether a WebSocket handshake may negotiate permessage-deflate (`WS_COMPRESSION`).
//
// workerd answers the client's `Sec-WebSocket-Extensions` offer itself when a Worker returns a
// 101 with a socket: with the `web_socket_compression` compatibility flag (on since 2023-08-15)
// and no such header on the Response, it accepts what the client offered. A header on the
// Response is taken as the server's own offer instead, and the agreement is what both accept
// (workerd api/http.c++ Response::send, kj http.c++ acceptWebSocket in MANUAL_COMPRESSION mode).
// So the header has to be on the Response the Worker returns to the client: the request the
// Worker forwards to the room object is a fresh one, and the object never sees the offer.

/**
 * The server's offer when compression is off: no permessage-deflate in it, so nothing is agreed
 * and the 101 goes out without the header. Not "": workerd drops an empty header when it copies
 * the Response, and then negotiates as if none were set (checked by test/e2e/ws-compression.test.ts).
 */
export const DECLINE_EXTENSIONS = "none";

/**
 * The handshake answer as the client gets it: unchanged when compression is allowed (the runtime
 * negotiates it), else the same 101 and socket with every offered extension declined.
 */
export function negotiateCompression(response: Response, allowed: boolean): Response {
	if (allowed || response.status !== 101 || !response.webSocket) return response;
	const headers = new Headers(response.headers);
	headers.set("Sec-WebSocket-Extensions", DECLINE_EXTENSIONS);
	return new Response(null, { status: 101, headers, webSocket: response.webSocket });
}
