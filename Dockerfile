# The local LWMQN stack's server process (bridge + management API + reaper), as started by
# local/docker-compose.yml next to Mosquitto and DynamoDB Local. TypeScript runs through tsx:
# no build step, the same sources as `npm start`.
FROM node:20-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so a source change does not reinstall them. Dev dependencies (CDK, jest,
# the test tools) are not needed to run; install scripts are not needed either. esbuild is a
# runtime dependency: it bundles the web console (console/) when the server starts.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

COPY tsconfig.json ./
COPY bin ./bin
COPY shared ./shared
COPY functions ./functions
COPY local ./local
COPY console ./console

# Without DYNAMODB_ENDPOINT the process keeps an embedded store here; make it writable.
RUN mkdir -p /app/.lwmqn && chown node:node /app/.lwmqn
USER node

ENV HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    LWMQN_DATA_DIR=/app/.lwmqn
EXPOSE 8080

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node itself as PID 1 (not npx): SIGTERM reaches the server, which finishes in-flight messages.
CMD ["node", "--max-semi-space-size=4", "local/launch.cjs"]
