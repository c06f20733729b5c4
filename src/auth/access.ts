import { forbidden, notFound } from "../errors";
import type { Directory } from "../storage";
import type { RoomRow } from "../storage/schema";
import type { Principal } from "./principal";

/**
 * Loads a room the principal may use. Another client's room is "not found", never
 * "forbidden", so ids reveal nothing across tenants. Private rooms are for members
 * (and the client's backend).
 */
export async function roomFor(directory: Directory, principal: Principal, roomId: string): Promise<RoomRow> {
	const room = await directory.getRoom(principal.clientId, roomId);
	if (!room) throw notFound("Room");
	if (principal.kind === "user" && room.private && !(await directory.isMember(principal.clientId, roomId, principal.userId))) {
		throw forbidden("This room is private and you are not a member");
	}
	return room;
}
