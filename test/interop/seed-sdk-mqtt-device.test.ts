/**
 * Stands for a device built on the seed platform's official device SDK: Eclipse Paho's Python client
 * (PyPI), driven by test/interop/seed-sdk-device/seed_sdk_device.py, which does what the SDK does
 * (exact client ID and HMAC password, clean session, no SUBSCRIBE, Bearer download, `sign` check) and
 * shares no code with otaflow. It upgrades through otaflow's embedded broker, plain and over TLS
 * (verifying the server against the CA `npm start` creates, downloading over HTTPS in two Range
 * requests), and through Mosquitto with otaflow's implicit-subscription plugin, plain and over TLS,
 * on the real stack.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client';
import { devicePassword, hourTimestamp } from '../../src/mqtt/device-auth';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { type SeedSdkDevice, startSeedSdkDevice } from '../support/seed-sdk-device';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

const PRODUCT = { product: 'water-meter', model: 'WM-PY' };
const SOURCE = '1.0.0';
const TARGET = '2.0.0';
const TASK_DEADLINE_MS = 120_000;
const DEVICE_RUN_SECONDS = 150;

interface TaskDeviceRow {
  deviceId: string;
  outcome: string | null;
  failureCause: string | null;
  fromVersion: string | null;
}

async function upgrade(
  api: ApiClient,
  deviceId: string,
  firmware: Buffer,
): Promise<TaskDeviceRow | undefined> {
  const form = new FormData();
  form.set('name', 'meter firmware');
  form.set('version', TARGET);
  form.set('kind', 'firmware');
  form.set('product', PRODUCT.product);
  form.set('model', `${PRODUCT.model}-${deviceId}`);
  form.set('supportedSourceVersions', SOURCE);
  form.set('file', new Blob([firmware]), 'wm-2.0.0.bin');
  const pkg = await api.postForm<{ id: string }>('/v1/packages', form);
  const task = await api.post<{ id: string }>('/v1/tasks', {
    packageId: pkg.id,
    target: { deviceIds: [deviceId] },
  });
  await expect
    .poll(async () => (await api.get<{ state: string }>(`/v1/tasks/${task.id}`)).state, {
      timeout: TASK_DEADLINE_MS,
      interval: 500,
    })
    .toBe('completed');
  const rows = await api.get<{ items: TaskDeviceRow[] }>(`/v1/tasks/${task.id}/devices`);
  return rows.items[0];
}

const transports = [
  { broker: 'embedded', tls: false },
  { broker: 'embedded', tls: true },
  { broker: 'mosquitto', tls: false },
  { broker: 'mosquitto', tls: true },
] as const;

for (const { broker, tls } of transports) {
  describe(`a seed-SDK device on Paho (Python) through the ${broker} broker${tls ? ' over TLS' : ''}`, () => {
    const deviceId = `py-meter-${broker}${tls ? '-tls' : ''}`;
    const secret = `secret-of-${deviceId}`;
    // Mosquitto checks static password files: the device signs with a fixed hour (sign type 0).
    const hour = broker === 'mosquitto' ? hourTimestamp(new Date()) : undefined;
    let stack: RealStack;
    let platform: TestPlatform;
    let device: SeedSdkDevice | undefined;

    beforeAll(async () => {
      stack = await startRealStack(
        broker === 'mosquitto'
          ? { deviceAccounts: [{ username: deviceId, password: devicePassword(secret, hour as string) }] }
          : {},
      );
      // Over TLS, the embedded broker offers devices nothing else (MQTT_PLAIN=off).
      platform = await startTestPlatform(stack, {
        embeddedBroker: broker === 'embedded',
        tls,
        plainMqtt: !(tls && broker === 'embedded'),
      });
      await platform.api.post('/v1/devices', {
        id: deviceId,
        protocol: 'mqtt',
        ...PRODUCT,
        model: `${PRODUCT.model}-${deviceId}`,
        secret,
      });
    });

    /** The CAs the device trusts: otaflow's for the download, and Mosquitto's (a CA of its own here). */
    function trustedCaFile(): string {
      const otaflowCa = platform.addresses.tlsCaFile as string;
      if (broker !== 'mosquitto') return otaflowCa;
      const bundle = path.join(path.dirname(otaflowCa), 'device-trust-bundle.pem');
      writeFileSync(bundle, readFileSync(otaflowCa, 'utf8') + readFileSync(stack.mqtt.caFile, 'utf8'));
      return bundle;
    }

    afterEach(() => {
      device?.process.kill();
    });

    afterAll(async () => {
      await platform?.stop();
      await stack?.stop();
    });

    it('connects, answers version_query without subscribing, downloads with its Bearer token and upgrades', async () => {
      const listeners = {
        mosquitto: tls ? stack.mqtt.tlsUrl : stack.mqtt.url,
        embedded: tls ? platform.addresses.mqttTls : platform.addresses.mqtt,
      };
      const brokerUrl = listeners[broker];
      const running = startSeedSdkDevice({
        brokerUrl: brokerUrl as string,
        caFile: tls ? trustedCaFile() : undefined,
        resume: tls,
        deviceId,
        secret,
        version: SOURCE,
        runSeconds: DEVICE_RUN_SECONDS,
        hour,
      });
      device = running;
      await expect.poll(() => running.lines, { timeout: 20_000 }).toContain('CONNECTED');
      await expect
        .poll(async () => (await platform.api.get<{ online: boolean }>(`/v1/devices/${deviceId}`)).online)
        .toBe(true);

      const firmware = randomBytes(48_000);
      const row = await upgrade(platform.api, deviceId, firmware);

      expect(row).toMatchObject({ deviceId, outcome: 'succeeded', failureCause: null, fromVersion: SOURCE });
      const sha256 = createHash('sha256').update(firmware).digest('hex');
      expect(running.lines).toEqual([
        'CONNECTED',
        'VERSION_QUERY',
        `FETCH ${tls ? 'https' : 'http'}`,
        ...(tls ? [`RESUMED ${firmware.length / 2}`] : []),
        `DOWNLOADED ${firmware.length} ${sha256}`,
        `UPGRADED ${TARGET}`,
      ]);
      const registered = await platform.api.get<{ firmwareVersion: string | null }>(
        `/v1/devices/${deviceId}`,
      );
      expect(registered.firmwareVersion).toBe(TARGET);
    });

    if (tls && broker === 'embedded') {
      it('offers no plain MQTT on the configured port when MQTT_PLAIN is off', async () => {
        const outcome = await new Promise<string>((resolve) => {
          const socket = net.connect(platform.config.MQTT_PORT, '127.0.0.1', () => {
            socket.destroy();
            resolve('connected');
          });
          socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        });
        expect(outcome).toBe('ECONNREFUSED');
        expect(platform.addresses.mqtt).not.toContain(`:${platform.config.MQTT_PORT}`);
      });
    }
  });
}
