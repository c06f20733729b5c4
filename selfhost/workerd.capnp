# Self-hosted Roomkit chat on bare workerd: no Cloudflare account, no D1, no wrangler.
#
# Runs the bundle from `npm run build` (dist/). The directory (clients, users, rooms,
# memberships) lives in the DIRECTORY Durable Object and each room in a ROOMS object,
# all SQLite on local disk. Started by `npm run selfhost` and by the production image with
# the arguments in selfhost/command.mjs, which point the "http" socket at PORT and the
# "data" directory at DATA_DIR.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "roomkit", worker = .roomkit),
    # One SQLite file per object under <DATA_DIR>/<uniqueKey>/. Overridden by
    # `--directory-path data=$DATA_DIR`.
    (name = "data", disk = (path = "data", writable = true)),
    # Webhook requests with WEBHOOK_ALLOW_INSECURE=1 (local development, tests) go through this
    # service, which may reach private and loopback addresses; otherwise they use the default
    # "internet" service, which reaches public addresses only.
    (name = "webhook-private-network", network = (allow = ["public", "private"], tlsOptions = (trustBrowserCas = true))),
  ],
  # Overridden by `--socket-addr http=<host>:$PORT`.
  sockets = [(name = "http", address = "*:8787", http = (), service = "roomkit")],
);

const roomkit :Workerd.Worker = (
  # Keep in step with compatibility_date in wrangler.toml: both runtimes run the same bundle.
  compatibilityDate = "2026-10-01",
  modules = [
    (name = "index.js", esModule = embed "../dist/index.js"),
    # Migrations imported as text (scripts/build.mjs gives them stable names). List each
    # new file from migrations/ here; `npm run build` fails until it is listed.
    (name = "0000_init.sql", text = embed "../dist/0000_init.sql"),
    (name = "0001_webhooks.sql", text = embed "../dist/0001_webhooks.sql"),
    (name = "0002_message_flags.sql", text = embed "../dist/0002_message_flags.sql"),
    (name = "0003_moderation.sql", text = embed "../dist/0003_moderation.sql"),
  ],
  durableObjectNamespaces = [
    # The unique keys name the objects' storage directories and derive their ids.
    # NEVER change them: under a new key the service starts empty and the old data is orphaned.
    (className = "RoomObject", uniqueKey = "roomkit-rooms-1a1a9a63972af33c5e44a47ea105d0d7", enableSql = true),
    (className = "DirectoryObject", uniqueKey = "roomkit-directory-09c8aeed5fc3c75ae13d1be26499c9a4", enableSql = true),
    (className = "GatewayObject", uniqueKey = "roomkit-gateways-5b0e7c1d9a3f4e2b8c6d0a1f2e3b4c5d", enableSql = true),
    (className = "WebhookDispatcher", uniqueKey = "roomkit-webhooks-5b0c2f1e8d7a4c3b9e6f1a2d3c4b5a69", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "data"),
  bindings = [
    (name = "ROOMS", durableObjectNamespace = "RoomObject"),
    (name = "GATEWAYS", durableObjectNamespace = "GatewayObject"),
    # No DB binding: src/storage picks the directory object when D1 is absent.
    (name = "DIRECTORY", durableObjectNamespace = "DirectoryObject"),
    (name = "WEBHOOKS", durableObjectNamespace = "WebhookDispatcher"),
    (name = "WEBHOOK_PRIVATE_NETWORK", service = "webhook-private-network"),
    # Secrets and settings, read from the environment at startup (unset = null = the default
    # from src/config.ts). See .env.example / the README for each one.
    (name = "ADMIN_TOKEN", fromEnvironment = "ADMIN_TOKEN"),
    (name = "JWT_SECRET", fromEnvironment = "JWT_SECRET"),
    (name = "JWT_SECRET_PREVIOUS", fromEnvironment = "JWT_SECRET_PREVIOUS"),
    (name = "JWT_TTL_SECONDS", fromEnvironment = "JWT_TTL_SECONDS"),
    (name = "MAX_MESSAGE_LENGTH", fromEnvironment = "MAX_MESSAGE_LENGTH"),
    (name = "CORS_ORIGINS", fromEnvironment = "CORS_ORIGINS"),
    (name = "WS_ALLOWED_ORIGINS", fromEnvironment = "WS_ALLOWED_ORIGINS"),
    (name = "WS_RATE_PER_SECOND", fromEnvironment = "WS_RATE_PER_SECOND"),
    (name = "WS_RATE_BURST", fromEnvironment = "WS_RATE_BURST"),
    (name = "REST_SEND_RATE_PER_SECOND", fromEnvironment = "REST_SEND_RATE_PER_SECOND"),
    (name = "REST_SEND_RATE_BURST", fromEnvironment = "REST_SEND_RATE_BURST"),
    (name = "MAX_SOCKETS_PER_ROOM", fromEnvironment = "MAX_SOCKETS_PER_ROOM"),
    (name = "MAX_SOCKETS_PER_USER", fromEnvironment = "MAX_SOCKETS_PER_USER"),
    (name = "MAX_UNREAD_BYTES", fromEnvironment = "MAX_UNREAD_BYTES"),
    (name = "GATEWAY_SHARDS", fromEnvironment = "GATEWAY_SHARDS"),
    (name = "MAX_ROOMS_PER_SOCKET", fromEnvironment = "MAX_ROOMS_PER_SOCKET"),
    (name = "READY_MAX_ROOMS", fromEnvironment = "READY_MAX_ROOMS"),
    (name = "TYPING_TTL_MS", fromEnvironment = "TYPING_TTL_MS"),
    (name = "PRESENCE_GRACE_MS", fromEnvironment = "PRESENCE_GRACE_MS"),
    (name = "PRESENCE_MAX_MEMBERS", fromEnvironment = "PRESENCE_MAX_MEMBERS"),
    (name = "RECEIPT_MAX_MEMBERS", fromEnvironment = "RECEIPT_MAX_MEMBERS"),
    (name = "INBOX_DEBOUNCE_MS", fromEnvironment = "INBOX_DEBOUNCE_MS"),
    (name = "WS_COMPRESSION", fromEnvironment = "WS_COMPRESSION"),
    (name = "LOG_LEVEL", fromEnvironment = "LOG_LEVEL"),
    (name = "EXPOSE_INSTANCE", fromEnvironment = "EXPOSE_INSTANCE"),
    (name = "DEMO_DEV_MODE", fromEnvironment = "DEMO_DEV_MODE"),
    (name = "WEBHOOK_ALLOW_INSECURE", fromEnvironment = "WEBHOOK_ALLOW_INSECURE"),
    (name = "WEBHOOK_RETRY_SCHEDULE", fromEnvironment = "WEBHOOK_RETRY_SCHEDULE"),
    (name = "WEBHOOK_TIMEOUT_MS", fromEnvironment = "WEBHOOK_TIMEOUT_MS"),
    (name = "WEBHOOK_SWEEP_SECONDS", fromEnvironment = "WEBHOOK_SWEEP_SECONDS"),
    (name = "WEBHOOK_ENCRYPTION_KEY", fromEnvironment = "WEBHOOK_ENCRYPTION_KEY"),
    (name = "WEBHOOK_SECRET_OVERLAP_SECONDS", fromEnvironment = "WEBHOOK_SECRET_OVERLAP_SECONDS"),
  ],
);
