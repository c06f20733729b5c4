// The /demo page: a small chat built only on the SDK, which it loads from this service.
// Plain JavaScript (bundled by scripts/build-client.mjs) because the project's TypeScript
// config targets workerd, which has no DOM.
import { ChatApiError, createClient } from "./client.js";

const SESSION_KEY = "roomkit-demo:session"; // per tab: each tab can be another user
const DEMO_CLIENT_KEY = "roomkit-demo:client"; // per browser: tabs share the demo tenant
const RECENT_ROOMS_KEY = "roomkit-demo:rooms";
const HISTORY_PAGE = 50;

const $ = (id) => {
	const element = document.getElementById(id);
	if (!element) throw new Error(`#${id} is missing`);
	return element;
};
const params = new URLSearchParams(location.search);
/** `?heartbeat=<ms>` notices a dead connection sooner (handy to try reconnects). */
const heartbeatMs = Number(params.get("heartbeat")) || undefined;
const devMode = document.body.dataset.devMode === "1";
/** `/demo#room=<id>` opens that room once signed in. */
const linkedRoom = new URLSearchParams(location.hash.slice(1)).get("room") ?? undefined;

const store = {
	read(storage, key) {
		try {
			return JSON.parse(storage.getItem(key) ?? "null");
		} catch {
			return null;
		}
	},
	write(storage, key, value) {
		if (value === null) storage.removeItem(key);
		else storage.setItem(key, JSON.stringify(value));
	},
};

/** @type {{ baseUrl: string, token: string, userId: string, name: string, roomId?: string } | null} */
let session = store.read(sessionStorage, SESSION_KEY);
let client = null;
/** The user socket: one connection for the room list (live unread badges) and the open room. */
let chat = null;
/** The open room's subscription on `chat`. */
let room = null;
let readTimer;
const names = new Map();

// --- Rendering -----------------------------------------------------------------------

const STATE_TEXT = {
	idle: "Not connected",
	connecting: "Connecting…",
	connected: "Connected",
	reconnecting: "Reconnecting…",
	closed: "Disconnected",
};

function showState(state) {
	const badge = $("connection-state");
	badge.dataset.state = state;
	badge.textContent = STATE_TEXT[state] ?? state;
}

function notify(text) {
	$("notice").textContent = text;
}

function describe(error) {
	if (error instanceof ChatApiError) {
		const fields = error.fields?.map((f) => `${f.path}: ${f.message}`).join("; ");
		return `${error.message}${fields ? ` (${fields})` : ""} [${error.code}]`;
	}
	return error instanceof Error ? error.message : String(error);
}

function show(section) {
	for (const id of ["signin", "rooms", "chat"]) $(id).hidden = id !== section;
	const focus = { signin: devMode ? "display-name" : "jwt", rooms: "room-name", chat: "message-input" }[section];
	$(focus).focus();
}

const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

function nameOf(userId) {
	if (userId === session?.userId) return `${session.name} (you)`;
	return names.get(userId) ?? `user ${userId.slice(-6)}`;
}

async function learnName(userId) {
	if (names.has(userId) || userId === session?.userId || !client) return;
	names.set(userId, `user ${userId.slice(-6)}`);
	try {
		const user = await client.users.get(userId);
		if (user.name) names.set(userId, user.name);
		for (const who of document.querySelectorAll(`[data-user-id="${userId}"] .who`)) who.textContent = nameOf(userId);
	} catch {
		// The short id stays.
	}
}

/** Messages of the open room by id, as they are now (edits, deletes and reactions applied). */
const shownMessages = new Map();
/** Reactions this user gave in the open room: `${messageId} ${type}`. */
const myReactions = new Set();
/** Each member's read position in the open room (read receipts). */
const readPositions = new Map();
let replyingTo = null;
const REACTION = "👍";

function renderMessage(message) {
	const list = $("messages");
	shownMessages.set(message.id, message);
	const existing = list.querySelector(`[data-id="${message.id}"]`);
	const item = existing ?? document.createElement("li");
	item.replaceChildren();
	item.dataset.seq = String(message.seq);
	item.dataset.id = message.id;
	item.dataset.userId = message.user_id;
	const mine = message.user_id === session?.userId;
	item.classList.toggle("mine", mine);
	item.classList.toggle("deleted", message.deleted_at !== undefined);
	const who = document.createElement("span");
	who.className = "who";
	who.textContent = nameOf(message.user_id);
	const when = document.createElement("time");
	when.dateTime = message.created_at;
	when.textContent = time(message.created_at);
	item.append(who, when);
	if (message.reply_to) {
		const parent = shownMessages.get(message.reply_to);
		const quote = document.createElement("span");
		quote.className = "quote";
		quote.textContent = `↪ ${parent ? (parent.deleted_at ? "a deleted message" : parent.text_message.slice(0, 60)) : "an earlier message"}`;
		item.append(quote);
	}
	const text = document.createElement("span");
	text.className = "text";
	text.textContent = message.deleted_at ? "Message deleted" : message.text_message;
	item.append(text);
	if (message.edited_at && !message.deleted_at) {
		const edited = document.createElement("span");
		edited.className = "edited";
		edited.textContent = "(edited)";
		item.append(edited);
	}
	if (!message.deleted_at) {
		const actions = document.createElement("span");
		actions.className = "actions";
		const count = message.reactions?.[REACTION] ?? 0;
		const mineReacted = myReactions.has(`${message.id} ${REACTION}`);
		actions.append(
			button(count > 0 ? `${REACTION} ${count}` : REACTION, `${mineReacted ? "Remove" : "Add"} ${REACTION} reaction`, () =>
				toggleReaction(message.id),
			),
		);
		actions.append(button("Reply", "Reply to this message", () => startReply(message)));
		if (mine) {
			actions.append(button("Edit", "Edit this message", () => void editMessage(message)));
			actions.append(button("Delete", "Delete this message", () => void deleteMessage(message)));
			const tick = document.createElement("span");
			tick.className = "tick";
			item.append(tick);
		}
		item.append(actions);
	}
	if (!existing) {
		// Messages arrive in seq order; pending echoes of our own sends stay at the bottom.
		const firstPending = list.querySelector(".pending");
		list.insertBefore(item, firstPending);
		if (list.scrollHeight - list.scrollTop - list.clientHeight < 120 || mine) item.scrollIntoView({ block: "end" });
	}
	renderTicks();
	void learnName(message.user_id);
}

function button(label, ariaLabel, onClick) {
	const b = document.createElement("button");
	b.type = "button";
	b.className = "secondary small";
	b.textContent = label;
	b.setAttribute("aria-label", ariaLabel);
	b.addEventListener("click", onClick);
	return b;
}

/** "Read" on my messages that someone else has read up to. */
function renderTicks() {
	for (const tick of document.querySelectorAll("#messages li.mine .tick")) {
		const seq = Number(tick.closest("li")?.dataset.seq);
		let readers = 0;
		for (const [userId, lastRead] of readPositions) if (userId !== session?.userId && lastRead >= seq) readers++;
		tick.textContent = readers > 0 ? "✓ Read" : "✓ Sent";
	}
}

async function toggleReaction(messageId) {
	if (!room) return;
	const key = `${messageId} ${REACTION}`;
	try {
		if (myReactions.has(key)) {
			myReactions.delete(key);
			await room.unreact(messageId, REACTION);
		} else {
			myReactions.add(key);
			await room.react(messageId, REACTION);
		}
	} catch (error) {
		notify(`Could not react: ${describe(error)}`);
	}
}

function startReply(message) {
	replyingTo = message;
	$("replying-to").hidden = false;
	$("replying-to-text").textContent = message.text_message.slice(0, 80);
	$("message-input").focus();
}

function cancelReply() {
	replyingTo = null;
	$("replying-to").hidden = true;
}

async function editMessage(message) {
	const text = prompt("Edit your message", message.text_message);
	if (text === null || text.trim() === "" || !room) return;
	try {
		await room.edit(message.id, text.trim());
	} catch (error) {
		notify(`Could not edit: ${describe(error)}`);
	}
}

async function deleteMessage(message) {
	if (!room || !confirm("Delete this message for everyone?")) return;
	try {
		await room.delete(message.id);
	} catch (error) {
		notify(`Could not delete: ${describe(error)}`);
	}
}

/** Who is online in the open room: the join's list, then presence events. */
const online = new Set();
function renderOnline() {
	const list = $("online");
	list.replaceChildren();
	for (const id of [...online].sort()) {
		if (id !== session?.userId && !names.has(id)) void learnName(id).then(renderOnline);
		const item = document.createElement("li");
		item.dataset.onlineUserId = id;
		const dot = document.createElement("span");
		dot.className = "dot";
		dot.setAttribute("aria-hidden", "true");
		item.append(dot, nameOf(id));
		item.title = "online";
		list.append(item);
	}
}

let typers = [];
function renderTyping(userIds) {
	typers = userIds;
	const others = userIds.filter((id) => id !== session?.userId);
	// Names come from REST; show the short id until then, and the name once it is known.
	for (const id of others) if (!names.has(id)) void learnName(id).then(() => renderTyping(typers));
	$("typing").textContent = others.length === 0 ? "" : `${others.map(nameOf).join(", ")} ${others.length === 1 ? "is" : "are"} typing…`;
}

// --- Session ---------------------------------------------------------------------------

function demoClient() {
	const saved = store.read(localStorage, DEMO_CLIENT_KEY);
	return saved && saved.baseUrl === location.origin ? saved : null;
}

function clientFor(current) {
	const demo = demoClient();
	// A demo user minted here can get fresh tokens with the demo client's key (development only).
	const getToken =
		current.minted && demo
			? async () => (await createClient({ baseUrl: current.baseUrl, apiToken: demo.apiToken }).users.token(current.userId)).token
			: undefined;
	return createClient({ baseUrl: current.baseUrl, token: current.token, getToken });
}

function saveSession() {
	if (session && client?.token) session.token = client.token;
	store.write(sessionStorage, SESSION_KEY, session);
}

async function signIn(next) {
	session = next;
	client = clientFor(session);
	saveSession();
	chat?.close();
	chat = client.connect({ heartbeatIntervalMs: heartbeatMs, heartbeatTimeoutMs: heartbeatMs });
	showState(chat.state);
	chat.on("state", (state) => {
		showState(state);
		saveSession();
	});
	chat.on("room", (change) => renderBadge(change.room_id, change.removed ? 0 : change.unread, change.removed));
	chat.on("unread_total", (total) => {
		document.title = total > 0 ? `(${total}) Roomkit chat demo` : "Roomkit chat demo";
	});
	chat.on("error", (error) => notify(`${error.message} [${error.code}]`));
	$("me").textContent = `${session.name} (${session.userId})`;
	if (session.roomId) await openRoom(session.roomId);
	else await showRooms();
}

function signOut() {
	leaveRoom();
	chat?.close();
	chat = null;
	session = null;
	client = null;
	saveSession();
	showState("idle");
	show("signin");
}

async function mintUser(event) {
	event.preventDefault();
	const baseUrl = location.origin;
	const name = $("display-name").value.trim();
	const adminToken = $("admin-token").value.trim();
	try {
		let demo = demoClient();
		if (!demo) {
			if (!adminToken) throw new Error("Paste the admin token (ADMIN_TOKEN in .dev.vars) the first time");
			const created = await createClient({ baseUrl, adminToken }).admin.createClient({ name: "demo" });
			demo = { baseUrl, clientId: created.id, apiToken: created.api_token };
			store.write(localStorage, DEMO_CLIENT_KEY, demo);
		}
		const backend = createClient({ baseUrl, apiToken: demo.apiToken });
		const user = await backend.users.create({ name });
		const { token } = await backend.users.token(user.id);
		$("mint-form").reset();
		await signIn({ baseUrl, token, userId: user.id, name, minted: true, roomId: linkedRoom });
	} catch (error) {
		if (error instanceof ChatApiError && error.status === 401 && demoClient() && !adminToken) {
			// The server's data was reset since this browser saved its demo client.
			store.write(localStorage, DEMO_CLIENT_KEY, null);
			$("admin-token-field").hidden = false;
			$("forget-demo-client").hidden = true;
			notify("This server does not know the saved demo client any more: paste the admin token to create a new one.");
			return;
		}
		notify(`Could not create a user: ${describe(error)}`);
	}
}

async function useToken(event) {
	event.preventDefault();
	const baseUrl = $("base-url").value.trim().replace(/\/+$/, "");
	const token = $("jwt").value.trim();
	try {
		const userId = readSub(token);
		const probe = createClient({ baseUrl, token });
		const user = await probe.users.get(userId);
		$("jwt").value = "";
		await signIn({ baseUrl, token, userId, name: user.name ?? "you", roomId: linkedRoom });
	} catch (error) {
		notify(`Could not sign in: ${describe(error)}`);
	}
}

function readSub(token) {
	try {
		const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
		const sub = JSON.parse(atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, "="))).sub;
		if (typeof sub === "string") return sub;
	} catch {}
	throw new Error("That does not look like a user JWT (from POST /auth/{user_id})");
}

// --- Rooms -----------------------------------------------------------------------------

function rememberRoom(chatRoom) {
	const recent = (store.read(localStorage, RECENT_ROOMS_KEY) ?? []).filter((r) => r.id !== chatRoom.id);
	recent.unshift({ id: chatRoom.id, name: chatRoom.name, baseUrl: session.baseUrl });
	store.write(localStorage, RECENT_ROOMS_KEY, recent.slice(0, 20));
}

/** Shows a room's unread count on its entry in the room list (the count comes from the user socket). */
function renderBadge(roomId, unread, removed = false) {
	const item = $("room-list").querySelector(`[data-room-id="${roomId}"]`);
	if (!item) {
		if (!removed && unread > 0) void showRooms({ keepRoom: true });
		return;
	}
	const badge = item.querySelector(".badge");
	badge.textContent = String(unread);
	badge.hidden = unread === 0;
	badge.setAttribute("aria-label", `${unread} unread`);
}

async function showRooms({ keepRoom = false } = {}) {
	if (!keepRoom) {
		leaveRoom();
		show("rooms");
	}
	const list = $("room-list");
	list.replaceChildren();
	let mine = [];
	try {
		mine = (await client.users.rooms(session.userId, { limit: 200 })).rooms;
	} catch (error) {
		notify(`Could not list your rooms: ${describe(error)}`);
	}
	const recent = (store.read(localStorage, RECENT_ROOMS_KEY) ?? []).filter((r) => r.baseUrl === session.baseUrl);
	const seen = new Set();
	for (const entry of [...mine, ...recent]) {
		if (seen.has(entry.id)) continue;
		seen.add(entry.id);
		const item = document.createElement("li");
		item.dataset.roomId = entry.id;
		const button = document.createElement("button");
		button.type = "button";
		const label = entry.name ?? `Room ${entry.id.slice(-6)}`;
		button.textContent = label;
		button.setAttribute("aria-label", `Open room ${label}`);
		button.addEventListener("click", () => void openRoom(entry.id));
		const badge = document.createElement("span");
		badge.className = "badge";
		item.append(button, badge);
		list.append(item);
		renderBadge(entry.id, chat?.rooms.get(entry.id)?.unread ?? entry.unread ?? 0);
	}
	$("no-rooms").hidden = seen.size > 0;
}

async function createRoom(event) {
	event.preventDefault();
	try {
		const created = await client.rooms.create({ name: $("room-name").value.trim() });
		$("create-room-form").reset();
		await openRoom(created.id);
	} catch (error) {
		notify(`Could not create the room: ${describe(error)}`);
	}
}

async function joinRoomById(event) {
	event.preventDefault();
	const id = $("room-id").value.trim();
	$("join-room-form").reset();
	await openRoom(id);
}

async function openRoom(roomId) {
	leaveRoom();
	notify("");
	let chatRoom;
	try {
		chatRoom = await client.rooms.get(roomId);
		// Public rooms are open to the whole tenant; joining lists the room under "Your rooms".
		if (!chatRoom.private) await client.rooms.join(roomId);
	} catch (error) {
		notify(`Could not open the room: ${describe(error)}`);
		session.roomId = undefined;
		saveSession();
		return showRooms();
	}
	session.roomId = roomId;
	saveSession();
	rememberRoom(chatRoom);
	$("room-title").textContent = chatRoom.name ?? "Untitled room";
	$("room-id-label").textContent = roomId;
	$("room-link").href = `${location.pathname}#room=${roomId}`;
	const list = $("messages");
	list.replaceChildren();
	list.setAttribute("aria-busy", "true");
	show("chat");
	let lastSeq = 0;
	try {
		const { messages } = await client.messages.history(roomId, { limit: HISTORY_PAGE });
		for (const message of messages) renderMessage(message);
		lastSeq = messages.at(-1)?.seq ?? 0;
	} catch (error) {
		notify(`Could not load the history: ${describe(error)}`);
	}
	list.removeAttribute("aria-busy");
	// The socket replays whatever was sent after the history page, so nothing falls between.
	room = chat.join(roomId, { lastSeq });
	room.on("new_message", (message) => {
		renderMessage(message);
		markReadSoon();
	});
	room.on("message_updated", ({ message }) => renderMessage(message));
	room.on("message_deleted", ({ message_id }) => {
		const known = shownMessages.get(message_id);
		if (known)
			renderMessage({ ...known, text_message: "", metadata: undefined, reactions: undefined, deleted_at: new Date().toISOString() });
	});
	const onReaction = ({ message_id, reactions }) => {
		const known = shownMessages.get(message_id);
		if (known) renderMessage({ ...known, reactions });
	};
	room.on("reaction_added", onReaction);
	room.on("reaction_removed", onReaction);
	room.on("typing", ({ user_ids }) => renderTyping(user_ids));
	room.on("joined", ({ online: ids }) => {
		online.clear();
		for (const id of ids) online.add(id);
		renderOnline();
	});
	room.on("presence", ({ user_id, online: isOnline }) => {
		if (isOnline) online.add(user_id);
		else online.delete(user_id);
		renderOnline();
	});
	room.on("read_receipt", ({ user_id, last_read_seq }) => {
		readPositions.set(user_id, last_read_seq);
		renderTicks();
	});
	client.messages
		.reads(roomId)
		.then(({ reads }) => {
			for (const r of reads) readPositions.set(r.user_id, Math.max(readPositions.get(r.user_id) ?? 0, r.last_read_seq));
			renderTicks();
		})
		.catch(() => {});
	room.on("removed", () => {
		notify("You were removed from this room.");
		void showRooms();
	});
	room.on("error", (error) => notify(`${error.message} [${error.code}]`));
	markReadSoon();
}

/** What is on screen in the open room counts as read: the badge clears here and on the user's other tabs. */
function markReadSoon() {
	clearTimeout(readTimer);
	readTimer = setTimeout(() => {
		const current = room;
		if (!current || current.lastSeq === undefined || document.hidden) return;
		current.markRead().catch(() => {
			// Not connected right now: the next message or reconnect marks it.
		});
	}, 150);
}

function leaveRoom() {
	clearTimeout(readTimer);
	shownMessages.clear();
	myReactions.clear();
	readPositions.clear();
	cancelReply();
	renderTyping([]);
	online.clear();
	renderOnline();
	room?.leave();
	room = null;
}

async function sendMessage(event) {
	event.preventDefault();
	const input = $("message-input");
	const text = input.value.trim();
	if (!text || !room) return;
	input.value = "";
	const pending = document.createElement("li");
	pending.className = "pending mine";
	const label = document.createElement("span");
	label.className = "who";
	label.textContent = "Sending…";
	const body = document.createElement("span");
	body.className = "text";
	body.textContent = text;
	pending.append(label, body);
	$("messages").append(pending);
	try {
		// Resolves with the stored message once acknowledged; `new_message` renders it, in seq order.
		const replyTo = replyingTo?.id;
		cancelReply();
		await room.send(text, replyTo ? { replyTo } : {});
	} catch (error) {
		notify(`Not sent: ${describe(error)}`);
		input.value ||= text;
	} finally {
		pending.remove();
	}
}

// --- Wiring ----------------------------------------------------------------------------

$("base-url").value = location.origin;
if (devMode) {
	$("mint-form").addEventListener("submit", (event) => void mintUser(event));
	const known = demoClient();
	$("admin-token-field").hidden = Boolean(known);
	$("forget-demo-client").hidden = !known;
	$("forget-demo-client").addEventListener("click", () => {
		store.write(localStorage, DEMO_CLIENT_KEY, null);
		$("admin-token-field").hidden = false;
		$("forget-demo-client").hidden = true;
	});
}
$("token-form").addEventListener("submit", (event) => void useToken(event));
$("create-room-form").addEventListener("submit", (event) => void createRoom(event));
$("join-room-form").addEventListener("submit", (event) => void joinRoomById(event));
$("send-form").addEventListener("submit", (event) => void sendMessage(event));
let lastTypingAt = 0;
$("message-input").addEventListener("input", () => {
	// "Typing" at most once a second; the server drops it after 6 s without a refresh.
	// Only once the room is joined (a keystroke before that would be dropped and hold back the next one).
	if (!room?.joined || Date.now() - lastTypingAt < 1_000) return;
	lastTypingAt = Date.now();
	room.typing();
});
$("cancel-reply").addEventListener("click", cancelReply);
$("sign-out").addEventListener("click", signOut);
document.addEventListener("visibilitychange", () => {
	if (!document.hidden) markReadSoon();
});
$("back-to-rooms").addEventListener("click", () => {
	session.roomId = undefined;
	saveSession();
	void showRooms();
});

if (session) {
	if (linkedRoom) session.roomId = linkedRoom;
	void signIn(session);
} else {
	show("signin");
	if (linkedRoom) notify("Sign in to open the linked room.");
}
