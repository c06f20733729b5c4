import { createApp } from "../../app";
import type { Env } from "../../env";

export { DirectoryObject } from "./directory-object";
export { GatewayObject } from "./gateway-object";
export { RoomObject } from "./room-object";
export { WebhookDispatcher } from "./webhook-dispatcher";

const app = createApp();

export default {
	fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
