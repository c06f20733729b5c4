import { PROTOCOL_LABEL } from "../../protocol/frames";

/**
 * `Deno.upgradeWebSocket` on the client's own request (an upgraded copy never opens). The
 * subprotocol is set on the response by hand: Deno splits the offer only on ", ", and the `ws`
 * client sends "roomkit.v1,<jwt>", which its `protocol` option would reject.
 */
export function upgrade(original: Request, label: boolean): { socket: WebSocket; response: Response } {
	const { socket, response } = Deno.upgradeWebSocket(original);
	if (label) response.headers.set("Sec-WebSocket-Protocol", PROTOCOL_LABEL);
	return { socket, response };
}
