import { banned, forbidden, notFound } from "../errors";
import type { Directory } from "../storage";
import type { Standing } from "../storage/directory";
import type { RoomRestrictionRow, RoomRow } from "../storage/schema";
import type { Principal, UserPrincipal } from "./principal";

/** Whether a ban or mute row is in force: its expiry is checked against the clock when it is read. */
export const inForce = (row: { expiresAt: number | null } | null, now = Date.now()): row is RoomRestrictionRow =>
	row !== null && (row.expiresAt === null || row.expiresAt > now);

/**
 * The room and where the user stands in it (one directory read), for a user who is not banned
 * from it: another client's room is "not found", a ban is `403 banned`.
 */
export async function standingFor(directory: Directory, user: UserPrincipal, roomId: string): Promise<Standing> {
	const standing = await directory.standing(user.clientId, roomId, user.userId);
	if (!standing) throw notFound("Room");
	if (inForce(standing.ban)) throw banned();
	return standing;
}

/**
 * Loads a room the principal may use. Another client's room is "not found", never
 * "forbidden", so ids reveal nothing across tenants. Private rooms are for members
 * (and the client's backend); nobody banned from a room may use it.
 */
export async function roomFor(directory: Directory, principal: Principal, roomId: string): Promise<RoomRow> {
	if (principal.kind !== "user") {
		const room = await directory.getRoom(principal.clientId, roomId);
		if (!room) throw notFound("Room");
		return room;
	}
	const { room, membership } = await standingFor(directory, principal, roomId);
	if (room.private && !membership) throw forbidden("This room is private and you are not a member");
	return room;
}
