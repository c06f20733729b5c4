import { type Context, Hono } from "hono";
import type { AppEnv } from "../routes/context";
import { ASSETS_VERSION, CLIENT_JS, DEMO_JS } from "./assets.gen";
import { demoHtml } from "./page/html";

// Inline styles only; scripts only from here; sockets and REST calls may go to another server.
const CSP = [
	"default-src 'none'",
	"script-src 'self'",
	"style-src 'unsafe-inline'",
	"connect-src 'self' http: https: ws: wss:",
	"img-src 'self' data:",
	"base-uri 'none'",
	"form-action 'none'",
	"frame-ancestors 'none'",
].join("; ");

const ETAG = `"${ASSETS_VERSION}"`;

const script = (body: string) => (c: Context<AppEnv>) => {
	const headers = {
		"content-type": "text/javascript; charset=utf-8",
		"cache-control": "no-cache",
		etag: ETAG,
		"x-content-type-options": "nosniff",
	};
	// Revalidated on each load, so a rebuilt bundle is picked up at once.
	if (c.req.header("If-None-Match") === ETAG) return c.body(null, 304, headers);
	return c.body(body, 200, headers);
};

/**
 * The demo chat page and the SDK bundle it loads, served from strings built into the
 * Worker (scripts/build-client.mjs), so they work on bare workerd without an asset binding.
 */
export const demoRoutes = new Hono<AppEnv>()
	.get("/demo", (c) =>
		c.html(demoHtml({ devMode: c.env.DEMO_DEV_MODE === "1", version: ASSETS_VERSION }), 200, {
			"content-security-policy": CSP,
			"x-content-type-options": "nosniff",
			"referrer-policy": "no-referrer",
			"cache-control": "no-store",
		}),
	)
	.get("/demo/", (c) => c.redirect("/demo", 301))
	.get("/demo/client.js", script(CLIENT_JS))
	.get("/demo/app.js", script(DEMO_JS));
