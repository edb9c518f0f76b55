"""A device that speaks only the seed platform's MQTT device protocol, on Eclipse Paho's Python client.

It does what the platform's official Python device SDK (huaweicloud-iot-device-sdk-python, read from
its public source: transport/mqtt/mqtt_connection.py, utils/iot_util.py, ota/) does, with no code of
otaflow's: client ID {device_id}_0_{sign type}_{YYYYMMDDHH}, password HMAC-SHA256(key = the hour,
message = the secret), a clean session, and no SUBSCRIBE (the platform subscribes it implicitly). On
version_query it reports its version; on firmware_upgrade / software_upgrade it downloads the URL with
"Authorization: Bearer <access_token>", checks the SHA-256 against `sign`, and reports the result.

Usage: python seed_sdk_device.py HOST PORT DEVICE_ID SECRET VERSION RUN_SECONDS [YYYYMMDDHH]
Signs with the current hour and sign type 1 (the SDK's default: the platform checks the hour), or
with the hour given and sign type 0 (not checked), for a broker with static password files.
Prints one line per thing a test checks: CONNECTED, VERSION_QUERY, DOWNLOADED <bytes> <sha256>,
UPGRADED <version>, INTEGRITY_FAILED.
"""
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.request

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

host, port, device_id, secret, version, run_seconds = sys.argv[1:7]
fixed_hour = sys.argv[7] if len(sys.argv) > 7 else None
hour = fixed_hour or time.strftime("%Y%m%d%H", time.gmtime())
sign_type = "0" if fixed_hour else "1"
state = {"fw_version": version, "sw_version": version}
up_topic = f"$oc/devices/{device_id}/sys/events/up"


def say(line):
    print(line, flush=True)


def report(client, event_type, paras):
    envelope = {
        "object_device_id": device_id,
        "services": [
            {
                "service_id": "$ota",
                "event_type": event_type,
                "event_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "paras": paras,
            }
        ],
    }
    client.publish(up_topic, json.dumps(envelope), qos=1)


def upgrade(client, kind, paras):
    request = urllib.request.Request(paras["url"], headers={"Authorization": "Bearer " + paras["access_token"]})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    digest = hashlib.sha256(body).hexdigest()
    say(f"DOWNLOADED {len(body)} {digest}")
    key = "fw_version" if kind == "firmware_upgrade" else "sw_version"
    report(client, "upgrade_progress_report", {"result_code": 0, "progress": 50, "version": state[key]})
    if digest != paras["sign"]:
        say("INTEGRITY_FAILED")
        report(client, "upgrade_progress_report", {"result_code": 7, "version": state[key]})
        return
    state[key] = paras["version"]
    report(client, "upgrade_progress_report", {"result_code": 0, "progress": 100, "version": paras["version"]})
    say(f"UPGRADED {paras['version']}")


def on_connect(client, userdata, flags, reason_code, properties):
    if reason_code.is_failure:
        say(f"REFUSED {reason_code}")
        return
    say("CONNECTED")


def on_message(client, userdata, message):
    envelope = json.loads(message.payload)
    for service in envelope.get("services", []):
        if service.get("service_id") != "$ota":
            continue
        event_type = service.get("event_type")
        if event_type == "version_query":
            say("VERSION_QUERY")
            report(client, "version_report", dict(state))
        elif event_type in ("firmware_upgrade", "software_upgrade"):
            # Off the network thread, as the SDK does: a download must not stall the MQTT loop.
            threading.Thread(target=upgrade, args=(client, event_type, service["paras"]), daemon=True).start()


client = mqtt.Client(
    callback_api_version=CallbackAPIVersion.VERSION2,
    client_id=f"{device_id}_0_{sign_type}_{hour}",
    clean_session=True,
)
client.username_pw_set(device_id, hmac.new(hour.encode(), secret.encode(), hashlib.sha256).hexdigest())
client.on_connect = on_connect
client.on_message = on_message
client.connect(host, int(port), keepalive=60)
client.loop_start()
time.sleep(float(run_seconds))
client.disconnect()
client.loop_stop()
