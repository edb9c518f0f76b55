import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
 * bundles (with and without tracing) made once at build time. The workflows' entry is removed after
 * the build, so a start that tried to bundle them would fail; the built otaflow starts and upgrades a
 * device, with tracing off and with tracing on (spans written to its standard output). It serves the
 * console bundled at build time too.
 */

const REPO = path.resolve(__dirname, '../..');
const PRODUCT = { product: 'built-meter' };
const TARGET = '2.0.0';

describe('the compiled build', () => {
  let stack: RealStack;
  let otaflow: ChildProcess | undefined;
  let device: SimulatedLwm2mDevice | undefined;
  const dataDirs: string[] = [];

  async function stopOtaflow(): Promise<void> {
    await device?.stop();
    if (otaflow && otaflow.exitCode === null) {
      const exited = new Promise((resolve) => otaflow?.once('exit', resolve));
      otaflow.kill('SIGTERM');
      await exited;
    }
  }

  beforeAll(async () => {
    await promisify(execFile)('npm', ['run', 'build'], { cwd: REPO });
    rmSync(path.join(REPO, 'dist/workflows/index.js'));
    stack = await startRealStack();
  }, 240_000);

  afterAll(async () => {
    await stopOtaflow();
    await stack?.stop();
    for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
  });

  it.each([
    { tracing: 'off', env: {} },
    { tracing: 'on', env: { OTEL_TRACES_EXPORTER: 'console' } },
  ])(
    'starts with node alone and upgrades a device, tracing $tracing',
    async ({ tracing, env }) => {
      await stopOtaflow();
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-built-'));
      dataDirs.push(dataDir);
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
          ...env,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const output: string[] = [];
      otaflow.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
      await expect
        .poll(() => output.join(''), { timeout: 90_000, interval: 250 })
        .toMatch(/otaflow is running/);
      const api: ApiClient = createApiClient(`http://127.0.0.1:${apiPort}`, apiKey);
      const consoleScript = await fetch(`http://127.0.0.1:${apiPort}/console.js`);
      expect(consoleScript.status).toBe(200);
      expect(await consoleScript.text()).toBe(
        readFileSync(path.join(REPO, 'dist/console-assets/console.js'), 'utf8'),
      );

      // Both runs share the stack's database: each its own device and model.
      const id = `built-meter-tracing-${tracing}`;
      const product = { ...PRODUCT, model: `BM-tracing-${tracing}` };
      await api.post('/v1/devices', { id, protocol: 'lwm2m', ...product, lwm2mSecurity: 'none' });
      device = new SimulatedLwm2mDevice({
        endpoint: id,
        serverUri: `coap://127.0.0.1:${lwm2mPort}`,
        cellId: 77,
        firmwareVersion: '1.0.0',
        updatedVersion: TARGET,
      });
      await device.start();
      const pkg = await uploadFirmware(api, { ...product, version: TARGET, bytes: 4 * 1024 });
      await runTaskToCompletion(api, pkg.id, [id]);
      expect(device.firmwareVersion).toBe(TARGET);
      // The console exporter's spans: the upgrade's workflow ran the traced bundle.
      const workflowSpan = /name: 'RunWorkflow:lwm2mFirmwareUpgrade'/;
      if (tracing === 'on') {
        await expect.poll(() => output.join(''), { timeout: 10_000 }).toMatch(workflowSpan);
      } else {
        expect(output.join('')).not.toMatch(workflowSpan);
      }
    },
    240_000,
  );
});
