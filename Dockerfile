# otaflow: REST API, Temporal workers and device gateways in one process (see docker-compose.yml).

# The DTLS terminator for LwM2M over DTLS (components/dtls-terminator/), with the Go release the
# pinned modules are built with (scripts/provision.sh, GO_TOOLCHAIN).
FROM golang:1.26.8-bookworm AS dtls-terminator
WORKDIR /src
COPY components/dtls-terminator/ ./
RUN CGO_ENABLED=0 go build -trimpath -o /out/dtls-terminator .

FROM node:20.19-bookworm-slim

WORKDIR /app
COPY package.json package-lock.json ./
# tsx (a dev dependency) runs the TypeScript sources directly, so install everything, exactly as locked.
RUN npm ci --no-audit --no-fund
COPY . .
COPY --from=dtls-terminator /out/dtls-terminator /usr/local/bin/dtls-terminator

ENV NODE_ENV=production \
    OTAFLOW_DATA_DIR=/var/lib/otaflow \
    OTAFLOW_API_HOST=0.0.0.0 \
    OTAFLOW_DTLS_TERMINATOR_BIN=/usr/local/bin/dtls-terminator
RUN mkdir -p /var/lib/otaflow && chown node:node /var/lib/otaflow
USER node
EXPOSE 8080 8443 5683/udp 5684/udp
CMD ["node_modules/.bin/tsx", "src/cli/start.ts"]
