import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { insertFirmwareAndMeters, startTestApi } from './test-api';

/**
 * `POST /v1/tasks/preview`: the console's "how many devices does this target match" before an
 * operator creates the task. Same body and checks as a creation; nothing is created.
 */
let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());
beforeEach(async () => {
  await api.reset();
  await insertFirmwareAndMeters(api.db, ['meter-1', 'meter-2', 'meter-3']);
  await api.db.query(`update devices set tags = '{canary}' where id in ('meter-2', 'meter-3')`);
});

const preview = (body: object) => request(api.app).post('/v1/tasks/preview').set(api.auth).send(body);

describe('a task preview', () => {
  it('counts the devices a target matches and names the first, creating nothing', async () => {
    const all = await preview({ packageId: 'pkg_1', target: { filter: {} } }).expect(200);
    expect(all.body).toEqual({ deviceCount: 3, firstDeviceIds: ['meter-1', 'meter-2', 'meter-3'] });
    const canaries = await preview({ packageId: 'pkg_1', target: { filter: { tags: ['canary'] } } }).expect(
      200,
    );
    expect(canaries.body.deviceCount).toBe(2);
    const listed = await preview({
      packageId: 'pkg_1',
      target: { deviceIds: ['meter-3', 'meter-1'] },
    }).expect(200);
    expect(listed.body).toEqual({ deviceCount: 2, firstDeviceIds: ['meter-3', 'meter-1'] });

    expect((await request(api.app).get('/v1/tasks').set(api.auth)).body.items).toEqual([]);
    expect((await api.db.query('select 1 from task_devices')).rows).toEqual([]);
    expect(api.temporal.started).toEqual([]);
  });

  it('answers what a creation would: the field that is wrong, the device that does not fit', async () => {
    const invalid = await preview({
      packageId: 'pkg_1',
      target: { filter: {} },
      rollout: { maxInProgress: 0 },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors).toEqual([expect.objectContaining({ path: 'rollout.maxInProgress' })]);
    const unknown = await preview({ packageId: 'pkg_1', target: { deviceIds: ['meter-1', 'nobody'] } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors).toEqual([expect.objectContaining({ path: 'target.deviceIds.1' })]);
    const noPackage = await preview({ packageId: 'pkg_none', target: { filter: {} } });
    expect(noPackage.status).toBe(422);
    expect(noPackage.body.errors).toEqual([{ path: 'packageId', message: 'no such package' }]);
  });
});
