// The /demo page in Debian's Chromium (playwright-core, no downloaded browser) against a real
// `wrangler dev`: two users chat both ways, a reload shows the history, a page that goes
// offline gets what it missed once and in order, and the page passes basic accessibility checks.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type ChatClient, createClient } from "../../src/client";
import { ROOT, type RunningServer, startSelfhost, startWranglerDev } from "../e2e/harness";

vi.setConfig({ testTimeout: 120_000 });

const CHROMIUM_ARGS = [
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
];
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const ARTIFACTS = join(ROOT, "test-artifacts");

let server: RunningServer;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
	// The page must serve the SDK as built from the current source.
	const built = spawnSync(process.execPath, [join(ROOT, "scripts", "build-client.mjs")], { cwd: ROOT, encoding: "utf8" });
	if (built.status !== 0) throw new Error(built.stderr);
	[server, browser] = await Promise.all([
		startWranglerDev({ vars: { DEMO_DEV_MODE: "1" } }),
		chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS }),
	]);
});
afterEach(async () => {
	for (const context of contexts.splice(0)) await context.close();
});
afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

async function newContext(): Promise<BrowserContext> {
	const context = await browser.newContext(PHONE);
	contexts.push(context);
	return context;
}

async function open(context: BrowserContext, path = "/demo"): Promise<Page> {
	const page = await context.newPage();
	const problems: string[] = [];
	page.on("pageerror", (error) => problems.push(String(error)));
	page.on("console", (message) => {
		if (message.type() === "error" && !/ERR_INTERNET_DISCONNECTED|WebSocket connection/.test(message.text())) problems.push(message.text());
	});
	(page as Page & { problems: string[] }).problems = problems;
	await page.goto(`${server.base}${path}`);
	return page;
}

const problemsOf = (page: Page) => (page as Page & { problems: string[] }).problems;

/** What a page shows in its message list: [seq, author, text] in document order. */
const shown = (page: Page) =>
	page.$$eval("#messages li[data-seq]", (items) =>
		items.map((li) => [
			Number((li as HTMLElement).dataset.seq),
			li.querySelector(".who")?.textContent,
			li.querySelector(".text")?.textContent,
		]),
	);

const state = (page: Page) => page.locator("#connection-state");

async function send(page: Page, text: string) {
	await page.getByLabel("Message", { exact: true }).fill(text);
	await page.getByRole("button", { name: "Send", exact: true }).click();
}

async function signInWithToken(page: Page, token: string) {
	await page.getByLabel("User JWT").fill(token);
	await page.getByRole("button", { name: "Sign in with token" }).click();
	await page.getByRole("heading", { name: "Rooms", exact: true }).waitFor();
}

async function openRoomById(page: Page, roomId: string) {
	await page.getByLabel("Room id").fill(roomId);
	await page.getByRole("button", { name: "Open room" }).click();
	await page.locator("#chat").waitFor();
	await expect.poll(() => state(page).textContent()).toBe("Connected");
}

describe("demo page", () => {
	it("mints two users from the admin token, chats both ways, and shows the history after a reload", async () => {
		const context = await newContext();
		const alice = await open(context);
		await alice.getByLabel("Admin token").fill(server.adminToken);
		await alice.getByLabel("Your name").fill("Alice");
		await alice.getByRole("button", { name: "Create user and sign in" }).click();
		await alice.getByLabel("New room name").fill("general");
		await alice.getByRole("button", { name: "Create room" }).click();
		await expect.poll(() => state(alice).textContent()).toBe("Connected");
		await expect.poll(() => alice.getByRole("heading", { name: "general", exact: true }).count()).toBe(1);
		const roomId = (await alice.locator("#room-id-label").textContent()) ?? "";

		// A second tab is another user in the same demo tenant, here through the room's link.
		const bob = await open(context, `/demo#room=${roomId}`);
		expect(await bob.getByLabel("Admin token").isVisible()).toBe(false);
		await bob.getByLabel("Your name").fill("Bob");
		await bob.getByRole("button", { name: "Create user and sign in" }).click();
		await bob.locator("#chat").waitFor();
		await expect.poll(() => state(bob).textContent()).toBe("Connected");

		await send(alice, "Hi Bob!");
		await expect.poll(() => shown(bob)).toEqual([[1, "Alice", "Hi Bob!"]]);
		await send(bob, "Hello Alice");
		await send(bob, "How are you?");
		const expected = [
			[1, "Alice (you)", "Hi Bob!"],
			[2, "Bob", "Hello Alice"],
			[3, "Bob", "How are you?"],
		];
		await expect.poll(() => shown(alice)).toEqual(expected);
		await expect
			.poll(() => shown(bob))
			.toEqual([
				[1, "Alice", "Hi Bob!"],
				[2, "Bob (you)", "Hello Alice"],
				[3, "Bob (you)", "How are you?"],
			]);

		await alice.reload();
		await expect.poll(() => state(alice).textContent()).toBe("Connected");
		await expect.poll(() => shown(alice)).toEqual(expected);
		await send(bob, "Welcome back");
		await expect.poll(() => shown(alice)).toEqual([...expected, [4, "Bob", "Welcome back"]]);

		mkdirSync(ARTIFACTS, { recursive: true });
		await alice.screenshot({ path: join(ARTIFACTS, "demo.png"), fullPage: true });
		expect(problemsOf(alice)).toEqual([]);
		expect(problemsOf(bob)).toEqual([]);
	});

	it("a page that goes offline notices (heartbeat), then gets what it missed once and in order", async () => {
		const { backend, aliceToken, bobToken, roomId } = await tenantWithRoom();
		const alice = await open(await newContext(), "/demo?heartbeat=1000");
		const bobContext = await newContext();
		const bob = await open(bobContext, "/demo?heartbeat=1000");
		const sockets: string[] = [];
		bob.on("websocket", (ws) => sockets.push(ws.url()));
		await signInWithToken(alice, aliceToken);
		await signInWithToken(bob, bobToken);
		await openRoomById(alice, roomId);
		await openRoomById(bob, roomId);
		await send(alice, "before");
		await expect.poll(() => shown(bob)).toEqual([[1, "alice", "before"]]);

		// Chromium holds an open socket's frames while offline rather than closing it; only the
		// missing pong tells the SDK the connection is gone.
		await bobContext.setOffline(true);
		await expect.poll(() => state(bob).textContent(), { timeout: 15_000 }).toBe("Reconnecting…");
		for (const text of ["while", "you", "were", "away"]) await send(alice, text);
		await send(bob, "queued offline");
		await expect.poll(() => alice.locator("#messages li[data-seq]").count()).toBe(5);
		expect(await shown(bob)).toEqual([[1, "alice", "before"]]);

		await bobContext.setOffline(false);
		await expect.poll(() => state(bob).textContent(), { timeout: 20_000 }).toBe("Connected");
		const all = [
			[1, "alice", "before"],
			[2, "alice", "while"],
			[3, "alice", "you"],
			[4, "alice", "were"],
			[5, "alice", "away"],
			[6, "bob (you)", "queued offline"],
		];
		await expect.poll(() => shown(bob), { timeout: 20_000 }).toEqual(all);
		await expect.poll(() => bob.locator("#messages .pending").count()).toBe(0);
		await expect.poll(() => shown(alice)).toEqual(all.map(([seq, who, text]) => [seq, who === "bob (you)" ? "bob" : "alice (you)", text]));
		expect(sockets.length).toBeGreaterThanOrEqual(2);
		const { messages } = await backend.messages.history(roomId);
		expect(messages.map((m) => m.text_message)).toEqual(["before", "while", "you", "were", "away", "queued offline"]);
	});

	it("meets basic accessibility: labelled inputs, named buttons, live region, visible focus, contrast", async () => {
		const { aliceToken, roomId } = await tenantWithRoom();
		const page = await open(await newContext());
		const audit = () => page.evaluate(auditPage);
		const signInAudit = await audit();
		await signInWithToken(page, aliceToken);
		const roomsAudit = await audit();
		await openRoomById(page, roomId);
		await send(page, "contrast check");
		await expect.poll(() => shown(page), { timeout: 30_000 }).toHaveLength(1);
		const chatAudit = await audit();
		for (const result of [signInAudit, roomsAudit, chatAudit]) {
			expect(result.unlabelled).toEqual([]);
			expect(result.unnamedButtons).toEqual([]);
			expect(result.lowContrast).toEqual([]);
			expect(result.lang).toBe("en");
		}
		expect(chatAudit.live).toEqual({ "aria-live": "polite", "aria-relevant": "additions" });
		expect(chatAudit.status).toBe("status");
		expect(chatAudit.checked).toBeGreaterThan(10);

		// Keyboard focus is visible: a 3px outline on the focused field.
		await page.getByLabel("Message", { exact: true }).focus();
		await page.keyboard.press("Tab");
		const focused = await page.evaluate(() => {
			const el = document.activeElement as HTMLElement;
			const style = getComputedStyle(el);
			return { text: el.textContent, outline: `${style.outlineStyle} ${style.outlineWidth}` };
		});
		expect(focused).toEqual({ text: "Send", outline: "solid 3px" });
	});
});

describe("room list with live unread badges (user socket)", () => {
	it("shows unread badges in two tabs of the same user, and opening the room in one clears the badge in both", async () => {
		const { backend, aliceToken, bobToken, roomId } = await tenantWithRoom();
		const aliceId = JSON.parse(Buffer.from(aliceToken.split(".")[1] ?? "", "base64url").toString()).sub as string;
		await backend.rooms.addMember(roomId, aliceId);
		const tab1 = await open(await newContext());
		const tab2 = await open(await newContext());
		await signInWithToken(tab1, aliceToken);
		await signInWithToken(tab2, aliceToken);
		const badge = (page: Page) => page.locator(`#room-list [data-room-id="${roomId}"] .badge`);
		await expect.poll(() => state(tab1).textContent()).toBe("Connected");
		await expect.poll(() => state(tab2).textContent()).toBe("Connected");
		expect(await badge(tab1).isVisible()).toBe(false);

		const bob = createClient({ baseUrl: server.base, token: bobToken });
		await bob.rooms.join(roomId);
		await bob.messages.send(roomId, { text_message: "are you there?" });
		await bob.messages.send(roomId, { text_message: "hello?" });
		for (const tab of [tab1, tab2]) {
			// Room-list updates to a user who has not joined the room come at most once a second (INBOX_DEBOUNCE_MS).
			await expect.poll(() => badge(tab).textContent(), { timeout: 30_000 }).toBe("2");
			expect(await badge(tab).isVisible()).toBe(true);
			await expect.poll(() => tab.title(), { timeout: 30_000 }).toBe("(2) Roomkit chat demo");
		}

		await tab1.getByRole("button", { name: "Open room lobby" }).click();
		await expect
			.poll(() => shown(tab1))
			.toEqual([
				[1, "bob", "are you there?"],
				[2, "bob", "hello?"],
			]);
		// Read in one tab: the badge clears in the other, without a reload.
		await expect.poll(() => badge(tab2).isVisible(), { timeout: 30_000 }).toBe(false);
		await expect.poll(() => tab2.title(), { timeout: 30_000 }).toBe("Roomkit chat demo");
		expect((await backend.users.unread(aliceId)).unread_total).toBe(0);
		// While tab1 has the room open, new messages are read there and never badge tab2.
		await bob.messages.send(roomId, { text_message: "third" });
		await expect.poll(() => shown(tab1)).toHaveLength(3);
		await expect.poll(async () => (await backend.users.unread(aliceId)).unread_total).toBe(0);
		await expect.poll(() => badge(tab2).isVisible()).toBe(false);
		expect(problemsOf(tab1)).toEqual([]);
		expect(problemsOf(tab2)).toEqual([]);
	});
});

describe("conversation features in the demo", () => {
	it("two users: a reaction, an edit, a reply, typing, a read tick and a delete, each seen live by the other", async () => {
		const { aliceToken, bobToken, roomId } = await tenantWithRoom();
		const alice = await open(await newContext());
		const bob = await open(await newContext());
		for (const page of [alice, bob]) page.on("dialog", (d) => void d.accept(d.type() === "prompt" ? "Hello, fixed" : undefined));
		await signInWithToken(alice, aliceToken);
		await signInWithToken(bob, bobToken);
		await openRoomById(alice, roomId);
		await openRoomById(bob, roomId);
		const item = (page: Page, text: string) => page.locator("#messages li", { hasText: text });

		// Presence: each page shows both users online, with a dot (from the join's list and presence events).
		const onlineOf = async (page: Page) => (await page.locator("#online li").allTextContents()).sort();
		await expect.poll(() => onlineOf(bob), { timeout: 30_000 }).toEqual(["alice", "bob (you)"]);
		await expect.poll(() => onlineOf(alice), { timeout: 30_000 }).toEqual(["alice (you)", "bob"]);
		expect(await bob.locator("#online li .dot").count()).toBe(2);

		// Typing shows on the other page, then the message arrives.
		// Typing as a person does, a key now and then, until bob's page shows it (alice's page sends
		// "typing" once its room is joined, at most once a second).
		const input = alice.getByLabel("Message", { exact: true });
		for (const key of "Helo") await input.press(key);
		for (let i = 0; i < 20 && (await bob.locator("#typing").textContent()) !== "alice is typing…"; i++) {
			await input.press("End");
			await input.press(" ");
			await input.press("Backspace");
			await new Promise((r) => setTimeout(r, 500));
		}
		await expect.poll(() => bob.locator("#typing").textContent(), { timeout: 30_000 }).toBe("alice is typing…");
		await alice.getByRole("button", { name: "Send", exact: true }).click();
		await expect.poll(() => shown(bob)).toEqual([[1, "alice", "Helo"]]);
		await expect.poll(() => bob.locator("#typing").textContent(), { timeout: 30_000 }).toBe("");

		// Bob reacts; alice sees the count.
		await item(bob, "Helo").getByRole("button", { name: "Add 👍 reaction" }).click();
		await expect.poll(() => item(alice, "Helo").getByRole("button", { name: "Add 👍 reaction" }).textContent()).toBe("👍 1");

		// Alice edits; bob sees the new text marked as edited.
		await item(alice, "Helo").getByRole("button", { name: "Edit this message" }).click();
		await expect.poll(() => item(bob, "Hello, fixed").locator(".edited").textContent()).toBe("(edited)");

		// Bob replies; the reply quotes the message.
		await item(bob, "Hello, fixed").getByRole("button", { name: "Reply to this message" }).click();
		await send(bob, "Got it");
		await expect.poll(() => item(alice, "Got it").locator(".quote").textContent()).toBe("↪ Hello, fixed");

		// Bob has the room open, so he read it: alice's message shows the read tick.
		await expect.poll(() => item(alice, "Hello, fixed").locator(".tick").textContent()).toBe("✓ Read");

		// Alice deletes her message: a tombstone on both pages.
		await item(alice, "Hello, fixed").getByRole("button", { name: "Delete this message" }).click();
		await expect.poll(() => bob.locator('#messages li[data-seq="1"] .text').textContent()).toBe("Message deleted");
		await expect.poll(() => alice.locator('#messages li[data-seq="1"] .text').textContent()).toBe("Message deleted");
		expect(problemsOf(alice)).toEqual([]);
		expect(problemsOf(bob)).toEqual([]);
	});
});

describe("demo page on bare workerd (self-hosted, no asset binding)", () => {
	let selfhost: RunningServer;
	beforeAll(async () => {
		selfhost = await startSelfhost({ vars: { DEMO_DEV_MODE: "1" } });
	});
	afterAll(() => selfhost?.stop());

	it("serves the page and the SDK, and two tabs chat", async () => {
		const context = await newContext();
		const alice = await context.newPage();
		await alice.goto(`${selfhost.base}/demo`);
		await alice.getByLabel("Admin token").fill(selfhost.adminToken);
		await alice.getByLabel("Your name").fill("Alice");
		await alice.getByRole("button", { name: "Create user and sign in" }).click();
		await alice.getByLabel("New room name").fill("self-hosted");
		await alice.getByRole("button", { name: "Create room" }).click();
		// The user socket is connected from sign-in on; the room is open once its view shows.
		await expect.poll(() => alice.getByRole("heading", { name: "self-hosted", exact: true }).count()).toBe(1);
		await expect.poll(() => state(alice).textContent()).toBe("Connected");
		const roomId = (await alice.locator("#room-id-label").textContent()) ?? "";

		const bob = await context.newPage();
		await bob.goto(`${selfhost.base}/demo#room=${roomId}`);
		await bob.getByLabel("Your name").fill("Bob");
		await bob.getByRole("button", { name: "Create user and sign in" }).click();
		await bob.locator("#chat").waitFor();
		await expect.poll(() => state(bob).textContent()).toBe("Connected");
		await send(bob, "hello from bob");
		await send(alice, "hello from alice");
		await expect
			.poll(() => shown(bob))
			.toEqual([
				[1, "Bob (you)", "hello from bob"],
				[2, "Alice", "hello from alice"],
			]);
		await expect
			.poll(() => shown(alice))
			.toEqual([
				[1, "Bob", "hello from bob"],
				[2, "Alice (you)", "hello from alice"],
			]);
	});
});

/** A client with two users and a public room, made through the SDK like an integrator's backend. */
async function tenantWithRoom(): Promise<{ backend: ChatClient; aliceToken: string; bobToken: string; roomId: string }> {
	const admin = createClient({ baseUrl: server.base, adminToken: server.adminToken });
	const { api_token } = await admin.admin.createClient({ name: "browser" });
	const backend = createClient({ baseUrl: server.base, apiToken: api_token });
	const alice = await backend.users.create({ name: "alice" });
	const bob = await backend.users.create({ name: "bob" });
	const room = await backend.rooms.create({ name: "lobby" });
	return {
		backend,
		aliceToken: (await backend.users.token(alice.id)).token,
		bobToken: (await backend.users.token(bob.id)).token,
		roomId: room.id,
	};
}

/**
 * An axe-like pass over what is visible, by hand: every form field has a label, every button
 * a name, and text meets WCAG AA contrast (4.5:1) against its effective background.
 */
function auditPage() {
	const visible = (el: Element) => (el as HTMLElement).offsetParent !== null || getComputedStyle(el).position === "fixed";
	const rgb = (value: string) => (value.match(/[\d.]+/g) ?? []).map(Number);
	const luminance = ([r = 0, g = 0, b = 0]: number[]) => {
		const channel = (c: number) => {
			const s = c / 255;
			return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
		};
		return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
	};
	const background = (el: Element | null): number[] => {
		for (let node = el; node; node = node.parentElement) {
			const color = rgb(getComputedStyle(node).backgroundColor);
			if (color.length === 3 || (color[3] ?? 0) > 0) return color.slice(0, 3);
		}
		return [255, 255, 255];
	};
	const describe = (el: Element) =>
		`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.className ? `.${String(el.className).replace(/ /g, ".")}` : ""}`;

	const fields = [...document.querySelectorAll("input, textarea, select")].filter(visible) as HTMLInputElement[];
	const unlabelled = fields
		.filter(
			(f) =>
				!(f.labels && [...f.labels].some((l) => l.textContent?.trim())) &&
				!f.getAttribute("aria-label") &&
				!f.getAttribute("aria-labelledby"),
		)
		.map(describe);
	const buttons = [...document.querySelectorAll("button, a[href]")].filter(visible);
	const unnamedButtons = buttons.filter((b) => !(b.getAttribute("aria-label") || b.textContent)?.trim()).map(describe);

	const lowContrast: string[] = [];
	let checked = 0;
	for (const el of document.querySelectorAll("body *")) {
		if (!visible(el)) continue;
		const ownText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent?.trim());
		if (!ownText) continue;
		checked += 1;
		const style = getComputedStyle(el);
		const opacity = Number(style.opacity);
		const fg = luminance(rgb(style.color));
		const bg = luminance(background(el));
		const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
		// Pending echoes are dimmed on purpose and say "Sending…"; everything else must pass AA.
		if (ratio < 4.5 && !(opacity < 1 && el.closest(".pending"))) lowContrast.push(`${describe(el)} ${ratio.toFixed(2)}`);
	}
	const list = document.getElementById("messages");
	return {
		unlabelled,
		unnamedButtons,
		lowContrast,
		checked,
		lang: document.documentElement.lang,
		live: list ? { "aria-live": list.getAttribute("aria-live"), "aria-relevant": list.getAttribute("aria-relevant") } : null,
		status: document.getElementById("connection-state")?.getAttribute("role"),
	};
}
