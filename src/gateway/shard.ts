/**
 * Which gateway object holds a user's sockets: `<client id>.<shard>`, the shard a hash of the user
 * id modulo GATEWAY_SHARDS. Every socket of a user lands on the same object (so read sync between
 * tabs stays local), and a room pushes to at most GATEWAY_SHARDS objects per flush whatever its
 * size. Pure, so rooms derive their members' gateways without asking anyone.
 */
export function gatewayName(clientId: string, userId: string, shards: number): string {
	// FNV-1a, 32 bits: stable across runtimes and versions (changing it would move every user).
	let hash = 0x811c9dc5;
	for (let i = 0; i < userId.length; i++) {
		hash ^= userId.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193) >>> 0;
	}
	return `${clientId}.${hash % shards}`;
}
