// One contract, two drivers: the directory over D1 (Cloudflare) and over the DirectoryObject's
// SQLite (bare workerd), both opened through openDirectory() as the routes open them.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import type { DirectoryObject } from "../../src/runtimes/cloudflare/directory-object";
import { type Directory, openDirectory } from "../../src/storage";
import { MIGRATIONS, statements } from "../../src/storage/migrations";
import type { ClientRow, MembershipRow, RoomRow, UserRow } from "../../src/storage/schema";

const bindings = env as unknown as Env;
const DIRECTORY = bindings.DIRECTORY as DurableObjectNamespace<DirectoryObject>;
const onD1 = () => openDirectory({ ROOMS: bindings.ROOMS, GATEWAYS: bindings.GATEWAYS, DB: bindings.DB });
const onObject = () => openDirectory({ ROOMS: bindings.ROOMS, GATEWAYS: bindings.GATEWAYS, DIRECTORY });
/** The one object openDirectory() talks to on bare workerd. */
const directoryObject = () => DIRECTORY.get(DIRECTORY.idFromName("directory"));

// Ids are global primary keys: every case gets its own prefix so cases never collide.
const tag = () => crypto.randomUUID().slice(0, 8);
const client = (t: string, n = 0): ClientRow => ({
	id: `${t}-c${n}`,
	name: `client ${n}`,
	apiTokenHash: `${t}-hash${n}`,
	createdAt: 1_700_000_000_000 + n,
});
const user = (c: ClientRow, i: number, extra: Partial<UserRow> = {}): UserRow => ({
	id: `${c.id}-u${String(i).padStart(3, "0")}`,
	clientId: c.id,
	name: `user ${i}`,
	metadata: null,
	createdAt: 1_700_000_000_100 + i,
	bannedAt: null,
	banExpiresAt: null,
	banReason: null,
	...extra,
});
const room = (c: ClientRow, i: number, extra: Partial<RoomRow> = {}): RoomRow => ({
	id: `${c.id}-r${String(i).padStart(3, "0")}`,
	clientId: c.id,
	name: `room ${i}`,
	private: false,
	createdBy: null,
	createdAt: 1_700_000_000_200 + i,
	cooldownSeconds: 0,
	...extra,
});
const membership = (r: RoomRow, userId: string, createdAt = r.createdAt): MembershipRow => ({
	roomId: r.id,
	userId,
	clientId: r.clientId,
	createdAt,
	role: "member",
});

async function tenantWithUsers(dir: Directory, count: number) {
	const c = client(tag());
	await dir.createClient(c);
	const users = Array.from({ length: count }, (_, i) => user(c, i));
	for (const u of users) await dir.createUser(u);
	return { c, users };
}

/** The SQLite error behind a rejected write, unwrapped from drizzle's "Failed query" if present. */
async function sqliteError(write: Promise<unknown>): Promise<string> {
	const error = await write.then(
		() => null,
		(e: Error) => e,
	);
	if (!error) return "resolved";
	return String((error.cause as Error | undefined)?.message ?? error.message);
}

// A rejecting Durable Object RPC leaks an unhandled rejection in the vitest pool even when the
// caller handles it (cloudflare/workers-sdk#14736), so writes that must fail are made on the
// directory object's instance itself, in place, instead of through the stub.
type Rejected = (write: (dir: Directory) => Promise<unknown>) => Promise<string>;
const rejectedOnD1: Rejected = (write) => sqliteError(write(onD1()));
const rejectedOnObject: Rejected = (write) => runInDurableObject(directoryObject(), (instance: Directory) => sqliteError(write(instance)));

describe.each([
	{ driver: "D1", open: onD1, rejected: rejectedOnD1 },
	{ driver: "the directory Durable Object", open: onObject, rejected: rejectedOnObject },
])("directory on $driver", ({ open, rejected }) => {
	it("finds a client by token hash and rotates the hash", async () => {
		const dir = open();
		const c = client(tag());
		await dir.createClient(c);
		expect(await dir.findClientByTokenHash(c.apiTokenHash)).toEqual(c);
		expect(await dir.findClientByTokenHash(`${c.apiTokenHash}x`)).toBeNull();

		expect(await dir.setClientTokenHash(c.id, `rotated-${c.id}`)).toEqual({ ...c, apiTokenHash: `rotated-${c.id}` });
		expect(await dir.findClientByTokenHash(c.apiTokenHash)).toBeNull();
		expect(await dir.findClientByTokenHash(`rotated-${c.id}`)).toEqual({ ...c, apiTokenHash: `rotated-${c.id}` });
		expect(await dir.setClientTokenHash(`${c.id}-missing`, "whatever")).toBeNull();
	});

	it("rejects a second client with the same token hash and keeps the first", async () => {
		const dir = open();
		const c = client(tag());
		await dir.createClient(c);
		expect(await rejected((d) => d.createClient({ ...c, id: `${c.id}-dup` }))).toMatch(/UNIQUE constraint failed: clients\.api_token_hash/);
		expect(await dir.findClientByTokenHash(c.apiTokenHash)).toEqual(c);
	});

	it("keeps users to their client, with metadata and nulls intact", async () => {
		const dir = open();
		const { c, users } = await tenantWithUsers(dir, 1);
		const other = await tenantWithUsers(dir, 1);
		const withMeta = user(c, 1, { name: null, metadata: '{"plan":"pro","tags":["a"]}' });
		await dir.createUser(withMeta);

		expect(await dir.getUser(c.id, users[0]!.id)).toEqual(users[0]);
		expect(await dir.getUser(c.id, withMeta.id)).toEqual(withMeta);
		expect(await dir.getUser(other.c.id, users[0]!.id)).toBeNull();
		expect(await dir.getUser(c.id, other.users[0]!.id)).toBeNull();
		expect(await rejected((d) => d.createUser({ ...users[0]!, clientId: other.c.id }))).toMatch(/UNIQUE constraint failed: users\.id/);
		expect(await dir.getUser(c.id, users[0]!.id)).toEqual(users[0]);
		expect(await dir.getUser(other.c.id, users[0]!.id)).toBeNull();
	});

	it("pages users by id within one client", async () => {
		const dir = open();
		const { c, users } = await tenantWithUsers(dir, 5);
		await tenantWithUsers(dir, 3);
		expect(await dir.listUsers(c.id, { limit: 2 })).toEqual(users.slice(0, 2));
		expect(await dir.listUsers(c.id, { limit: 2, after: users[1]!.id })).toEqual(users.slice(2, 4));
		expect(await dir.listUsers(c.id, { limit: 10, after: users[3]!.id })).toEqual(users.slice(4));
		expect(await dir.listUsers(c.id, { limit: 10, after: users[4]!.id })).toEqual([]);
		expect(await dir.listUsers(`${c.id}-none`, { limit: 10 })).toEqual([]);
	});

	it("tells which user ids exist, past the bound-parameter chunk size", async () => {
		const dir = open();
		const { c, users } = await tenantWithUsers(dir, 95);
		const other = await tenantWithUsers(dir, 1);
		const asked = [...users.map((u) => u.id), other.users[0]!.id, `${c.id}-ghost`];
		const found = await dir.existingUserIds(c.id, asked);
		expect(found.sort()).toEqual(users.map((u) => u.id));
		expect(await dir.existingUserIds(c.id, [])).toEqual([]);
	});

	it("creates a room with deduplicated members, past the insert chunk size", async () => {
		const dir = open();
		const { c, users } = await tenantWithUsers(dir, 25);
		const r = room(c, 0, { private: true, createdBy: users[0]!.id, name: null });
		const ids = users.map((u) => u.id);
		await dir.createRoom(r, [...ids, ids[0]!, ids[24]!]);

		expect(await dir.getRoom(c.id, r.id)).toEqual(r);
		// The creator owns the room.
		expect(await dir.listMembers(c.id, r.id, { limit: 100 })).toEqual(
			ids.map((id, i) => ({ ...membership(r, id), role: i === 0 ? "owner" : "member" })),
		);
		const other = await tenantWithUsers(dir, 0);
		expect(await dir.getRoom(other.c.id, r.id)).toBeNull();
		expect(await dir.listMembers(other.c.id, r.id, { limit: 100 })).toEqual([]);
	});

	it("moderation: standing in one read, roles, bans that end the membership, mutes, lists in force, slow mode, client-wide bans", async () => {
		const dir = open();
		const { c, users } = await tenantWithUsers(dir, 3);
		const [alice, bob, carol] = users as [UserRow, UserRow, UserRow];
		const r = room(c, 0, { createdBy: alice.id });
		await dir.createRoom(r, [alice.id, bob.id, carol.id]);
		const other = await tenantWithUsers(dir, 0);
		expect(await dir.standing(other.c.id, r.id, bob.id)).toBeNull();
		expect(await dir.standing(c.id, r.id, bob.id)).toEqual({ room: r, membership: membership(r, bob.id), ban: null, mute: null });

		expect(await dir.setRole(c.id, r.id, carol.id, "moderator")).toEqual({ ...membership(r, carol.id), role: "moderator" });
		expect(await dir.setRole(other.c.id, r.id, carol.id, "member")).toBeNull();
		const ban = {
			clientId: c.id,
			roomId: r.id,
			userId: bob.id,
			kind: "ban" as const,
			reason: "spam",
			expiresAt: null,
			createdBy: carol.id,
			createdAt: 5,
		};
		await dir.restrict(ban);
		expect(await dir.standing(c.id, r.id, bob.id)).toEqual({ room: r, membership: null, ban, mute: null });
		const mute = { ...ban, userId: carol.id, kind: "mute" as const, expiresAt: 1_000, createdBy: null };
		await dir.restrict(mute);
		// A mute keeps the membership; a second one replaces the first.
		await dir.restrict({ ...mute, expiresAt: 2_000, reason: null });
		expect(await dir.standing(c.id, r.id, carol.id)).toEqual({
			room: r,
			membership: { ...membership(r, carol.id), role: "moderator" },
			ban: null,
			mute: { ...mute, expiresAt: 2_000, reason: null },
		});
		expect(await dir.listRestrictions(c.id, r.id, "mute", 1_999, { limit: 10 })).toEqual([{ ...mute, expiresAt: 2_000, reason: null }]);
		expect(await dir.listRestrictions(c.id, r.id, "mute", 2_000, { limit: 10 })).toEqual([]);
		expect(await dir.listRestrictions(c.id, r.id, "ban", 10 ** 12, { limit: 10 })).toEqual([ban]);
		expect(await dir.listRestrictions(other.c.id, r.id, "ban", 0, { limit: 10 })).toEqual([]);
		expect(await dir.lift(other.c.id, r.id, bob.id, "ban")).toBe(false);
		expect(await dir.lift(c.id, r.id, bob.id, "ban")).toBe(true);
		expect(await dir.lift(c.id, r.id, bob.id, "ban")).toBe(false);
		expect(await dir.standing(c.id, r.id, bob.id)).toEqual({ room: r, membership: null, ban: null, mute: null });

		expect(await dir.setCooldown(c.id, r.id, 30)).toEqual({ ...r, cooldownSeconds: 30 });
		expect(await dir.setCooldown(other.c.id, r.id, 30)).toBeNull();
		const banned = { ...bob, bannedAt: 7, banExpiresAt: null, banReason: "abuse" };
		expect(await dir.setUserBan(c.id, bob.id, { at: 7, expiresAt: null, reason: "abuse" })).toEqual(banned);
		expect(await dir.getUser(c.id, bob.id)).toEqual(banned);
		expect(await dir.setUserBan(other.c.id, bob.id, null)).toBeNull();
		expect(await dir.setUserBan(c.id, bob.id, null)).toEqual(bob);
	});

	it("creates a room and its members as one unit: a write failing part way leaves neither", async () => {
		const dir = open();
		const { c, users } = await tenantWithUsers(dir, 25);
		const r = room(c, 0, { private: true });
		// A null member id breaks NOT NULL in the second membership insert, after the room and 20 members were written.
		const ids: string[] = [...users.map((u) => u.id), null as unknown as string];
		expect(await rejected((d) => d.createRoom(r, ids))).toMatch(/NOT NULL constraint failed: memberships\.user_id/);

		expect(await dir.getRoom(c.id, r.id)).toBeNull();
		expect(await dir.listMembers(c.id, r.id, { limit: 100 })).toEqual([]);
		// Nothing half-made is in the way: the same room is created whole afterwards.
		await dir.createRoom(
			r,
			users.map((u) => u.id),
		);
		expect(await dir.listMembers(c.id, r.id, { limit: 100 })).toHaveLength(25);
	});

	it("round-trips public and private rooms and pages a user's rooms", async () => {
		const dir = open();
		const { c, users } = await tenantWithUsers(dir, 2);
		const [alice, bob] = users as [UserRow, UserRow];
		const rooms = [room(c, 0), room(c, 1, { private: true }), room(c, 2), room(c, 3, { private: true })];
		for (const r of rooms) await dir.createRoom(r, r.id.endsWith("2") ? [bob.id] : [alice.id, bob.id]);

		expect(await dir.listUserRooms(c.id, alice.id, { limit: 2 })).toEqual([rooms[0], rooms[1]]);
		expect(await dir.listUserRooms(c.id, alice.id, { limit: 2, after: rooms[1]!.id })).toEqual([rooms[3]]);
		expect(await dir.listUserRooms(c.id, bob.id, { limit: 10 })).toEqual(rooms);
		const other = await tenantWithUsers(dir, 0);
		expect(await dir.listUserRooms(other.c.id, alice.id, { limit: 10 })).toEqual([]);
	});

	it("adds, checks and removes members, each once", async () => {
		const dir = open();
		const { c, users } = await tenantWithUsers(dir, 3);
		const [alice, bob, carol] = users as [UserRow, UserRow, UserRow];
		const r = room(c, 0);
		await dir.createRoom(r, [alice.id]);

		expect(await dir.isMember(c.id, r.id, bob.id)).toBe(false);
		expect(await dir.addMember(membership(r, bob.id, 42))).toEqual({ added: true, membership: membership(r, bob.id, 42) });
		// A repeat keeps the first membership and its time.
		expect(await dir.addMember(membership(r, bob.id, 43))).toEqual({ added: false, membership: membership(r, bob.id, 42) });
		expect(await dir.addMember(membership(r, carol.id, 44))).toEqual({ added: true, membership: membership(r, carol.id, 44) });
		expect(await dir.isMember(c.id, r.id, bob.id)).toBe(true);
		expect(await dir.listMembers(c.id, r.id, { limit: 2 })).toEqual([membership(r, alice.id), membership(r, bob.id, 42)]);
		expect(await dir.listMembers(c.id, r.id, { limit: 2, after: bob.id })).toEqual([membership(r, carol.id, 44)]);

		const other = await tenantWithUsers(dir, 0);
		expect(await dir.isMember(other.c.id, r.id, bob.id)).toBe(false);
		expect(await dir.removeMember(other.c.id, r.id, bob.id)).toBe(false);
		expect(await dir.removeMember(c.id, r.id, bob.id)).toBe(true);
		expect(await dir.removeMember(c.id, r.id, bob.id)).toBe(false);
		expect(await dir.isMember(c.id, r.id, bob.id)).toBe(false);
		expect(await dir.listUserRooms(c.id, bob.id, { limit: 10 })).toEqual([]);
	});
});

describe("where each driver keeps its rows", () => {
	it("D1 when DB is bound, even with DIRECTORY bound too (Cloudflare)", async () => {
		const c = client(tag());
		await openDirectory(bindings).createClient(c);
		const row = await bindings.DB!.prepare("SELECT id, name, api_token_hash, created_at FROM clients WHERE id = ?").bind(c.id).first();
		expect(row).toEqual({ id: c.id, name: c.name, api_token_hash: c.apiTokenHash, created_at: c.createdAt });
		const inObject = await runInDurableObject(directoryObject(), (_o, state) =>
			state.storage.sql.exec("SELECT id FROM clients WHERE id = ?", c.id).toArray(),
		);
		expect(inObject).toEqual([]);
	});

	it("the directory object's SQLite when only DIRECTORY is bound (bare workerd)", async () => {
		const c = client(tag());
		await onObject().createClient(c);
		const rows = await runInDurableObject(directoryObject(), (_o, state) =>
			state.storage.sql.exec("SELECT id, name, api_token_hash, created_at FROM clients WHERE id = ?", c.id).toArray(),
		);
		expect(rows).toEqual([{ id: c.id, name: c.name, api_token_hash: c.apiTokenHash, created_at: c.createdAt }]);
		expect(await bindings.DB!.prepare("SELECT id FROM clients WHERE id = ?").bind(c.id).first()).toBeNull();
	});

	it("fails with a message that says what to bind when neither is", () => {
		expect(() => openDirectory({ ROOMS: bindings.ROOMS, GATEWAYS: bindings.GATEWAYS })).toThrow(
			new Error("No directory storage: bind a D1 database as DB, or a DirectoryObject namespace as DIRECTORY"),
		);
	});
});

describe("the directory object's migrations", () => {
	it("are the files D1 applies from migrations/, in order, statement for statement", () => {
		const d1 = (env as unknown as { TEST_MIGRATIONS: Array<{ name: string; queries: string[] }> }).TEST_MIGRATIONS;
		// wrangler splits on `;` and drops comments; drizzle-kit files mark each statement anyway.
		const normalise = (sql: string) => sql.replace(/--.*$/gm, "").replace(/;\s*$/, "").replace(/\s+/g, " ").trim();
		expect(MIGRATIONS.map((m) => m.name)).toEqual(d1.map((m) => m.name));
		expect(MIGRATIONS.map((m) => statements(m.sql).map(normalise))).toEqual(d1.map((m) => m.queries.map(normalise).filter(Boolean)));
	});

	it("are applied before the first call, even when calls race a fresh object", async () => {
		const stub = DIRECTORY.get(DIRECTORY.idFromName(`fresh-${tag()}`)) as unknown as Directory;
		const c = client(tag());
		const users = Array.from({ length: 8 }, (_, i) => user(c, i));
		await Promise.all([stub.createClient(c), ...users.map((u) => stub.createUser(u))]);
		expect(await stub.listUsers(c.id, { limit: 10 })).toEqual(users);
	});

	it("run once: after eviction the new instance keeps the rows and one record per migration", async () => {
		const id = DIRECTORY.idFromName(`restart-${tag()}`);
		const c = client(tag());
		await (DIRECTORY.get(id) as unknown as Directory).createClient(c);
		const migrations = () =>
			runInDurableObject(DIRECTORY.get(id), (_o, state) => state.storage.sql.exec("SELECT name, applied_at FROM d1_migrations").toArray());
		const before = await migrations();
		expect(before.map((r) => r.name)).toEqual(["0000_init.sql", "0001_webhooks.sql", "0002_message_flags.sql", "0003_moderation.sql"]);

		await evictDurableObject(DIRECTORY.get(id));
		expect(await (DIRECTORY.get(id) as unknown as Directory).findClientByTokenHash(c.apiTokenHash)).toEqual(c);
		expect(await migrations()).toEqual(before);
	});
});
