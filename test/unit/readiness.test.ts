import { describe, expect, it } from 'vitest';
import {
  checkDependencies,
  createReadiness,
  type DependencyCheck,
  READINESS_REUSE_MS,
} from '../../src/readiness';

const answering: DependencyCheck = { name: 'database', probe: async () => undefined };
const refusing: DependencyCheck = {
  name: 'package-store',
  probe: async () => {
    throw new Error('connect ECONNREFUSED 127.0.0.1:9000');
  },
};
const silent: DependencyCheck = { name: 'temporal', probe: () => new Promise(() => undefined) };

describe('readiness', () => {
  it('is ready when every dependency answers, naming each', async () => {
    const readiness = await checkDependencies([answering, { ...answering, name: 'temporal' }]);
    expect(readiness).toEqual({
      status: 'ready',
      dependencies: {
        database: { reachable: true, ms: expect.any(Number) },
        temporal: { reachable: true, ms: expect.any(Number) },
      },
    });
  });

  it('is unready when one dependency fails or does not answer in time, saying which and why', async () => {
    const readiness = await checkDependencies([answering, refusing, silent], 50);
    expect(readiness.status).toBe('unready');
    expect(readiness.dependencies.database).toMatchObject({ reachable: true });
    expect(readiness.dependencies['package-store']).toMatchObject({
      reachable: false,
      error: 'connect ECONNREFUSED 127.0.0.1:9000',
    });
    expect(readiness.dependencies.temporal).toMatchObject({
      reachable: false,
      error: 'no answer within 50 ms',
    });
  });

  it('asks the dependencies at most once per reuse period, however often it is asked', async () => {
    let probes = 0;
    let clock = 0;
    const counted: DependencyCheck = {
      name: 'database',
      probe: async () => {
        probes++;
      },
    };
    const readiness = createReadiness([counted], () => clock);
    await Promise.all([readiness(), readiness(), readiness()]);
    clock += READINESS_REUSE_MS - 1;
    await readiness();
    expect(probes).toBe(1);
    clock += 1;
    expect((await readiness()).status).toBe('ready');
    expect(probes).toBe(2);
  });

  it('takes in the checks added after it was created (roles started later)', async () => {
    const checks: DependencyCheck[] = [answering];
    let clock = 0;
    const readiness = createReadiness(checks, () => clock);
    expect((await readiness()).status).toBe('ready');
    checks.push(refusing);
    clock += READINESS_REUSE_MS;
    expect(await readiness()).toMatchObject({
      status: 'unready',
      dependencies: { 'package-store': { reachable: false } },
    });
  });
});
