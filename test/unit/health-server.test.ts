import { afterEach, describe, expect, it } from 'vitest';
import { type HealthServer, startHealthServer } from '../../src/health-server';
import type { Readiness } from '../../src/readiness';

let server: HealthServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function serve(readiness: Readiness): Promise<string> {
  server = await startHealthServer({
    host: '127.0.0.1',
    port: 0,
    roles: new Set(['upgrade-worker', 'task-worker']),
    readiness: async () => readiness,
  });
  return server.url;
}

describe('the health server of a process without the API', () => {
  it('answers /healthz whatever its dependencies, and /readyz with them', async () => {
    const url = await serve({
      status: 'unready',
      dependencies: { temporal: { reachable: false, ms: 800, error: 'no answer within 800 ms' } },
    });
    const alive = await fetch(`${url}/healthz`);
    expect(alive.status).toBe(200);
    expect(await alive.json()).toEqual({ status: 'ok', roles: ['upgrade-worker', 'task-worker'] });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({
      status: 'unready',
      dependencies: { temporal: { reachable: false, ms: 800, error: 'no answer within 800 ms' } },
      roles: ['upgrade-worker', 'task-worker'],
    });
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
  });

  it('answers /readyz with 200 when every dependency answered', async () => {
    const url = await serve({ status: 'ready', dependencies: { database: { reachable: true, ms: 2 } } });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
  });
});
