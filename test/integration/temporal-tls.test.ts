import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedLwm2mDevice } from '../../src/simulator/lwm2m-device';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { runTaskToCompletion, uploadFirmware } from '../support/rollout';
import { type RealStack, startRealStack } from '../support/stack/real-stack';
import { startTemporalTlsFront, type TemporalTlsFront } from '../support/stack/temporal-tls-front';

/**
 * otaflow on a Temporal that requires mutual TLS, configured only by the SDK's own TEMPORAL_*
 * variables: its client and its workers connect with the CA, a client certificate and a server
 * name, and an upgrade runs through them. Without a client certificate it cannot start.
 */

const PRODUCT = { product: 'tls-meter', model: 'TM-1' };
const TARGET = '2.0.0';

describe('otaflow on a Temporal that requires mutual TLS', () => {
  let stack: RealStack;
  let front: TemporalTlsFront;
  let platform: TestPlatform;
  let device: SimulatedLwm2mDevice | undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-temporal-tls-'));

  beforeAll(async () => {
    stack = await startRealStack();
    front = await startTemporalTlsFront(stack.temporal.address, dir);
  }, 120_000);

  afterAll(async () => {
    await device?.stop();
    await platform?.stop();
    await front?.stop();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('cannot start without a client certificate', async () => {
    await expect(
      startTestPlatform(stack, {
        temporal: {
          TEMPORAL_ADDRESS: front.address,
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: front.caFile,
          TEMPORAL_TLS_SERVER_NAME: 'localhost',
        },
      }),
    ).rejects.toThrow(
      /cannot reach Temporal at 127\.0\.0\.1:\d+ \(namespace default; TLS, server name localhost\): Failed to connect/,
    );
    expect(front.authorizedConnections()).toBe(0);
  }, 60_000);

  it('connects with CA, client certificate and server name, and upgrades a device through it', async () => {
    platform = await startTestPlatform(stack, {
      temporal: {
        TEMPORAL_ADDRESS: front.address,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: front.caFile,
        TEMPORAL_TLS_CLIENT_CERT_PATH: front.clientCertFile,
        TEMPORAL_TLS_CLIENT_KEY_PATH: front.clientKeyFile,
        TEMPORAL_TLS_SERVER_NAME: 'localhost',
      },
    });
    // The client's connection and the workers' own.
    expect(front.authorizedConnections()).toBeGreaterThanOrEqual(2);

    const id = 'tls-temporal-meter';
    await platform.api.post('/v1/devices', { id, protocol: 'lwm2m', ...PRODUCT, lwm2mSecurity: 'none' });
    device = new SimulatedLwm2mDevice({
      endpoint: id,
      serverUri: platform.addresses.lwm2m,
      cellId: 420,
      firmwareVersion: '1.0.0',
      updatedVersion: TARGET,
    });
    await device.start();
    const pkg = await uploadFirmware(platform.api, { ...PRODUCT, version: TARGET, bytes: 4 * 1024 });
    await runTaskToCompletion(platform.api, pkg.id, [id]);
    expect(device.firmwareVersion).toBe(TARGET);
  }, 150_000);
});
