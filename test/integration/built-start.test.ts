import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/api/auth';
import { type ApiClient, createApiClient } from '../../src/cli/api-client';
import { SimulatedLwm2mDevice } from '../../src/simulator/lwm2m-device';
import { freePort } from '../../src/stack/free-port';
import { runTaskToCompletion, uploadFirmware } from '../support/rollout';
import { type RealStack, stackEnvironment, startRealStack } from '../support/stack/real-stack';

/**
 * `npm run build` makes an otaflow that `node` alone runs: compiled JavaScript and the workflow
 * bundle made once at build time. The workflows' entry is removed after the build, so a start that
 * tried to bundle them would fail; the built otaflow starts and upgrades a device.
 */

const REPO = path.resolve(__dirname, '../..');
const PRODUCT = { product: 'built-meter', model: 'BM-1' };
const TARGET = '2.0.0';

describe('the compiled build', () => {
  let stack: RealStack;
  let otaflow: ChildProcess | undefined;
  let device: SimulatedLwm2mDevice | undefined;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-built-'));

  beforeAll(async () => {
    await promisify(execFile)('npm', ['run', 'build'], { cwd: REPO });
    rmSync(path.join(REPO, 'dist/workflows/index.js'));
    stack = await startRealStack();
  }, 240_000);

  afterAll(async () => {
    await device?.stop();
    if (otaflow && otaflow.exitCode === null) {
      const exited = new Promise((resolve) => otaflow?.once('exit', resolve));
      otaflow.kill('SIGTERM');
      await exited;
    }
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts with node alone and upgrades a device', async () => {
    const apiKey = generateApiKey();
    const apiPort = await freePort();
    const lwm2mPort = await freePort();
    otaflow = spawn(process.execPath, [path.join(REPO, 'dist/src/cli/start.js')], {
      cwd: dataDir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...stackEnvironment(stack, apiPort),
        OTAFLOW_DATA_DIR: dataDir,
        OTAFLOW_API_KEY: apiKey,
        OTAFLOW_TLS: 'off',
        MQTT_URL: '',
        MQTT_HOST: '127.0.0.1',
        MQTT_PORT: String(await freePort()),
        LWM2M_HOST: '127.0.0.1',
        LWM2M_PORT: String(lwm2mPort),
        LWM2M_DTLS: 'off',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const output: string[] = [];
    otaflow.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    await expect
      .poll(() => output.join(''), { timeout: 90_000, interval: 250 })
      .toMatch(/otaflow is running/);
    const api: ApiClient = createApiClient(`http://127.0.0.1:${apiPort}`, apiKey);

    const id = 'built-meter-1';
    await api.post('/v1/devices', { id, protocol: 'lwm2m', ...PRODUCT, lwm2mSecurity: 'none' });
    device = new SimulatedLwm2mDevice({
      endpoint: id,
      serverUri: `coap://127.0.0.1:${lwm2mPort}`,
      cellId: 77,
      firmwareVersion: '1.0.0',
      updatedVersion: TARGET,
    });
    await device.start();
    const pkg = await uploadFirmware(api, { ...PRODUCT, version: TARGET, bytes: 4 * 1024 });
    await runTaskToCompletion(api, pkg.id, [id]);
    expect(device.firmwareVersion).toBe(TARGET);
  }, 240_000);
});
