"""A device that speaks only the seed platform's MQTT device protocol, on Eclipse Paho's Python client.

It does what the platform's official Python device SDK (huaweicloud-iot-device-sdk-python, read from
its public source: transport/mqtt/mqtt_connection.py, utils/iot_util.py, ota/) does, with no code of
otaflow's: client ID {device_id}_0_{sign type}_{YYYYMMDDHH}, password HMAC-SHA256(key = the hour,
message = the secret), a clean session, and no SUBSCRIBE (the platform subscribes it implicitly). On
version_query it reports its version; on firmware_upgrade / software_upgrade it downloads the URL with
"Authorization: Bearer <access_token>", checks the SHA-256 against `sign`, and reports the result.

Usage: python seed_sdk_device.py [--ca CA_FILE] [--resume] HOST PORT DEVICE_ID SECRET VERSION RUN_SECONDS [YYYYMMDDHH]
Signs with the current hour and sign type 1 (the SDK's default: the platform checks the hour), or
with the hour given and sign type 0 (not checked), for a broker with static password files.
--ca: connects over TLS and downloads over HTTPS, verifying the server (name and chain) against the
CA file, as the SDK does with the platform's CA. --resume: downloads the first half, then resumes
from there with a Range request, as a device whose transfer broke does.
Prints one line per thing a test checks: CONNECTED, VERSION_QUERY, FETCH <URL scheme>, RESUMED <offset>,
DOWNLOADED <bytes> <sha256>, UPGRADED <version>, INTEGRITY_FAILED.
"""
import hashlib
import hmac
import json
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

args = sys.argv[1:]
ca_file = None
resume = False
while args and args[0].startswith("--"):
    flag = args.pop(0)
    if flag == "--ca":
        ca_file = args.pop(0)
    elif flag == "--resume":
        resume = True
    else:
        sys.exit(f"unknown flag {flag}")
host, port, device_id, secret, version, run_seconds = args[0:6]
fixed_hour = args[6] if len(args) > 6 else None
tls_context = ssl.create_default_context(cafile=ca_file) if ca_file else None
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


def fetch(url, access_token, first_byte=None, last_byte=None):
    headers = {"Authorization": "Bearer " + access_token}
    if first_byte is not None:
        headers["Range"] = f"bytes={first_byte}-{'' if last_byte is None else last_byte}"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30, context=tls_context) as response:
        if first_byte is not None and response.status != 206:
            raise RuntimeError(f"asked for a range, got HTTP {response.status}")
        return response.read()


def upgrade(client, kind, paras):
    say("FETCH " + urllib.parse.urlsplit(paras["url"]).scheme)
    if resume:
        half = int(paras["file_size"]) // 2
        body = fetch(paras["url"], paras["access_token"], 0, half - 1)
        say(f"RESUMED {len(body)}")
        body += fetch(paras["url"], paras["access_token"], len(body))
    else:
        body = fetch(paras["url"], paras["access_token"])
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
if tls_context:
    client.tls_set_context(tls_context)
client.on_connect = on_connect
client.on_message = on_message
client.connect(host, int(port), keepalive=60)
client.loop_start()
time.sleep(float(run_seconds))
client.disconnect()
client.loop_stop()
