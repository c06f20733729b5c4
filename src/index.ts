import { createApp } from "./app";
import type { Env } from "./env";

export { GatewayObject } from "./gateway/gateway-object";
export { RoomObject } from "./room/room-object";
export { DirectoryObject } from "./storage/directory-object";
export { WebhookDispatcher } from "./webhooks/dispatcher";

const app = createApp();

export default {
	fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
