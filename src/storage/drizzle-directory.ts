import { and, asc, eq, gt, inArray, lte } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { BaseSQLiteDatabase, SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Directory, Page } from "./directory";
import type * as schema from "./schema";
import { clients, memberships, messageFlags, rooms, users, webhookClients, webhookOutbox } from "./schema";

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

	async createUser(row: schema.UserRow) {
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
	async createRoom(row: schema.RoomRow, memberIds: string[]) {
		const unique = [...new Set(memberIds)];
		const writes: [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]] = [this.db.insert(rooms).values(row)];
		// Four columns per row: stay under D1's 100 bound parameters per statement.
		for (let i = 0; i < unique.length; i += 20) {
			writes.push(
				this.db
					.insert(memberships)
					.values(unique.slice(i, i + 20).map((userId) => ({ roomId: row.id, userId, clientId: row.clientId, createdAt: row.createdAt })))
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

	async addMember(row: schema.MembershipRow) {
		const inserted = await this.db.insert(memberships).values(row).onConflictDoNothing().returning();
		if (inserted[0]) return { added: true, membership: inserted[0] };
		const existing = await this.db
			.select()
			.from(memberships)
			.where(and(eq(memberships.clientId, row.clientId), eq(memberships.roomId, row.roomId), eq(memberships.userId, row.userId)))
			.limit(1);
		// A membership of the same room and user under another client cannot exist: room ids are unique.
		return { added: false, membership: existing[0] ?? row };
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
}
