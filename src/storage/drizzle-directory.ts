import { and, asc, eq, gt, inArray, isNull, lte, or } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { BaseSQLiteDatabase, SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Directory, Page, Standing, UserBan } from "./directory";
import type * as schema from "./schema";
import { clients, memberships, messageFlags, roomRestrictions, rooms, users, webhookClients, webhookOutbox } from "./schema";

/**
 * A drizzle SQLite database in either mode: async (D1) or sync (Durable Object SQLite).
 * Every query below is awaited, which works for both.
 */
// biome-ignore lint/suspicious/noExplicitAny: the result kind differs between the two drivers.
export type AnySQLiteDatabase = BaseSQLiteDatabase<"async" | "sync", any, typeof schema>;

/**
 * Runs writes as one unit: all of them or none. D1 has `batch` (one implicit transaction);
 * a Durable Object has `transactionSync`. Each driver's opener supplies its own.
 */
export type RunAtomically = (writes: [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]) => Promise<unknown>;

const afterId = (column: SQLiteColumn, page: Page) => (page.after === undefined ? undefined : gt(column, page.after));

export class DrizzleDirectory implements Directory {
	constructor(
		private readonly db: AnySQLiteDatabase,
		private readonly atomically: RunAtomically,
	) {}

	async createClient(row: schema.ClientRow) {
		await this.db.insert(clients).values(row);
	}

	async setClientTokenHash(clientId: string, apiTokenHash: string) {
		const rows = await this.db.update(clients).set({ apiTokenHash }).where(eq(clients.id, clientId)).returning();
		return rows[0] ?? null;
	}

	async findClientByTokenHash(apiTokenHash: string) {
		const rows = await this.db.select().from(clients).where(eq(clients.apiTokenHash, apiTokenHash)).limit(1);
		return rows[0] ?? null;
	}

	async createUser(row: schema.NewUserRow) {
		await this.db.insert(users).values(row);
	}

	async getUser(clientId: string, userId: string) {
		const rows = await this.db
			.select()
			.from(users)
			.where(and(eq(users.clientId, clientId), eq(users.id, userId)))
			.limit(1);
		return rows[0] ?? null;
	}

	async listUsers(clientId: string, page: Page) {
		return this.db
			.select()
			.from(users)
			.where(and(eq(users.clientId, clientId), afterId(users.id, page)))
			.orderBy(asc(users.id))
			.limit(page.limit);
	}

	async existingUserIds(clientId: string, userIds: string[]) {
		if (userIds.length === 0) return [];
		const found: string[] = [];
		// SQLite caps bound parameters per statement; D1 at 100.
		for (let i = 0; i < userIds.length; i += 90) {
			const chunk = userIds.slice(i, i + 90);
			const rows = await this.db
				.select({ id: users.id })
				.from(users)
				.where(and(eq(users.clientId, clientId), inArray(users.id, chunk)));
			found.push(...rows.map((r) => r.id));
		}
		return found;
	}

	/** The room and its first members in one unit: a failure part way leaves neither. */
	async createRoom(row: schema.NewRoomRow, memberIds: string[]) {
		const unique = [...new Set(memberIds)];
		const writes: [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]] = [this.db.insert(rooms).values(row)];
		// Four columns per row: stay under D1's 100 bound parameters per statement.
		for (let i = 0; i < unique.length; i += 20) {
			writes.push(
				this.db
					.insert(memberships)
					.values(
						unique.slice(i, i + 20).map((userId) => ({
							roomId: row.id,
							userId,
							clientId: row.clientId,
							createdAt: row.createdAt,
							role: userId === row.createdBy ? ("owner" as const) : ("member" as const),
						})),
					)
					.onConflictDoNothing(),
			);
		}
		await this.atomically(writes);
	}

	async getRoom(clientId: string, roomId: string) {
		const rows = await this.db
			.select()
			.from(rooms)
			.where(and(eq(rooms.clientId, clientId), eq(rooms.id, roomId)))
			.limit(1);
		return rows[0] ?? null;
	}

	async listUserRooms(clientId: string, userId: string, page: Page) {
		const rows = await this.db
			.select({ room: rooms })
			.from(memberships)
			.innerJoin(rooms, eq(rooms.id, memberships.roomId))
			.where(
				and(
					eq(memberships.clientId, clientId),
					eq(memberships.userId, userId),
					eq(rooms.clientId, clientId),
					afterId(memberships.roomId, page),
				),
			)
			.orderBy(asc(memberships.roomId))
			.limit(page.limit);
		return rows.map((r) => r.room);
	}

	async isMember(clientId: string, roomId: string, userId: string) {
		const rows = await this.db
			.select({ userId: memberships.userId })
			.from(memberships)
			.where(and(eq(memberships.clientId, clientId), eq(memberships.roomId, roomId), eq(memberships.userId, userId)))
			.limit(1);
		return rows.length > 0;
	}

	async addMember(row: schema.NewMembershipRow) {
		const inserted = await this.db.insert(memberships).values(row).onConflictDoNothing().returning();
		if (inserted[0]) return { added: true, membership: inserted[0] };
		const existing = await this.db
			.select()
			.from(memberships)
			.where(and(eq(memberships.clientId, row.clientId), eq(memberships.roomId, row.roomId), eq(memberships.userId, row.userId)))
			.limit(1);
		// A membership of the same room and user under another client cannot exist: room ids are unique.
		return { added: false, membership: existing[0] ?? { role: "member" as const, ...row } };
	}

	async removeMember(clientId: string, roomId: string, userId: string) {
		const rows = await this.db
			.delete(memberships)
			.where(and(eq(memberships.clientId, clientId), eq(memberships.roomId, roomId), eq(memberships.userId, userId)))
			.returning({ userId: memberships.userId });
		return rows.length > 0;
	}

	async listMembers(clientId: string, roomId: string, page: Page) {
		return this.db
			.select()
			.from(memberships)
			.where(and(eq(memberships.clientId, clientId), eq(memberships.roomId, roomId), afterId(memberships.userId, page)))
			.orderBy(asc(memberships.userId))
			.limit(page.limit);
	}

	async setWebhookEvents(clientId: string, enabled: boolean) {
		if (enabled) await this.db.insert(webhookClients).values({ clientId, createdAt: Date.now() }).onConflictDoNothing();
		else await this.db.delete(webhookClients).where(eq(webhookClients.clientId, clientId));
	}

	async webhookEvents(clientId: string, limit: number) {
		return this.db.select().from(webhookOutbox).where(eq(webhookOutbox.clientId, clientId)).orderBy(asc(webhookOutbox.seq)).limit(limit);
	}

	async flagMessage(row: schema.MessageFlagRow) {
		const inserted = await this.db.insert(messageFlags).values(row).onConflictDoNothing().returning();
		if (inserted[0]) return { created: true, flag: inserted[0] };
		const existing = await this.db
			.select()
			.from(messageFlags)
			.where(and(eq(messageFlags.clientId, row.clientId), eq(messageFlags.messageId, row.messageId), eq(messageFlags.userId, row.userId)))
			.limit(1);
		return { created: false, flag: existing[0] ?? row };
	}

	async dropWebhookEvents(clientId: string, throughSeq: number) {
		await this.db.delete(webhookOutbox).where(and(eq(webhookOutbox.clientId, clientId), lte(webhookOutbox.seq, throughSeq)));
	}

	async standing(clientId: string, roomId: string, userId: string): Promise<Standing | null> {
		// One read for the hot path (every user's REST call on a room, and socket handshakes).
		const rows = await this.db
			.select({ room: rooms, membership: memberships, restriction: roomRestrictions })
			.from(rooms)
			.leftJoin(memberships, and(eq(memberships.roomId, rooms.id), eq(memberships.userId, userId)))
			.leftJoin(roomRestrictions, and(eq(roomRestrictions.roomId, rooms.id), eq(roomRestrictions.userId, userId)))
			.where(and(eq(rooms.clientId, clientId), eq(rooms.id, roomId)));
		const first = rows[0];
		if (!first) return null;
		const of = (kind: schema.RestrictionKind) => rows.find((r) => r.restriction?.kind === kind)?.restriction ?? null;
		return { room: first.room, membership: first.membership, ban: of("ban"), mute: of("mute") };
	}

	async setRole(clientId: string, roomId: string, userId: string, role: schema.Role) {
		const rows = await this.db
			.update(memberships)
			.set({ role })
			.where(and(eq(memberships.clientId, clientId), eq(memberships.roomId, roomId), eq(memberships.userId, userId)))
			.returning();
		return rows[0] ?? null;
	}

	async restrict(row: schema.RoomRestrictionRow) {
		const { roomId, userId, kind, clientId } = row;
		const upsert = this.db
			.insert(roomRestrictions)
			.values(row)
			.onConflictDoUpdate({
				target: [roomRestrictions.roomId, roomRestrictions.userId, roomRestrictions.kind],
				set: { reason: row.reason, expiresAt: row.expiresAt, createdBy: row.createdBy, createdAt: row.createdAt },
			});
		if (kind === "mute") {
			await upsert;
			return;
		}
		await this.atomically([
			upsert,
			this.db
				.delete(memberships)
				.where(and(eq(memberships.clientId, clientId), eq(memberships.roomId, roomId), eq(memberships.userId, userId))),
		]);
	}

	async lift(clientId: string, roomId: string, userId: string, kind: schema.RestrictionKind) {
		const rows = await this.db
			.delete(roomRestrictions)
			.where(
				and(
					eq(roomRestrictions.clientId, clientId),
					eq(roomRestrictions.roomId, roomId),
					eq(roomRestrictions.userId, userId),
					eq(roomRestrictions.kind, kind),
				),
			)
			.returning({ userId: roomRestrictions.userId });
		return rows.length > 0;
	}

	async listRestrictions(clientId: string, roomId: string, kind: schema.RestrictionKind, now: number, page: Page) {
		return this.db
			.select()
			.from(roomRestrictions)
			.where(
				and(
					eq(roomRestrictions.clientId, clientId),
					eq(roomRestrictions.roomId, roomId),
					eq(roomRestrictions.kind, kind),
					or(isNull(roomRestrictions.expiresAt), gt(roomRestrictions.expiresAt, now)),
					afterId(roomRestrictions.userId, page),
				),
			)
			.orderBy(asc(roomRestrictions.userId))
			.limit(page.limit);
	}

	async setCooldown(clientId: string, roomId: string, seconds: number) {
		const rows = await this.db
			.update(rooms)
			.set({ cooldownSeconds: seconds })
			.where(and(eq(rooms.clientId, clientId), eq(rooms.id, roomId)))
			.returning();
		return rows[0] ?? null;
	}

	async setUserBan(clientId: string, userId: string, ban: UserBan | null) {
		const rows = await this.db
			.update(users)
			.set({ bannedAt: ban?.at ?? null, banExpiresAt: ban?.expiresAt ?? null, banReason: ban?.reason ?? null })
			.where(and(eq(users.clientId, clientId), eq(users.id, userId)))
			.returning();
		return rows[0] ?? null;
	}
}
