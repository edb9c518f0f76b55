import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Readiness } from '../../src/readiness';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

/**
 * `/readyz` on one otaflow process with every role, on the real Temporal, PostgreSQL, MinIO and
 * Mosquitto: it names each server it depends on, turns unready while MinIO is down (the API and the
 * LwM2M gateway serve packages from it), and ready again by itself once MinIO is back; `/healthz`
 * answers throughout, so a liveness probe does not restart the process for an outage elsewhere.
 */

let stack: RealStack;
let platform: TestPlatform;

beforeAll(async () => {
  stack = await startRealStack();
  platform = await startTestPlatform(stack);
}, 180_000);

afterAll(async () => {
  await platform?.stop();
  await stack?.stop();
}, 60_000);

async function readiness(): Promise<{ code: number; body: Readiness }> {
  const answer = await fetch(`${platform.addresses.api}/readyz`);
  return { code: answer.status, body: (await answer.json()) as Readiness };
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('readiness of an otaflow process', () => {
  it('is ready with every server it depends on answering, each named', async () => {
    const { code, body } = await readiness();
    expect(code).toBe(200);
    expect(body.status).toBe('ready');
    expect(Object.keys(body.dependencies).sort()).toEqual([
      'database',
      'mqtt-broker',
      'package-store',
      'temporal',
    ]);
  });

  it('turns unready while MinIO is down, naming it, and ready again when it returns', async () => {
    const outage = await stack.minio.interrupt();
    try {
      await until(async () => (await readiness()).code === 503, '/readyz to answer 503');
      const { body } = await readiness();
      expect(body.status).toBe('unready');
      expect(body.dependencies['package-store']).toMatchObject({
        reachable: false,
        error: expect.stringMatching(/ECONNREFUSED/),
      });
      for (const name of ['database', 'temporal', 'mqtt-broker'] as const) {
        expect(body.dependencies[name]).toMatchObject({ reachable: true });
      }
      expect((await fetch(`${platform.addresses.api}/healthz`)).status).toBe(200);
    } finally {
      await outage.start();
    }
    await until(async () => (await readiness()).code === 200, '/readyz to answer 200 again');
    expect((await readiness()).body.dependencies['package-store']).toMatchObject({ reachable: true });
  }, 120_000);
});
