import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { insertDevice } from '../../../src/db/devices';
import { insertPackage } from '../../../src/db/packages';
import { recordDeviceResult, recordStep } from '../../../src/db/tasks';
import { defaultCoverageRanges } from '../../../workflows/radio-coverage';
import { startTestApi, testSecrets } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());

const firmware = {
  id: 'pkg_fw2',
  name: 'meter firmware',
  version: '2.0.0',
  kind: 'firmware',
  product: 'meter',
  model: 'm1',
  supportedSourceVersions: ['1.0.0'],
  fileName: 'fw.bin',
  size: 1234,
  sha256: 'cd'.repeat(32),
  objectKey: 'packages/pkg_fw2',
} as const;

beforeEach(async () => {
  await api.reset();
  await insertPackage(api.db, {
    ...firmware,
    supportedSourceVersions: [...firmware.supportedSourceVersions],
  });
  const devices = [
    { id: 'm1', protocol: 'mqtt', model: 'm1' },
    { id: 'm2', protocol: 'mqtt', model: 'm1' },
    { id: 'nb1', protocol: 'lwm2m', model: 'm1' },
    { id: 'other-model', protocol: 'mqtt', model: 'm9' },
  ] as const;
  for (const device of devices) {
    await insertDevice(api.db, {
      ...device,
      product: 'meter',
      secretCiphertext: testSecrets.encrypt('secret-123'),
    });
  }
});

async function rowCounts() {
  const { rows } = await api.db.query<{ tasks: number; task_devices: number }>(
    'select (select count(*)::int from tasks) as tasks, (select count(*)::int from task_devices) as task_devices',
  );
  return rows[0];
}

describe('POST /v1/tasks', () => {
  it('creates the task with a pending row per device and starts its workflow', async () => {
    const response = await request(api.app)
      .post('/v1/tasks')
      .send({ packageId: firmware.id, deviceIds: ['m1', 'm2'], callbackUrl: 'https://app.example.test/ota' })
      .expect(201);
    expect(response.body).toMatchObject({
      packageId: firmware.id,
      state: 'running',
      deviceCount: 2,
      callbackUrl: 'https://app.example.test/ota',
    });
    const taskId: string = response.body.id;
    expect(api.temporal.started).toEqual([
      {
        workflowType: 'upgradeTask',
        options: {
          workflowId: `upgrade-task:${taskId}`,
          taskQueue: 'otaflow',
          args: [
            {
              taskId,
              deviceIds: ['m1', 'm2'],
              package: {
                id: firmware.id,
                kind: 'firmware',
                version: '2.0.0',
                fileName: 'fw.bin',
                size: 1234,
                sha256: firmware.sha256,
                supportedSourceVersions: ['1.0.0'],
              },
            },
          ],
        },
      },
    ]);
    expect(await rowCounts()).toEqual({ tasks: 1, task_devices: 2 });
  });

  it.each([
    [{ packageId: firmware.id, deviceIds: [] }, 'deviceIds'],
    [{ packageId: firmware.id, deviceIds: ['m1', 'm2', 'm1'] }, 'deviceIds.2'],
    [{ packageId: firmware.id, deviceIds: Array.from({ length: 1001 }, (_, i) => `d${i}`) }, 'deviceIds'],
    [{ packageId: firmware.id, deviceIds: ['m1'], callbackUrl: 'ftp://x' }, 'callbackUrl'],
    [{ deviceIds: ['m1'] }, 'packageId'],
  ])('refuses %j naming %s, and creates nothing', async (body, field) => {
    const response = await request(api.app).post('/v1/tasks').send(body).expect(400);
    expect(response.body.errors.map((error: { path: string }) => error.path)).toContain(field);
    expect(await rowCounts()).toEqual({ tasks: 0, task_devices: 0 });
    expect(api.temporal.started).toEqual([]);
  });

  it('gives the task its NB-IoT devices with the configured radio settings', async () => {
    const response = await request(api.app)
      .post('/v1/tasks')
      .send({ packageId: firmware.id, deviceIds: ['m1', 'nb1'] })
      .expect(201);
    expect(api.temporal.started[0]?.options.args[0]).toMatchObject({
      taskId: response.body.id,
      deviceIds: ['m1', 'nb1'],
      lwm2m: {
        deviceIds: ['nb1'],
        coverageRanges: defaultCoverageRanges,
        radioResources: { cellId: '/4/0/8', rsrp: '/4/0/2', sinr: '/4/0/11' },
      },
    });
  });

  it('refuses an unknown package, unknown devices and devices of another model', async () => {
    const unknownPackage = await request(api.app)
      .post('/v1/tasks')
      .send({ packageId: 'pkg_x', deviceIds: ['m1'] });
    expect(unknownPackage.status).toBe(422);
    expect(unknownPackage.body.errors).toEqual([{ path: 'packageId', message: 'no such package' }]);

    const badDevices = await request(api.app)
      .post('/v1/tasks')
      .send({ packageId: firmware.id, deviceIds: ['m1', 'ghost', 'other-model'] })
      .expect(422);
    expect(badDevices.body.errors).toEqual([
      { path: 'deviceIds.1', message: 'device ghost does not exist' },
      { path: 'deviceIds.2', message: 'device other-model is meter/m9; the package is for meter/m1' },
    ]);
    expect(await rowCounts()).toEqual({ tasks: 0, task_devices: 0 });
    expect(api.temporal.started).toEqual([]);
  });

  it('leaves no task behind when Temporal cannot start the workflow', async () => {
    api.temporal.makeUnavailable();
    const response = await request(api.app)
      .post('/v1/tasks')
      .send({ packageId: firmware.id, deviceIds: ['m1'] });
    expect(response.status).toBe(503);
    expect(await rowCounts()).toEqual({ tasks: 0, task_devices: 0 });
  });
});

describe('task status', () => {
  it("shows counts per step, outcome and cause, and each device's progress", async () => {
    const created = await request(api.app)
      .post('/v1/tasks')
      .send({ packageId: firmware.id, deviceIds: ['m1', 'm2'] })
      .expect(201);
    const taskId: string = created.body.id;
    await recordStep(api.db, taskId, 'm1', 'downloading', '1.0.0', new Date());
    await api.db.query('update task_devices set progress = 60 where device_id = $1', ['m1']);
    await recordDeviceResult(
      api.db,
      {
        taskId,
        deviceId: 'm2',
        outcome: 'failed',
        cause: 'Waiting for the device online timeout',
        toVersion: '2.0.0',
      },
      new Date(),
    );

    const status = await request(api.app).get(`/v1/tasks/${taskId}`).expect(200);
    expect(status.body).toMatchObject({
      id: taskId,
      state: 'running',
      counts: {
        byStep: { downloading: 1, failed: 1 },
        byOutcome: { failed: 1 },
        byFailureCause: { 'Waiting for the device online timeout': 1 },
      },
    });

    const devices = await request(api.app).get(`/v1/tasks/${taskId}/devices?limit=1`).expect(200);
    expect(devices.body.items).toEqual([
      expect.objectContaining({
        deviceId: 'm1',
        step: 'downloading',
        progress: 60,
        fromVersion: '1.0.0',
        toVersion: '2.0.0',
      }),
    ]);
    const rest = await request(api.app)
      .get(`/v1/tasks/${taskId}/devices?cursor=${devices.body.nextCursor}`)
      .expect(200);
    expect(rest.body.items).toEqual([
      expect.objectContaining({
        deviceId: 'm2',
        step: 'failed',
        outcome: 'failed',
        failureCause: 'Waiting for the device online timeout',
      }),
    ]);
  });

  it('answers 404 for an unknown task', async () => {
    await request(api.app).get('/v1/tasks/task_nope').expect(404);
    await request(api.app).get('/v1/tasks/task_nope/devices').expect(404);
    await request(api.app).post('/v1/tasks/task_nope/cancel').expect(404);
  });
});

describe('POST /v1/tasks/:id/cancel', () => {
  it('cancels the task workflow and marks the task cancelling', async () => {
    const created = await request(api.app)
      .post('/v1/tasks')
      .send({ packageId: firmware.id, deviceIds: ['m1'] });
    const taskId: string = created.body.id;
    const response = await request(api.app).post(`/v1/tasks/${taskId}/cancel`).expect(202);
    expect(response.body.state).toBe('cancelling');
    expect(api.temporal.cancelled).toEqual([`upgrade-task:${taskId}`]);
  });

  it('refuses to cancel a finished task', async () => {
    const created = await request(api.app)
      .post('/v1/tasks')
      .send({ packageId: firmware.id, deviceIds: ['m1'] });
    await api.db.query(`update tasks set state = 'completed', finished_at = now()`);
    const response = await request(api.app).post(`/v1/tasks/${created.body.id}/cancel`).expect(409);
    expect(response.body.detail).toMatch(/already completed/);
    expect(api.temporal.cancelled).toEqual([]);
  });
});
