#!/bin/sh
# Writes the gateway's account and the topic ACL, then runs Mosquitto with deploy/mosquitto/mosquitto.conf.
# The gateway may use every device's topics; a device (username = device ID) only its own.
set -eu
mkdir -p /mosquitto/run
umask 077
printf '%s:%s\n' "$MQTT_SERVICE_USERNAME" "$MQTT_SERVICE_PASSWORD" >/mosquitto/run/passwd
mosquitto_passwd -U /mosquitto/run/passwd
cat >/mosquitto/run/acl <<ACL
user $MQTT_SERVICE_USERNAME
topic readwrite \$oc/devices/+/sys/#
topic read \$SYS/broker/log/N

pattern readwrite \$oc/devices/%u/sys/#
ACL
# Owned by root (Mosquitto warns otherwise), readable by the account it switches to.
chown root:mosquitto /mosquitto/run/passwd /mosquitto/run/acl
chmod 0640 /mosquitto/run/passwd /mosquitto/run/acl
chown -R mosquitto:mosquitto /mosquitto/data
exec mosquitto -c /otaflow/mosquitto.conf
