# otaflow: REST API, Temporal workers and device gateways in one process (see docker-compose.yml).
FROM node:20.19-bookworm-slim

WORKDIR /app
COPY package.json package-lock.json ./
# tsx (a dev dependency) runs the TypeScript sources directly, so install everything, exactly as locked.
RUN npm ci --no-audit --no-fund
COPY . .

ENV NODE_ENV=production \
    OTAFLOW_DATA_DIR=/var/lib/otaflow \
    OTAFLOW_API_HOST=0.0.0.0
RUN mkdir -p /var/lib/otaflow && chown node:node /var/lib/otaflow
USER node
EXPOSE 8080
CMD ["node_modules/.bin/tsx", "src/cli/start.ts"]
