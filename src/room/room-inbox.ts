import type {
	Caller,
	RangeResult,
	ReadResult,
	Refusal,
	RoomChange,
	RoomChangeResult,
	RoomSendResult,
	SendOptions,
	SubscribeResult,
} from "../gateway/push";
import type { GatewayFeed } from "./gateway-feed";
import type { Membership, RoomMeta } from "./membership";
import type { MessageLog } from "./message-log";
import type { RoomModeration } from "./moderation";
import type { RoomCore } from "./room-core";

export interface RoomSummary {
	room_id: string;
	last_seq: number;
	last_read_seq: number;
	unread: number;
}

/**
 * The room's side of the user socket and of read positions, runtime-free: access from the room's
 * own member list, sends through the same path as the room socket's, read positions that only
 * move forward, and unread recounted from the log. Every change tells the feed, which pushes it
 * to the gateways that hold the members' sockets.
 */
export class RoomInbox {
	constructor(
		private readonly roomId: string,
		private readonly core: RoomCore,
		private readonly log: MessageLog,
		private readonly membership: Membership,
		private readonly feed: GatewayFeed,
		private readonly moderation: RoomModeration,
		/** Rooms with more members send no read receipts, they would drown in them (`RECEIPT_MAX_MEMBERS`). */
		private readonly receiptMaxMembers = 100,
	) {}

	/** The Worker created the room with these members (or a room that never heard loaded them). */
	initialize(meta: RoomMeta, memberIds: string[]): void {
		this.membership.setMeta(meta);
		for (const userId of memberIds) this.memberAdded(userId);
		this.membership.markSynced();
	}

	memberAdded(userId: string): void {
		this.membership.add(userId, this.log.lastSeq());
		this.feed.memberChanged(userId);
	}

	/**
	 * The user is no longer a member. `revoke` (a ban) ends their access even in a public room and
	 * even if they were not a member: their user sockets leave the room and get `room_removed`.
	 */
	memberRemoved(userId: string, revoke = false): void {
		const removed = this.membership.remove(userId);
		if (removed || revoke) this.feed.memberRemoved(userId, revoke || this.membership.meta()?.private === true);
	}

	summary(userId: string): RoomSummary {
		const lastRead = this.membership.lastRead(userId);
		return { room_id: this.roomId, last_seq: this.log.lastSeq(), last_read_seq: lastRead, unread: this.log.countUnread(lastRead, userId) };
	}

	subscribe(caller: Caller, gateway: string): SubscribeResult {
		const refused = this.refusal(caller);
		if (refused) return refused;
		// Presence first: a first use rebuilds the set from who is joined, and this join is news.
		this.core.presence.joined(caller.userId);
		this.feed.subscribe(gateway, caller.userId);
		return { ok: true, last_seq: this.log.lastSeq(), typing: this.core.typing.current(), online: this.core.onlineForAck() };
	}

	/** The user (or, without one, every user) on `gateway` has no socket joined here any more: offline after the grace. */
	unsubscribe(gateway: string, userId?: string): void {
		for (const gone of this.feed.unsubscribe(gateway, userId)) this.core.presence.left(gone);
	}

	/** Who is online and when each was last active (`GET /room/{room_id}/presence`): members, and anyone seen in a public room. */
	presence(): Array<{ user_id: string; online: boolean; last_active_at: string | null }> {
		const ids = new Set(this.membership.list());
		// A private room's readers are its members; a public room's, anyone of the client who joined.
		if (this.membership.meta()?.private !== true) for (const userId of this.core.presence.seen()) ids.add(userId);
		return this.core.presence.entries([...ids].sort()).map((e) => ({
			...e,
			last_active_at: e.last_active_at === null ? null : new Date(e.last_active_at).toISOString(),
		}));
	}

	range(caller: Caller, afterSeq: number, limit: number): RangeResult {
		const refused = this.refusal(caller);
		if (refused) return refused;
		return { ok: true, events: this.log.events(afterSeq, limit) };
	}

	sendAs(caller: Caller, text: string, options: SendOptions = {}): RoomSendResult {
		const refused = this.refusal(caller);
		if (refused) return refused;
		return this.core.sendFromGateway({ roomId: this.roomId, userId: caller.userId, text, ...options });
	}

	/** An edit, delete or reaction on the caller's behalf: the user socket's frames, or REST (`fromRest`, rate-limited per user). */
	change(caller: Caller, change: RoomChange, fromRest = false): RoomChangeResult {
		const refused = this.refusal(caller);
		if (refused) return refused;
		const { userId } = caller;
		if (fromRest && !this.core.restChangeAllowed(userId)) return { ok: false, code: "rate_limited" };
		const result =
			change.kind === "edit"
				? this.core.edit({ userId, messageId: change.messageId, text: change.text, metadata: change.metadata })
				: change.kind === "delete"
					? this.core.remove({ userId, messageId: change.messageId })
					: this.core.react({ userId, messageId: change.messageId, type: change.type, add: change.add });
		return result.ok ? { ok: true, data: result.data } : { ok: false, code: result.code };
	}

	typing(caller: Caller): void {
		if (this.refusal(caller)) return;
		this.core.typing.touch(caller.userId);
	}

	/** Moves the read position forward (a higher `seq` is clamped to the room's last; a lower one changes nothing). */
	markRead(caller: Caller, seq: number): ReadResult {
		const refused = this.refusal(caller);
		if (refused) return refused;
		if (this.membership.markRead(caller.userId, Math.min(seq, this.log.lastSeq()))) {
			this.feed.memberChanged(caller.userId);
			if (this.membership.list().size <= this.receiptMaxMembers) {
				this.core.announce("read_receipt", { user_id: caller.userId, last_read_seq: this.membership.lastRead(caller.userId) });
			}
		}
		return { ok: true, ...this.summary(caller.userId) };
	}

	/** Every member's read position (`GET /room/{room_id}/reads`), ordered by user id. */
	reads(): Array<{ user_id: string; last_read_seq: number }> {
		return [...this.membership.list()].sort().map((userId) => ({ user_id: userId, last_read_seq: this.membership.lastRead(userId) }));
	}

	/** Whether the caller may use the room: the room's client, a member when private, not banned. */
	refusal(caller: Caller): Refusal | undefined {
		const access = this.membership.access(caller.clientId, caller.userId);
		if (!access.ok) return access;
		return this.moderation.banned(caller.userId) ? { ok: false, code: "banned" } : undefined;
	}
}
