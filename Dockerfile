# egauge-bridge: a small, non-root image. Build: docker build -t egauge-bridge .
# Stage 1 compiles the TypeScript; stage 2 keeps only dist/ and the production dependencies.
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24.21.0-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The push checkpoints live here; mount a volume so they survive the container.
RUN mkdir -p /var/lib/egauge-bridge /etc/egauge-bridge && chown node:node /var/lib/egauge-bridge
USER node
EXPOSE 9430
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9430/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["serve"]
