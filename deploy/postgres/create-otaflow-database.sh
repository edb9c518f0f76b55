#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised: otaflow's own database and role,
# separate from Temporal's.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --set password="$OTAFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE otaflow LOGIN PASSWORD :'password';
CREATE DATABASE otaflow OWNER otaflow;
SQL
