#!/bin/sh
# Points the auth plugin at otaflow's /internal/mqtt-auth/{token}/ endpoints, then runs Mosquitto with
# deploy/mosquitto/mosquitto.conf. mosquitto-go-auth's HTTP backend cannot send extra headers, so
# the shared secret (MQTT_AUTH_HTTP_TOKEN) is part of the URIs; the file holding them is root's only.
set -eu
case "${MQTT_AUTH_HTTP_TOKEN:-}" in
  '' | *[!A-Za-z0-9._~-]*)
    echo 'MQTT_AUTH_HTTP_TOKEN must be set, letters, digits and . _ ~ - only' >&2
    exit 1
    ;;
esac
mkdir -p /mosquitto/run/auth
umask 077
base="/internal/mqtt-auth/$MQTT_AUTH_HTTP_TOKEN"
cat >/mosquitto/run/auth/otaflow.conf <<CONF
auth_opt_http_getuser_uri $base/user
auth_opt_http_superuser_uri $base/superuser
auth_opt_http_aclcheck_uri $base/acl
CONF
# The TLS listener's certificate and key, readable by the broker's user only.
mkdir -p /mosquitto/run/tls
cp /otaflow-tls/server.pem /otaflow-tls/server-key.pem /mosquitto/run/tls/
chown -R mosquitto:mosquitto /mosquitto/run/tls
chown -R mosquitto:mosquitto /mosquitto/data
exec /usr/sbin/mosquitto -c /otaflow/mosquitto.conf
