# otaflow's image: the compiled build (`npm run build`) on Node with production dependencies only,
# run by `node` as a non-root user. One image for every role (OTAFLOW_ROLES, docs/deployment.md).

# The DTLS terminator for LwM2M over DTLS (components/dtls-terminator/), with the Go release the
# pinned modules are built with (scripts/provision.sh, GO_TOOLCHAIN).
FROM golang:1.26.8-bookworm AS dtls-terminator
WORKDIR /src
COPY components/dtls-terminator/ ./
RUN CGO_ENABLED=0 go build -trimpath -o /out/dtls-terminator .

# JavaScript, the workflow bundles and the console, made once here so that no start of the image makes them.
FROM node:20.19-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
COPY workflows/ workflows/
COPY activities/ activities/
COPY console/ console/
RUN npm run build

FROM node:20.19-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/ dist/
COPY --from=dtls-terminator /out/dtls-terminator /usr/local/bin/dtls-terminator

ENV OTAFLOW_DATA_DIR=/var/lib/otaflow \
    OTAFLOW_API_HOST=0.0.0.0 \
    OTAFLOW_DTLS_TERMINATOR_BIN=/usr/local/bin/dtls-terminator
RUN mkdir -p /var/lib/otaflow && chown node:node /var/lib/otaflow
USER node
EXPOSE 8080 8443 5683/udp 5684/udp
CMD ["node", "dist/src/cli/start.js"]
