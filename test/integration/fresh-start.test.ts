import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { logger } from '../../src/logger';
import { type Platform, startPlatform } from '../../src/platform';
import { freePort } from '../../src/stack/free-port';

/**
 * `npm start` on a machine that never ran otaflow: every embedded component, nothing configured. No
 * credential it starts with may be one a reader of this repository (or of any copy of it) knows.
 */

const generatedSecrets = ['api-key', 'secret.key', 'mqtt-service-password', 'minio-secret-key'];

let dataDir: string;
let platform: Platform;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-fresh-start-'));
  const config = loadConfig({
    OTAFLOW_DATA_DIR: dataDir,
    OTAFLOW_API_PORT: String(await freePort()),
    OTAFLOW_API_TLS_PORT: String(await freePort()),
    MQTT_TLS_PORT: String(await freePort()),
    TEMPORAL_DEV_SERVER_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    MINIO_PORT: String(await freePort()),
    MINIO_CONSOLE_PORT: String(await freePort()),
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(await freePort()),
    LWM2M_HOST: '127.0.0.1',
    LWM2M_PORT: '0',
    LWM2M_DTLS_PORT: '0',
  });
  platform = await startPlatform(config, logger.child({ test: 'fresh-start' }));
}, 180_000);

afterAll(async () => {
  await platform?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

function appearsInRepository(value: string): boolean {
  try {
    execFileSync('git', ['grep', '--quiet', '--fixed-strings', '-e', value], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function brokerLogin(
  password: string,
  over: { url: string; ca?: Buffer } = { url: platform.addresses.mqtt ?? '' },
): Promise<string> {
  const client = mqtt.connect(over.url, {
    clientId: `otaflow-gateway-probe-${password.length}`,
    username: 'otaflow-gateway',
    password,
    reconnectPeriod: 0,
    ca: over.ca,
  });
  return new Promise((resolve) => {
    client.once('connect', () => resolve('accepted'));
    client.once('error', (error) => resolve(error.message));
  }).finally(() => client.end(true)) as Promise<string>;
}

describe('a fresh start with nothing configured', () => {
  it('generates every credential into owner-only files of the data dir, none of them found in the source', async () => {
    for (const name of generatedSecrets) {
      const file = path.join(dataDir, name);
      expect(statSync(file).mode & 0o777, name).toBe(0o600);
      const value = (await readFile(file, 'utf8')).trim();
      expect(value.length, name).toBeGreaterThanOrEqual(32);
      expect(appearsInRepository(value), `${name} appears in the repository`).toBe(false);
    }
    expect(appearsInRepository('otaflow-gateway'), 'the check finds what is in the repository').toBe(true);
  });

  it("lets the gateway's broker account in with its generated password only", async () => {
    const generated = (await readFile(path.join(dataDir, 'mqtt-service-password'), 'utf8')).trim();
    expect(await brokerLogin(generated)).toBe('accepted');
    expect(await brokerLogin('otaflow-gateway-dev-password')).toMatch(/Bad username or password/i);
  });
});

describe('a fresh start offers encrypted transports', () => {
  const caFile = () => path.join(dataDir, 'tls', 'ca.pem');

  it('creates a local certificate authority in the data dir and says where it is, its keys owner-only', () => {
    expect(platform.addresses.tlsCaFile).toBe(caFile());
    for (const key of ['ca-key.pem', 'server-key.pem']) {
      expect(statSync(path.join(dataDir, 'tls', key)).mode & 0o777, key).toBe(0o600);
    }
  });

  it('serves MQTT over TLS to a client that verifies the server against that CA, and to no other', async () => {
    const ca = await readFile(caFile());
    const url = platform.addresses.mqttTls as string;
    expect(url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const generated = (await readFile(path.join(dataDir, 'mqtt-service-password'), 'utf8')).trim();
    expect(await brokerLogin(generated, { url, ca })).toBe('accepted');
    expect(await brokerLogin(generated, { url })).toMatch(/unable to verify the first certificate/);
  });

  it('serves LwM2M over DTLS beside plain CoAP', () => {
    expect(platform.addresses.lwm2mDtls).toMatch(/^coaps:\/\/127\.0\.0\.1:\d+$/);
    expect(platform.addresses.lwm2m).toMatch(/^coap:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses TLS below 1.2', async () => {
    const { port } = new URL(platform.addresses.mqttTls as string);
    const outcome = await new Promise<string>((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: Number(port),
        ca: readFileSync(caFile()),
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        // Lets this client offer TLS 1.1 at all, so the refusal is the server's.
        ciphers: 'DEFAULT@SECLEVEL=0',
      });
      socket.once('secureConnect', () => resolve('connected'));
      socket.once('error', (error) => resolve(error.message));
    });
    expect(outcome).toMatch(/alert protocol version/);
  });

  it('serves the API, and so package downloads, over HTTPS with the same certificate', async () => {
    const ca = await readFile(caFile());
    const status = await new Promise<number | undefined>((resolve, reject) =>
      https
        .get(`${platform.addresses.apiTls}/healthz`, { ca }, (response) => {
          response.resume();
          resolve(response.statusCode);
        })
        .once('error', reject),
    );
    expect(status).toBe(200);
  });
});
