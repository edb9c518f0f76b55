import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { insertDevice } from '../../../src/db/devices';
import { insertPackage } from '../../../src/db/packages';
import { recordDeviceResult, recordStep } from '../../../src/db/tasks';
import { defaultCoverageRanges } from '../../../workflows/lwm2m/radio-coverage';
import { defaultRetryCauses } from '../../../workflows/rollout/retry';
import { startTestApi, testSecrets } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  // A 100,001-device list is a few MB of JSON.
  api = await startTestApi({ maxJsonBytes: 16 * 1024 ** 2 });
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
    { id: 'm1', protocol: 'mqtt', model: 'm1', tags: ['eu'] },
    { id: 'm2', protocol: 'mqtt', model: 'm1', tags: ['eu', 'canary'] },
    { id: 'nb1', protocol: 'lwm2m', model: 'm1', tags: ['us'] },
    { id: 'other-model', protocol: 'mqtt', model: 'm9', tags: ['eu'] },
  ] as const;
  for (const device of devices) {
    await insertDevice(api.db, {
      ...device,
      tags: [...device.tags],
      product: 'meter',
      secretCiphertext: testSecrets.encrypt('secret-123'),
    });
  }
  await api.db.query(`insert into device_groups (id, name) values ('grp_trial', 'trial')`);
  await api.db.query(
    `insert into device_group_members (group_id, device_id) values ('grp_trial', 'nb1'), ('grp_trial', 'other-model')`,
  );
});

async function rowCounts() {
  const { rows } = await api.db.query<{ tasks: number; task_devices: number }>(
    'select (select count(*)::int from tasks) as tasks, (select count(*)::int from task_devices) as task_devices',
  );
  return rows[0];
}

/** The task's device IDs in start order. */
async function targetsOf(taskId: string) {
  const { rows } = await api.db.query<{ device_id: string }>(
    'select device_id from task_devices where task_id = $1 order by seq',
    [taskId],
  );
  return rows.map((row) => row.device_id);
}

const createTask = (body: object) => request(api.app).post('/v1/tasks').set(api.auth).send(body);

describe('POST /v1/tasks', () => {
  it('creates a task for a device list, a pending row per device in list order, and starts rolloutTask', async () => {
    const response = await createTask({
      packageId: firmware.id,
      name: 'meter fw 2.0',
      target: { deviceIds: ['m2', 'nb1', 'm1'] },
    }).expect(201);
    const taskId: string = response.body.id;
    expect(response.headers.location).toBe(`/v1/tasks/${taskId}`);
    expect(response.body).toEqual({
      id: taskId,
      name: 'meter fw 2.0',
      packageId: firmware.id,
      state: 'running',
      stateReason: null,
      target: { deviceList: { count: 3 } },
      mode: 'snapshot',
      rollout: { maxInProgress: 100 },
      deviceCount: 3,
      createdAt: expect.any(String),
      finishedAt: null,
    });
    expect(await targetsOf(taskId)).toEqual(['m2', 'nb1', 'm1']);
    expect(api.temporal.started).toEqual([
      {
        workflowType: 'rolloutTask',
        options: {
          workflowId: `upgrade-task:${taskId}`,
          taskQueue: 'otaflow-tasks',
          workflowTaskTimeout: '60 seconds',
          typedSearchAttributes: [{ key: expect.objectContaining({ name: 'OtaTaskId' }), value: taskId }],
          args: [
            {
              taskId,
              package: {
                id: firmware.id,
                kind: 'firmware',
                version: '2.0.0',
                fileName: 'fw.bin',
                size: 1234,
                sha256: firmware.sha256,
                supportedSourceVersions: ['1.0.0'],
              },
              mode: 'snapshot',
              policy: { maxInProgress: 100 },
              nbiot: {
                coverageRanges: defaultCoverageRanges,
                radioResources: { cellId: '/4/0/8', rsrp: '/4/0/2', sinr: '/4/0/11' },
              },
            },
          ],
        },
      },
    ]);
  });

  it("resolves a group to its members of the package's model only", async () => {
    const response = await createTask({ packageId: firmware.id, target: { groupId: 'grp_trial' } }).expect(
      201,
    );
    expect(response.body).toMatchObject({ target: { groupId: 'grp_trial' }, deviceCount: 1 });
    expect(await targetsOf(response.body.id)).toEqual(['nb1']);
  });

  it("resolves a filter to the package's model, by protocol, version and tags", async () => {
    await api.db.query(
      `update devices set firmware_version = '1.0.0' where id in ('m1', 'm2', 'other-model')`,
    );
    const byTag = await createTask({
      packageId: firmware.id,
      target: { filter: { tags: ['eu'], currentVersion: '1.0.0' } },
    }).expect(201);
    expect(await targetsOf(byTag.body.id)).toEqual(['m1', 'm2']);
    const byProtocol = await createTask({
      packageId: firmware.id,
      target: { filter: { protocol: 'lwm2m' } },
      mode: 'continuous',
    }).expect(201);
    expect(byProtocol.body).toMatchObject({ mode: 'continuous', target: { filter: { protocol: 'lwm2m' } } });
    expect(await targetsOf(byProtocol.body.id)).toEqual(['nb1']);
    expect(api.temporal.started[1]?.options.args[0]).toMatchObject({ mode: 'continuous' });
  });

  it('lets a continuous task start with no device yet, but not a snapshot task', async () => {
    const empty = { packageId: firmware.id, target: { filter: { tags: ['nowhere'] } } };
    const snapshot = await createTask(empty).expect(422);
    expect(snapshot.body.errors).toEqual([
      { path: 'target.filter', message: "matches no device of the package's product and model" },
    ]);
    expect(await rowCounts()).toEqual({ tasks: 0, task_devices: 0 });
    const continuous = await createTask({ ...empty, mode: 'continuous' }).expect(201);
    expect(continuous.body.deviceCount).toBe(0);
  });

  it('schedules a task whose start is in the future, and applies the policy defaults', async () => {
    const startAt = new Date(Date.now() + 3_600_000).toISOString();
    const response = await createTask({
      packageId: firmware.id,
      target: { deviceIds: ['m1'] },
      rollout: { startAt, retry: {}, abort: { failedPercent: 20, minFinished: 10 } },
    }).expect(201);
    const policy = {
      maxInProgress: 100,
      startAt,
      retry: {
        maxAttempts: 3,
        initialIntervalSeconds: 60,
        backoffCoefficient: 2,
        maxIntervalSeconds: 3600,
        causes: [...defaultRetryCauses],
      },
      abort: { failedPercent: 20, minFinished: 10, cancelInProgress: false },
    };
    expect(response.body).toMatchObject({ state: 'scheduled', rollout: policy });
    expect(api.temporal.started[0]?.options.args[0]).toMatchObject({ policy });
  });

  it.each([
    [{ packageId: firmware.id, target: { deviceIds: [] } }, 'target.deviceIds'],
    [{ packageId: firmware.id, target: { deviceIds: ['m1', 'm2', 'm1'] } }, 'target.deviceIds.2'],
    [{ packageId: firmware.id, target: { deviceIds: ['bad/id'] } }, 'target.deviceIds.0'],
    [{ packageId: firmware.id, target: {} }, 'target'],
    [{ packageId: firmware.id, target: { groupId: 'grp_trial', filter: {} } }, 'target'],
    [{ packageId: firmware.id, target: { filter: { protocol: 'coap' } } }, 'target.filter.protocol'],
    [{ packageId: firmware.id, target: { filter: { tags: ['no spaces'] } } }, 'target.filter.tags.0'],
    [{ packageId: firmware.id, target: { filter: { colour: 'red' } } }, 'target.filter'],
    [{ packageId: firmware.id, target: { deviceIds: ['m1'] }, mode: 'continuous' }, 'mode'],
    [{ packageId: firmware.id, target: { deviceIds: ['m1'] }, mode: 'sometimes' }, 'mode'],
    [{ packageId: firmware.id, target: { deviceIds: ['m1'] }, callbackUrl: 'https://x.test' }, '(root)'],
    [{ packageId: firmware.id, deviceIds: ['m1'] }, 'target'],
    [{ target: { deviceIds: ['m1'] } }, 'packageId'],
    [{ packageId: firmware.id, name: ' ', target: { deviceIds: ['m1'] } }, 'name'],
  ])('refuses %j naming %s, and creates nothing', async (body, field) => {
    const response = await createTask(body).expect(400);
    expect(response.body.errors.map((error: { path: string }) => error.path)).toContain(field);
    expect(await rowCounts()).toEqual({ tasks: 0, task_devices: 0 });
    expect(api.temporal.started).toEqual([]);
  });

  it('refuses a list of more than 100,000 devices, naming it', async () => {
    const deviceIds = Array.from({ length: 100_001 }, (_, i) => `d${i}`);
    const response = await createTask({ packageId: firmware.id, target: { deviceIds } }).expect(400);
    expect(response.body.errors).toEqual([
      { path: 'target.deviceIds', message: expect.stringMatching(/100000/) },
    ]);
  }, 60_000);

  it('refuses a filter that matches more than 100,000 devices', async () => {
    await api.db.query(
      `insert into devices (id, protocol, product, model, secret_ciphertext)
       select 'bulk-' || n, 'mqtt', 'meter', 'm1', 'x' from generate_series(1, 100000) n`,
    );
    const response = await createTask({ packageId: firmware.id, target: { filter: {} } }).expect(422);
    expect(response.body.errors).toEqual([
      {
        path: 'target.filter',
        message: "matches more than 100000 devices of the package's product and model",
      },
    ]);
    expect(await rowCounts()).toEqual({ tasks: 0, task_devices: 0 });
    expect(api.temporal.started).toEqual([]);
  }, 120_000);

  it('refuses an unknown package, an unknown group, unknown devices and devices of another model', async () => {
    const unknownPackage = await createTask({ packageId: 'pkg_x', target: { deviceIds: ['m1'] } }).expect(
      422,
    );
    expect(unknownPackage.body.errors).toEqual([{ path: 'packageId', message: 'no such package' }]);

    const unknownGroup = await createTask({ packageId: firmware.id, target: { groupId: 'grp_x' } }).expect(
      422,
    );
    expect(unknownGroup.body.errors).toEqual([{ path: 'target.groupId', message: 'no such group' }]);

    const badDevices = await createTask({
      packageId: firmware.id,
      target: { deviceIds: ['m1', 'ghost', 'other-model'] },
    }).expect(422);
    expect(badDevices.body.errors).toEqual([
      { path: 'target.deviceIds.1', message: 'device ghost does not exist' },
      {
        path: 'target.deviceIds.2',
        message: 'device other-model is meter/m9; the package is for meter/m1',
      },
    ]);
    expect(await rowCounts()).toEqual({ tasks: 0, task_devices: 0 });
    expect(api.temporal.started).toEqual([]);
  });

  it('lists the first 100 unfit devices of a long list and counts them all', async () => {
    const deviceIds = Array.from({ length: 150 }, (_, i) => `ghost-${i}`);
    const response = await createTask({ packageId: firmware.id, target: { deviceIds } }).expect(422);
    expect(response.body.errors).toHaveLength(100);
    expect(response.body.errors[99]).toEqual({
      path: 'target.deviceIds.99',
      message: 'device ghost-99 does not exist',
    });
    expect(response.body.detail).toBe('150 device(s) cannot take this package (the first 100 are listed)');
  });

  it('leaves no task behind when Temporal cannot start the workflow', async () => {
    api.temporal.makeUnavailable();
    const response = await createTask({ packageId: firmware.id, target: { deviceIds: ['m1'] } });
    expect(response.status).toBe(503);
    expect(await rowCounts()).toEqual({ tasks: 0, task_devices: 0 });
  });
});

describe('GET /v1/tasks', () => {
  it('lists tasks page by page, filtered by state', async () => {
    const ids: string[] = [];
    for (const deviceId of ['m1', 'm2', 'nb1']) {
      ids.push(
        (await createTask({ packageId: firmware.id, target: { deviceIds: [deviceId] } }).expect(201)).body.id,
      );
    }
    await request(api.app).post(`/v1/tasks/${ids[1]}/pause`).set(api.auth).expect(200);

    const first = await request(api.app).get('/v1/tasks?limit=2').set(api.auth).expect(200);
    expect(first.body.items.map((task: { id: string }) => task.id)).toEqual(ids.slice(0, 2));
    const rest = await request(api.app)
      .get(`/v1/tasks?limit=2&cursor=${first.body.nextCursor}`)
      .set(api.auth);
    expect(rest.body).toEqual({ items: [expect.objectContaining({ id: ids[2], state: 'running' })] });
    const paused = await request(api.app).get('/v1/tasks?state=paused').set(api.auth).expect(200);
    expect(paused.body.items.map((task: { id: string }) => task.id)).toEqual([ids[1]]);

    const bad = await request(api.app).get('/v1/tasks?state=sleeping').set(api.auth).expect(400);
    expect(bad.body.errors[0].path).toBe('state');
  });
});

describe('task status', () => {
  it('shows the task with live counts per step, outcome and cause', async () => {
    const created = await createTask({ packageId: firmware.id, target: { deviceIds: ['m1', 'm2', 'nb1'] } });
    const taskId: string = created.body.id;
    await recordStep(api.db, taskId, 'm1', 'downloading', '1.0.0', new Date());
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

    const status = await request(api.app).get(`/v1/tasks/${taskId}`).set(api.auth).expect(200);
    expect(status.body).toMatchObject({
      id: taskId,
      state: 'running',
      target: { deviceList: { count: 3 } },
      counts: {
        byStep: { downloading: 1, failed: 1, pending: 1 },
        byOutcome: { failed: 1 },
        byFailureCause: { 'Waiting for the device online timeout': 1 },
      },
    });
    expect(status.body).not.toHaveProperty('callbackUrl');
  });

  it('answers 404 for an unknown task', async () => {
    for (const path of ['', '/devices', '/results.csv', '/events']) {
      await request(api.app).get(`/v1/tasks/task_nope${path}`).set(api.auth).expect(404);
    }
    for (const action of ['pause', 'resume', 'cancel']) {
      await request(api.app).post(`/v1/tasks/task_nope/${action}`).set(api.auth).expect(404);
    }
  });
});

describe('pause, resume and cancel', () => {
  async function newTask(rollout: object = {}) {
    const created = await createTask({
      packageId: firmware.id,
      target: { deviceIds: ['m1'] },
      rollout,
    }).expect(201);
    return created.body.id as string;
  }
  const post = (taskId: string, action: string) =>
    request(api.app).post(`/v1/tasks/${taskId}/${action}`).set(api.auth);

  it('pauses and resumes a running task, signalling its workflow each time', async () => {
    const taskId = await newTask();
    expect((await post(taskId, 'pause').expect(200)).body.state).toBe('paused');
    expect((await post(taskId, 'pause').expect(409)).body.detail).toMatch(
      /is paused; only a scheduled or running/,
    );
    expect((await post(taskId, 'resume').expect(200)).body.state).toBe('running');
    expect((await post(taskId, 'resume').expect(409)).body.detail).toMatch(/only a paused task/);
    const workflowId = `upgrade-task:${taskId}`;
    expect(api.temporal.signalled).toEqual([
      { workflowId, signal: 'pauseTask', args: [] },
      { workflowId, signal: 'resumeTask', args: [] },
    ]);
  });

  it('resumes a paused task that has not reached its start time as scheduled', async () => {
    const taskId = await newTask({ startAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect((await post(taskId, 'pause').expect(200)).body.state).toBe('paused');
    expect((await post(taskId, 'resume').expect(200)).body.state).toBe('scheduled');
  });

  it('leaves the task as it was when Temporal cannot be told', async () => {
    const taskId = await newTask();
    api.temporal.makeUnavailable();
    await post(taskId, 'pause').expect(503);
    await post(taskId, 'cancel').expect(503);
    const task = await request(api.app).get(`/v1/tasks/${taskId}`).set(api.auth).expect(200);
    expect(task.body.state).toBe('running');
  });

  it('cancels a paused task and refuses to pause, resume or cancel it once it has ended', async () => {
    const taskId = await newTask();
    await post(taskId, 'pause').expect(200);
    expect((await post(taskId, 'cancel').expect(202)).body.state).toBe('cancelling');
    await post(taskId, 'pause').expect(409);
    await post(taskId, 'resume').expect(409);
    expect(api.temporal.cancelled).toEqual([`upgrade-task:${taskId}`]);

    await api.db.query(`update tasks set state = 'aborted', finished_at = now()`);
    expect((await post(taskId, 'cancel').expect(409)).body.detail).toMatch(/already aborted/);
    expect(api.temporal.cancelled).toHaveLength(1);
  });

  it('refuses to pause a task created before rollout control', async () => {
    const taskId = await newTask();
    await api.db.query('update tasks set rollout = null, target = null');
    expect((await post(taskId, 'pause').expect(409)).body.detail).toMatch(/predates rollout control/);
    expect((await post(taskId, 'cancel').expect(202)).body.state).toBe('cancelling');
  });
});
