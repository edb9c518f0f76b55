#!/bin/sh
# Prints the secrets docker-compose.yml needs, each 256 random bits as hex (safe inside a URL), for a
# .env file next to it: `sh deploy/generate-env.sh > .env`. Run it once: PostgreSQL and MinIO keep the
# passwords of their first start in their volumes.
set -eu
secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
for name in POSTGRES_PASSWORD OTAFLOW_DB_PASSWORD MINIO_SECRET_KEY MQTT_AUTH_HTTP_TOKEN \
  OTAFLOW_SECRET_KEY OTAFLOW_API_KEY MQTT_SERVICE_PASSWORD; do
  echo "$name=$(secret)"
done
