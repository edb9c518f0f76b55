import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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
    TEMPORAL_DEV_SERVER_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    MINIO_PORT: String(await freePort()),
    MINIO_CONSOLE_PORT: String(await freePort()),
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(await freePort()),
    LWM2M_HOST: '127.0.0.1',
    LWM2M_PORT: '0',
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

function brokerLogin(password: string): Promise<string> {
  const client = mqtt.connect(platform.addresses.mqtt, {
    clientId: `otaflow-gateway-probe-${password.length}`,
    username: 'otaflow-gateway',
    password,
    reconnectPeriod: 0,
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
