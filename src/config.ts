import type { Env } from "./env";

/** Settings resolved from the environment, with the defaults the README documents. */
export interface Config {
	jwtTtlSeconds: number;
	maxMessageLength: number;
	maxFrameBytes: number;
	corsOrigins: "*" | string[];
	wsAllowedOrigins: string[];
	wsRatePerSecond: number;
	wsRateBurst: number;
	restSendRatePerSecond: number;
	restSendRateBurst: number;
	maxSocketsPerRoom: number;
	maxSocketsPerUser: number;
	maxUnreadBytes: number;
	defaultPageSize: number;
	maxPageSize: number;
	gatewayShards: number;
	maxRoomsPerSocket: number;
	readyMaxRooms: number;
	typingTtlMs: number;
	presenceGraceMs: number;
	presenceMaxMembers: number;
	receiptMaxMembers: number;
	inboxDebounceMs: number;
	/** One structured line per request (`LOG_LEVEL=info`, the default); unhandled errors are always logged. */
	logRequests: boolean;
	/** Whether sockets may negotiate permessage-deflate (`WS_COMPRESSION=on`); off by default. */
	wsCompression: boolean;
}

const LOG_LEVELS = ["info", "error"] as const;

// Bare workerd's `fromEnvironment` bindings are null, not undefined, when the variable is unset.
const positiveInt = (raw: string | null | undefined, fallback: number, name: string): number => {
	if (raw == null || raw.trim() === "") return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value <= 0) {
		throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
	}
	return value;
};

const logLevel = (raw: string | null | undefined): (typeof LOG_LEVELS)[number] => {
	if (raw == null || raw.trim() === "") return "info";
	const level = LOG_LEVELS.find((l) => l === raw.trim().toLowerCase());
	if (!level) throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(raw)}`);
	return level;
};

const onOff = (raw: string | null | undefined, fallback: boolean, name: string): boolean => {
	if (raw == null || raw.trim() === "") return fallback;
	const value = raw.trim().toLowerCase();
	if (value === "on") return true;
	if (value === "off") return false;
	throw new Error(`${name} must be "on" or "off", got ${JSON.stringify(raw)}`);
};

const list = (raw: string | undefined): string[] =>
	(raw ?? "")
		.split(",")
		.map((s) => s.trim())
		.filter(Boolean);

const cache = new WeakMap<object, Config>();

export function loadConfig(env: Env): Config {
	const hit = cache.get(env);
	if (hit) return hit;
	const cors = list(env.CORS_ORIGINS ?? "*");
	const config: Config = {
		jwtTtlSeconds: positiveInt(env.JWT_TTL_SECONDS, 3600, "JWT_TTL_SECONDS"),
		maxMessageLength: positiveInt(env.MAX_MESSAGE_LENGTH, 4000, "MAX_MESSAGE_LENGTH"),
		maxFrameBytes: 64 * 1024,
		corsOrigins: cors.includes("*") || cors.length === 0 ? "*" : cors,
		wsAllowedOrigins: list(env.WS_ALLOWED_ORIGINS),
		wsRatePerSecond: positiveInt(env.WS_RATE_PER_SECOND, 20, "WS_RATE_PER_SECOND"),
		wsRateBurst: positiveInt(env.WS_RATE_BURST, 40, "WS_RATE_BURST"),
		restSendRatePerSecond: positiveInt(env.REST_SEND_RATE_PER_SECOND, 20, "REST_SEND_RATE_PER_SECOND"),
		restSendRateBurst: positiveInt(env.REST_SEND_RATE_BURST, 40, "REST_SEND_RATE_BURST"),
		maxSocketsPerRoom: positiveInt(env.MAX_SOCKETS_PER_ROOM, 10_000, "MAX_SOCKETS_PER_ROOM"),
		maxSocketsPerUser: positiveInt(env.MAX_SOCKETS_PER_USER, 20, "MAX_SOCKETS_PER_USER"),
		maxUnreadBytes: positiveInt(env.MAX_UNREAD_BYTES, 16 * 1024 * 1024, "MAX_UNREAD_BYTES"),
		gatewayShards: positiveInt(env.GATEWAY_SHARDS, 16, "GATEWAY_SHARDS"),
		maxRoomsPerSocket: positiveInt(env.MAX_ROOMS_PER_SOCKET, 500, "MAX_ROOMS_PER_SOCKET"),
		readyMaxRooms: positiveInt(env.READY_MAX_ROOMS, 200, "READY_MAX_ROOMS"),
		typingTtlMs: positiveInt(env.TYPING_TTL_MS, 6000, "TYPING_TTL_MS"),
		presenceGraceMs: positiveInt(env.PRESENCE_GRACE_MS, 5000, "PRESENCE_GRACE_MS"),
		presenceMaxMembers: positiveInt(env.PRESENCE_MAX_MEMBERS, 100, "PRESENCE_MAX_MEMBERS"),
		receiptMaxMembers: positiveInt(env.RECEIPT_MAX_MEMBERS, 100, "RECEIPT_MAX_MEMBERS"),
		inboxDebounceMs: positiveInt(env.INBOX_DEBOUNCE_MS, 1000, "INBOX_DEBOUNCE_MS"),
		defaultPageSize: 50,
		maxPageSize: 200,
		logRequests: logLevel(env.LOG_LEVEL) === "info",
		wsCompression: onOff(env.WS_COMPRESSION, false, "WS_COMPRESSION"),
	};
	cache.set(env, config);
	return config;
}
