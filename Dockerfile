# The production image: bare workerd running the bundle from `npm run build`, with the
# directory and the rooms as SQLite files under /data. No Node.js and no wrangler at runtime.
# Used by docker-compose-production.yml; see the README for the settings.

# Build: install exactly the locked dependencies (workerd included), bundle the Worker.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
	&& cp "$(node -p 'require("workerd").default')" /app/workerd

# Run: workerd, the bundle and its config, as an unprivileged user.
FROM debian:bookworm-slim
# curl for the healthcheck; ca-certificates for any outbound HTTPS.
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates curl \
	&& rm -rf /var/lib/apt/lists/* \
	&& useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin roomkit \
	&& mkdir -p /data \
	&& chown roomkit:roomkit /data
WORKDIR /app
COPY --from=build /app/workerd /usr/local/bin/workerd
COPY --from=build /app/dist ./dist
COPY --from=build /app/selfhost/workerd.capnp ./selfhost/workerd.capnp
USER roomkit
VOLUME /data
EXPOSE 8787
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["curl", "-fsS", "http://127.0.0.1:8787/health"]
# Exactly selfhost/command.mjs's workerdArgs(IMAGE), as `npm run selfhost` and the tests run it
# (checked by test/e2e/compose.test.ts).
ENTRYPOINT ["workerd"]
CMD ["serve", "selfhost/workerd.capnp", "--experimental", "--socket-addr", "http=*:8787", "--directory-path", "data=/data"]
