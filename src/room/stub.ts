import type { Env } from "../env";

/** The room's Durable Object: one per room id, the single writer of its messages. */
export const roomStub = (env: Env, roomId: string) => env.ROOMS.get(env.ROOMS.idFromName(roomId));

/** Header carrying the identity the Worker verified to the room object (never taken from a client). */
export const IDENTITY_HEADER = "X-Roomkit-Identity";

/** Header the Worker sets to "1" when the room is private: the object then confirms membership after accepting. */
export const MEMBERS_ONLY_HEADER = "X-Roomkit-Members-Only";
