import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceOperationStory } from '../../../src/temporal/device-story';
import { DeviceCause } from '../../../workflows/failure-causes';
import { insertFirmwareAndMeters, startTestApi } from './test-api';

/**
 * `GET /v1/devices/{id}/operations[/{runId}]`: a device's runs from Temporal, newest first and paged,
 * and one run's timeline with, for a failure, the seed's message, description and solution.
 */
let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.dispose());
beforeEach(async () => {
  await api.reset();
  await insertFirmwareAndMeters(api.db, ['meter-1']);
});

const run = (runId: string, startedAt: string, failed: boolean): DeviceOperationStory => ({
  operation: {
    workflowId: 'device-operation:meter-1',
    runId,
    workflowType: 'mqttUpgrade',
    taskId: 'task_1',
    packageVersion: '2.0.0',
    status: 'completed',
    step: failed ? 'failed' : 'succeeded',
    failureCause: failed ? DeviceCause.notEnoughStorage : null,
    startedAt,
    closedAt: startedAt,
  },
  timeline: [{ at: startedAt, kind: 'start', text: 'Upgrade to firmware 2.0.0 started' }],
  result: failed
    ? {
        taskId: 'task_1',
        deviceId: 'meter-1',
        outcome: 'failed',
        cause: DeviceCause.notEnoughStorage,
        toVersion: '2.0.0',
      }
    : { taskId: 'task_1', deviceId: 'meter-1', outcome: 'succeeded', toVersion: '2.0.0' },
});

const runIds = [
  '11111111-1111-4111-8111-111111111111',
  '22222222-2222-4222-8222-222222222222',
  '33333333-3333-4333-8333-333333333333',
];

describe("a device's operations", () => {
  it('lists them newest first, page by page, each linked to the Temporal UI', async () => {
    api.stories.set('meter-1', [
      run(runIds[2] as string, '2026-12-03T00:00:00.000Z', true),
      run(runIds[1] as string, '2026-12-02T00:00:00.000Z', false),
      run(runIds[0] as string, '2026-12-01T00:00:00.000Z', false),
    ]);
    const first = await request(api.app)
      .get('/v1/devices/meter-1/operations?limit=2')
      .set(api.auth)
      .expect(200);
    expect(first.body.items.map((item: { runId: string }) => item.runId)).toEqual([runIds[2], runIds[1]]);
    expect(first.body.items[0].temporalUiUrl).toBe(
      `http://temporal-ui.test/namespaces/default/workflows/device-operation%3Ameter-1/${runIds[2]}/history`,
    );
    const rest = await request(api.app)
      .get(`/v1/devices/meter-1/operations?limit=2&cursor=${first.body.nextCursor}`)
      .set(api.auth)
      .expect(200);
    expect(rest.body).toEqual({ items: [expect.objectContaining({ runId: runIds[0] })] });
  });

  it("tells a failed run's story with the seed's description and solution of its cause", async () => {
    api.stories.set('meter-1', [run(runIds[0] as string, '2026-12-01T00:00:00.000Z', true)]);
    const story = await request(api.app)
      .get(`/v1/devices/meter-1/operations/${runIds[0]}`)
      .set(api.auth)
      .expect(200);
    expect(story.body.failure).toEqual({
      cause: 'Not enough storage for the new firmware package',
      description: 'The storage space is insufficient for the firmware package.',
      solution: 'Check the storage space of the device.',
    });
    expect(story.body.timeline).toEqual([
      { at: '2026-12-01T00:00:00.000Z', kind: 'start', text: 'Upgrade to firmware 2.0.0 started' },
    ]);
  });

  it('names what is wrong: an unknown device, a run that is not its, a run ID that is not one, a bad cursor', async () => {
    api.stories.set('meter-1', [run(runIds[0] as string, '2026-12-01T00:00:00.000Z', false)]);
    const unknown = await request(api.app).get('/v1/devices/nobody/operations').set(api.auth).expect(404);
    expect(unknown.body.detail).toBe('device nobody does not exist');
    const notItsRun = await request(api.app)
      .get(`/v1/devices/meter-1/operations/${runIds[1]}`)
      .set(api.auth)
      .expect(404);
    expect(notItsRun.body.detail).toBe(`device meter-1 has no operation run ${runIds[1]}`);
    const notARun = await request(api.app)
      .get('/v1/devices/meter-1/operations/latest')
      .set(api.auth)
      .expect(400);
    expect(notARun.body.errors).toEqual([
      { path: 'runId', message: 'a run ID (a UUID) from the operations of this device' },
    ]);
    const badCursor = await request(api.app)
      .get('/v1/devices/meter-1/operations?cursor=yesterday')
      .set(api.auth)
      .expect(400);
    expect(badCursor.body.errors[0].path).toBe('cursor');
  });
});
