/**
 * The /demo page. Static markup; the behaviour is in page/app.js, which loads the SDK from
 * /demo/client.js. In development (`DEMO_DEV_MODE=1`) it also offers to mint a user with
 * the admin token the developer pastes.
 */
export function demoHtml({ devMode, version }: { devMode: boolean; version: string }): string {
	const mintForm = devMode
		? `<form id="mint-form" class="card">
		<h3>Create a demo user <span class="tag">development</span></h3>
		<p class="hint">Creates a "demo" client (once per browser), a user in it and a token, through the REST API. Open a second tab to chat as someone else.</p>
		<div id="admin-token-field">
			<label for="admin-token">Admin token</label>
			<p class="hint" id="admin-token-hint">ADMIN_TOKEN from <code>.dev.vars</code>; needed only the first time.</p>
			<input id="admin-token" name="admin-token" type="password" autocomplete="off" aria-describedby="admin-token-hint">
		</div>
		<label for="display-name">Your name</label>
		<input id="display-name" name="display-name" required maxlength="200" autocomplete="nickname">
		<div class="row">
			<button type="submit">Create user and sign in</button>
			<button type="button" id="forget-demo-client" class="secondary" hidden>Use a new demo client</button>
		</div>
	</form>`
		: "";
	return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Roomkit chat demo</title>
<link rel="icon" href="data:,">
<style>
	:root { color-scheme: light; --fg: #1b1f24; --muted: #4b5563; --line: #9ca3af; --accent: #1d4ed8; --bg: #ffffff; --soft: #f3f4f6; }
	* { box-sizing: border-box; }
	body { margin: 0 auto; max-width: 42rem; padding: 0.75rem; font: 1rem/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
	header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.5rem; border-bottom: 1px solid var(--line); padding-bottom: 0.5rem; }
	h1 { font-size: 1.25rem; margin: 0; }
	h2 { font-size: 1.15rem; margin: 1rem 0 0.5rem; }
	h3 { font-size: 1rem; margin: 0 0 0.5rem; }
	.state { margin: 0; padding: 0.2rem 0.6rem; border-radius: 1rem; font-weight: 600; background: var(--soft); color: var(--fg); border: 1px solid var(--line); }
	.state[data-state="connected"] { background: #dcfce7; color: #14532d; border-color: #15803d; }
	.state[data-state="connecting"], .state[data-state="reconnecting"] { background: #ffedd5; color: #7c2d12; border-color: #c2410c; }
	.state[data-state="closed"] { background: #fee2e2; color: #7f1d1d; border-color: #b91c1c; }
	.card { border: 1px solid var(--line); border-radius: 0.5rem; padding: 0.75rem; margin: 0.75rem 0; }
	label { display: block; font-weight: 600; margin: 0.5rem 0 0.25rem; }
	input, textarea { width: 100%; font: inherit; padding: 0.5rem; border: 1px solid #6b7280; border-radius: 0.375rem; color: var(--fg); background: var(--bg); }
	textarea { resize: vertical; }
	button { font: inherit; font-weight: 600; padding: 0.5rem 0.9rem; min-height: 2.75rem; border-radius: 0.375rem; border: 1px solid var(--accent); background: var(--accent); color: #ffffff; cursor: pointer; }
	button.secondary { background: var(--bg); color: var(--accent); }
	:focus-visible { outline: 3px solid #b45309; outline-offset: 2px; }
	.row { display: flex; flex-wrap: wrap; gap: 0.5rem; margin-top: 0.75rem; align-items: center; }
	.hint { color: var(--muted); margin: 0.25rem 0; font-size: 0.9rem; }
	.tag { font-size: 0.75rem; font-weight: 600; color: #7c2d12; background: #ffedd5; padding: 0.1rem 0.4rem; border-radius: 0.25rem; }
	code { overflow-wrap: anywhere; }
	a { color: var(--accent); }
	#room-list { list-style: none; padding: 0; display: grid; gap: 0.5rem; }
	#room-list li { display: flex; align-items: center; gap: 0.5rem; }
	#room-list button { flex: 1; text-align: left; background: var(--bg); color: var(--accent); }
	#room-list .badge { min-width: 1.75rem; padding: 0.1rem 0.5rem; border-radius: 1rem; background: #b91c1c; color: #ffffff; font-weight: 700; text-align: center; }
	#messages { list-style: none; margin: 0.5rem 0; padding: 0.5rem; border: 1px solid var(--line); border-radius: 0.5rem; height: min(55vh, 28rem); overflow-y: auto; display: flex; flex-direction: column; gap: 0.4rem; }
	#messages li { display: grid; grid-template-columns: 1fr auto; gap: 0 0.5rem; padding: 0.4rem 0.6rem; border-radius: 0.5rem; background: var(--soft); max-width: 90%; }
	#messages li.mine { align-self: flex-end; background: #dbeafe; }
	#messages li.pending { opacity: 0.8; border: 1px dashed var(--muted); }
	#messages .who { font-weight: 600; font-size: 0.85rem; }
	#messages time { color: var(--muted); font-size: 0.8rem; grid-row: 1; grid-column: 2; }
	#messages .text { grid-column: 1 / span 2; white-space: pre-wrap; overflow-wrap: anywhere; }
	#messages .quote, #messages .edited, #messages .tick { grid-column: 1 / span 2; color: var(--muted); font-size: 0.8rem; }
	#messages li.deleted .text { font-style: italic; color: var(--muted); }
	#messages .actions { grid-column: 1 / span 2; display: flex; flex-wrap: wrap; gap: 0.25rem; }
	button.small { min-height: 2rem; padding: 0.15rem 0.5rem; font-size: 0.85rem; }
	#typing { min-height: 1.4em; margin: 0; }
	#online { display: flex; flex-wrap: wrap; gap: 0.75rem; list-style: none; margin: 0 0 0.5rem; padding: 0; }
	#online .dot { display: inline-block; width: 0.6rem; height: 0.6rem; margin-right: 0.3rem; border-radius: 50%; background: #15803d; }
	#send-form .row { flex-wrap: nowrap; margin-top: 0; }
	#notice:empty { display: none; }
	#notice { background: #fee2e2; color: #7f1d1d; border: 1px solid #b91c1c; border-radius: 0.375rem; padding: 0.5rem; }
	.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
</style>
</head>
<body data-dev-mode="${devMode ? "1" : "0"}">
<header>
	<h1>Roomkit chat demo</h1>
	<p id="connection-state" class="state" role="status" data-state="idle">Not connected</p>
</header>
<main>
<p id="notice" role="alert"></p>
<section id="signin" aria-labelledby="signin-title">
	<h2 id="signin-title">Sign in</h2>
	${mintForm}
	<form id="token-form" class="card">
		<h3>Use a user token</h3>
		<p class="hint">Your backend mints one with <code>POST /auth/{user_id}</code>.</p>
		<label for="base-url">Server URL</label>
		<input id="base-url" name="base-url" type="url" required autocomplete="url">
		<label for="jwt">User JWT</label>
		<textarea id="jwt" name="jwt" rows="3" required autocomplete="off" spellcheck="false"></textarea>
		<div class="row"><button type="submit">Sign in with token</button></div>
	</form>
</section>
<section id="rooms" aria-labelledby="rooms-title" hidden>
	<h2 id="rooms-title">Rooms</h2>
	<div class="row"><span>Signed in as <strong id="me"></strong></span><button type="button" id="sign-out" class="secondary">Sign out</button></div>
	<form id="create-room-form" class="card">
		<label for="room-name">New room name</label>
		<input id="room-name" name="room-name" required maxlength="200" autocomplete="off">
		<div class="row"><button type="submit">Create room</button></div>
	</form>
	<form id="join-room-form" class="card">
		<label for="room-id">Room id</label>
		<input id="room-id" name="room-id" required autocomplete="off" spellcheck="false" pattern="[0-9a-fA-F\\-]{36}" aria-describedby="room-id-hint">
		<p class="hint" id="room-id-hint">A room id someone shared with you (the same client).</p>
		<div class="row"><button type="submit">Open room</button></div>
	</form>
	<h3>Your rooms</h3>
	<p id="no-rooms" class="hint" hidden>No rooms yet: create one.</p>
	<ul id="room-list"></ul>
</section>
<section id="chat" aria-labelledby="room-title" hidden>
	<h2 id="room-title">Room</h2>
	<p class="hint">Room id <code id="room-id-label"></code> · <a id="room-link" href="#">link to this room</a></p>
	<ul id="online" aria-label="Online in this room"></ul>
	<ol id="messages" aria-live="polite" aria-relevant="additions" aria-label="Messages" tabindex="0"></ol>
	<p id="typing" class="hint" aria-live="polite"></p>
	<p id="replying-to" class="hint" hidden>Replying to “<span id="replying-to-text"></span>” <button type="button" id="cancel-reply" class="secondary small">Cancel reply</button></p>
	<form id="send-form">
		<label for="message-input">Message</label>
		<div class="row">
			<input id="message-input" name="message" required maxlength="4000" autocomplete="off">
			<button type="submit">Send</button>
		</div>
	</form>
	<div class="row"><button type="button" id="back-to-rooms" class="secondary">Back to rooms</button></div>
</section>
</main>
<script type="module" src="/demo/app.js?v=${version}"></script>
</body>
</html>
`;
}
