import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { insertFirmwareAndMeters, startTestApi } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());

beforeEach(async () => {
  await api.reset();
  await insertFirmwareAndMeters(api.db, ['m1']);
});

const createWith = (rollout: unknown) =>
  request(api.app)
    .post('/v1/tasks')
    .set(api.auth)
    .send({ packageId: 'pkg_1', target: { deviceIds: ['m1'] }, rollout });

const window = { daysOfWeek: [1, 2], start: '02:00', durationMinutes: 120, timeZone: 'Europe/Berlin' };
const retry = { maxAttempts: 3, initialIntervalSeconds: 60, backoffCoefficient: 2, maxIntervalSeconds: 600 };

describe('rollout policy', () => {
  it('accepts a full policy and hands it to the workflow as given', async () => {
    const rollout = {
      maxInProgress: 50,
      rate: { devicesPerMinute: 100, ramp: { initialPerMinute: 10, multiplier: 2, stepMinutes: 5 } },
      waves: { sizes: [10, 100, 1000], successPercent: 95 },
      abort: { failedCount: 20, failedPercent: 10, minFinished: 50, cancelInProgress: true },
      startAt: '2026-01-01T02:00:00+01:00',
      maintenanceWindow: window,
      retry: { ...retry, causes: ['Waiting for the device online timeout'] },
    };
    const response = await createWith(rollout).expect(201);
    expect(response.body.rollout).toEqual(rollout);
    expect(response.body.state).toBe('running'); // the start time has passed
    expect(api.temporal.started[0]?.options.args[0]).toMatchObject({ policy: rollout });
  });

  it.each([
    [{ maxInProgress: 0 }, 'rollout.maxInProgress'],
    [{ maxInProgress: 1001 }, 'rollout.maxInProgress'],
    [{ maxInProgress: 2.5 }, 'rollout.maxInProgress'],
    [{ rate: { devicesPerMinute: 0 } }, 'rollout.rate.devicesPerMinute'],
    [
      { rate: { devicesPerMinute: 10, ramp: { initialPerMinute: 20, multiplier: 2, stepMinutes: 5 } } },
      'rollout.rate.ramp.initialPerMinute',
    ],
    [
      { rate: { devicesPerMinute: 10, ramp: { initialPerMinute: 1, multiplier: 1, stepMinutes: 5 } } },
      'rollout.rate.ramp.multiplier',
    ],
    [{ waves: { sizes: [10, 0], successPercent: 90 } }, 'rollout.waves.sizes.1'],
    [{ waves: { sizes: [], successPercent: 90 } }, 'rollout.waves.sizes'],
    [{ waves: { sizes: [10], successPercent: 101 } }, 'rollout.waves.successPercent'],
    [{ abort: { minFinished: 10 } }, 'rollout.abort'],
    [{ abort: { failedPercent: 0, minFinished: 10 } }, 'rollout.abort.failedPercent'],
    [{ abort: { failedCount: 5 } }, 'rollout.abort.minFinished'],
    [{ startAt: 'tomorrow' }, 'rollout.startAt'],
    [{ startAt: '2026-01-01' }, 'rollout.startAt'],
    [{ maintenanceWindow: { ...window, start: '24:00' } }, 'rollout.maintenanceWindow.start'],
    [{ maintenanceWindow: { ...window, start: '2:00' } }, 'rollout.maintenanceWindow.start'],
    [{ maintenanceWindow: { ...window, daysOfWeek: [7] } }, 'rollout.maintenanceWindow.daysOfWeek.0'],
    [{ maintenanceWindow: { ...window, daysOfWeek: [1, 1] } }, 'rollout.maintenanceWindow.daysOfWeek.1'],
    [{ maintenanceWindow: { ...window, daysOfWeek: [] } }, 'rollout.maintenanceWindow.daysOfWeek'],
    [
      { maintenanceWindow: { ...window, timeZone: 'Mars/Olympus_Mons' } },
      'rollout.maintenanceWindow.timeZone',
    ],
    [{ maintenanceWindow: { ...window, durationMinutes: 0 } }, 'rollout.maintenanceWindow.durationMinutes'],
    [{ retry: { ...retry, maxAttempts: 0 } }, 'rollout.retry.maxAttempts'],
    [{ retry: { ...retry, backoffCoefficient: 0.5 } }, 'rollout.retry.backoffCoefficient'],
    [{ retry: { ...retry, maxIntervalSeconds: 30 } }, 'rollout.retry.maxIntervalSeconds'],
    [{ retry: { ...retry, causes: ['Bad luck'] } }, 'rollout.retry.causes.0'],
    [{ retry: { ...retry, causes: [] } }, 'rollout.retry.causes'],
    [{ speed: 'fast' }, 'rollout'],
    ['fast', 'rollout'],
  ])('refuses %j naming %s, and creates nothing', async (rollout, field) => {
    const response = await createWith(rollout).expect(400);
    expect(response.body.errors.map((error: { path: string }) => error.path)).toEqual([field]);
    const { rows } = await api.db.query<{ count: number }>('select count(*)::int as count from tasks');
    expect(rows[0]?.count).toBe(0);
    expect(api.temporal.started).toEqual([]);
  });
});
