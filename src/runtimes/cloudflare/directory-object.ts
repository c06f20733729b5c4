import { DurableObject } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/durable-sqlite";
import type { Env } from "../../env";
import type { Directory, Page, UserBan } from "../../storage/directory";
import { DrizzleDirectory } from "../../storage/drizzle-directory";
import { MIGRATIONS, statements } from "../../storage/migrations";
import * as schema from "../../storage/schema";

/**
 * The directory on bare workerd, where there is no D1: one SQLite-backed Durable Object
 * running the same drizzle queries and the same migrations. Each method is an RPC call.
 */
export class DirectoryObject extends DurableObject<Env> implements Directory {
	private readonly directory: DrizzleDirectory;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		const sql = ctx.storage.sql;
		ctx.blockConcurrencyWhile(async () => {
			sql.exec("CREATE TABLE IF NOT EXISTS d1_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
			const applied = new Set(
				sql
					.exec("SELECT name FROM d1_migrations")
					.toArray()
					.map((r) => String(r.name)),
			);
			for (const migration of MIGRATIONS) {
				if (applied.has(migration.name)) continue;
				ctx.storage.transactionSync(() => {
					for (const statement of statements(migration.sql)) sql.exec(statement);
					sql.exec("INSERT INTO d1_migrations (name, applied_at) VALUES (?, ?)", migration.name, new Date().toISOString());
				});
			}
		});
		const db = drizzle(ctx.storage, { schema });
		this.directory = new DrizzleDirectory(db, async (writes) => {
			// Each write is a drizzle query in this driver's synchronous mode, so run() executes it
			// here, inside one SQLite transaction: all commit or none do.
			ctx.storage.transactionSync(() => {
				for (const write of writes) (write as unknown as { run(): void }).run();
			});
		});
	}

	createClient(row: schema.ClientRow) {
		return this.directory.createClient(row);
	}
	setClientTokenHash(clientId: string, apiTokenHash: string) {
		return this.directory.setClientTokenHash(clientId, apiTokenHash);
	}
	findClientByTokenHash(apiTokenHash: string) {
		return this.directory.findClientByTokenHash(apiTokenHash);
	}
	createUser(row: schema.NewUserRow) {
		return this.directory.createUser(row);
	}
	getUser(clientId: string, userId: string) {
		return this.directory.getUser(clientId, userId);
	}
	listUsers(clientId: string, page: Page) {
		return this.directory.listUsers(clientId, page);
	}
	existingUserIds(clientId: string, userIds: string[]) {
		return this.directory.existingUserIds(clientId, userIds);
	}
	createRoom(row: schema.NewRoomRow, memberIds: string[]) {
		return this.directory.createRoom(row, memberIds);
	}
	getRoom(clientId: string, roomId: string) {
		return this.directory.getRoom(clientId, roomId);
	}
	listUserRooms(clientId: string, userId: string, page: Page) {
		return this.directory.listUserRooms(clientId, userId, page);
	}
	isMember(clientId: string, roomId: string, userId: string) {
		return this.directory.isMember(clientId, roomId, userId);
	}
	addMember(row: schema.NewMembershipRow) {
		return this.directory.addMember(row);
	}
	removeMember(clientId: string, roomId: string, userId: string) {
		return this.directory.removeMember(clientId, roomId, userId);
	}
	listMembers(clientId: string, roomId: string, page: Page) {
		return this.directory.listMembers(clientId, roomId, page);
	}
	setWebhookEvents(clientId: string, enabled: boolean) {
		return this.directory.setWebhookEvents(clientId, enabled);
	}
	webhookEvents(clientId: string, limit: number) {
		return this.directory.webhookEvents(clientId, limit);
	}
	flagMessage(row: schema.MessageFlagRow) {
		return this.directory.flagMessage(row);
	}
	dropWebhookEvents(clientId: string, throughSeq: number) {
		return this.directory.dropWebhookEvents(clientId, throughSeq);
	}
	standing(clientId: string, roomId: string, userId: string) {
		return this.directory.standing(clientId, roomId, userId);
	}
	setRole(clientId: string, roomId: string, userId: string, role: schema.Role) {
		return this.directory.setRole(clientId, roomId, userId, role);
	}
	restrict(row: schema.RoomRestrictionRow) {
		return this.directory.restrict(row);
	}
	lift(clientId: string, roomId: string, userId: string, kind: schema.RestrictionKind) {
		return this.directory.lift(clientId, roomId, userId, kind);
	}
	listRestrictions(clientId: string, roomId: string, kind: schema.RestrictionKind, now: number, page: Page) {
		return this.directory.listRestrictions(clientId, roomId, kind, now, page);
	}
	setCooldown(clientId: string, roomId: string, seconds: number) {
		return this.directory.setCooldown(clientId, roomId, seconds);
	}
	setUserBan(clientId: string, userId: string, ban: UserBan | null) {
		return this.directory.setUserBan(clientId, userId, ban);
	}
}
