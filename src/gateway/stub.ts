import type { Env } from "../env";
import { GatewaySocketState } from "./gateway-core";

/** The gateway object holding a shard of a client's user sockets (name from src/gateway/shard.ts). */
export const gatewayStub = (env: Env, name: string) => env.GATEWAYS.get(env.GATEWAYS.idFromName(name));

/** Header carrying the identity the Worker verified to the gateway object (never taken from a client). */
export const GATEWAY_IDENTITY_HEADER = "X-Roomkit-User";
/** What the Worker verified; the gateway adds the socket's id when it accepts it. */
export const GatewayIdentity = GatewaySocketState.omit({ socketId: true });
export type GatewayIdentity = typeof GatewayIdentity._zod.output;
