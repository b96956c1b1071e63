# Lintel hub image. Node 20 on Debian 12 (bookworm), the runtime CI tests, until the uWS build
# moves to a newer Node (see hub/uws.ts). Not built on the development machines (no Docker
# engine there): see README, "Limits".

# --- build: install everything, compile TypeScript to dist/ ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY protocol protocol
COPY workers workers
COPY hub hub
COPY bench bench
RUN npx tsc -p tsconfig.build.json
COPY migrations dist/migrations
RUN npm prune --omit=dev

# --- runtime: compiled JS, production dependencies, non-root ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    LINTEL_PORT=8080 \
    LINTEL_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist ./
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# Liveness only: /readyz answers 503 while PostgreSQL is unreachable, which is not a reason to
# restart the hub (it keeps deciding doors from memory).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.LINTEL_PORT || 8080) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "hub/main.js"]
