# syntax=docker/dockerfile:1
# Production image: the same bundle as the Elastic Beanstalk zip (release/bundle,
# built by `npm run package:eb`), with production dependencies only, run as the
# unprivileged `node` user. See DEPLOYMENT.md.

# Matches "engines" in package.json; tools/eb/eb-smoke-test.ts checks that it does.
ARG NODE_VERSION=24.22.3

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run package:eb

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0
WORKDIR /app
# Dependencies first: this layer survives code-only changes.
COPY --from=build /src/release/bundle/package.json /src/release/bundle/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force
COPY --from=build /src/release/bundle/dist ./dist
# The image's unprivileged `node` user, numerically so that orchestrators can
# verify it is not root. Files stay root-owned: the process can read its code
# but not change it.
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node as PID 1 is fine: main.ts handles SIGTERM/SIGINT itself and reaps its workers.
CMD ["node", "dist/main.js"]
