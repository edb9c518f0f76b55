import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/db/database';
import { insertDevice } from '../../../src/db/devices';
import { insertPackage, type NewPackage } from '../../../src/db/packages';
import {
  findUnfitListedDevices,
  groupExists,
  insertListedTaskDevices,
  insertMatchingTaskDevices,
  insertResolvedTaskDevices,
  maxTaskDevices,
} from '../../../src/db/task-targets';
import { findTask, insertTask, type StoredTaskTarget } from '../../../src/db/tasks';
import type { TargetMode } from '../../../workflows/rollout/definitions';
import { emptyTables, openTempDatabase } from './temp-database';

let temp: Awaited<ReturnType<typeof openTempDatabase>>;
let db: Database;

beforeAll(async () => {
  temp = await openTempDatabase();
  db = temp.db;
}, 60_000);
afterAll(() => temp.dispose());

const firmware: NewPackage = {
  id: 'pkg_fw',
  name: 'meter firmware',
  version: '2.0.0',
  kind: 'firmware',
  product: 'meter',
  model: 'm1',
  supportedSourceVersions: [],
  fileName: 'fw.bin',
  size: 10,
  sha256: 'ab'.repeat(32),
  objectKey: 'packages/pkg_fw',
};

async function addDevice(
  id: string,
  options: {
    protocol?: 'mqtt' | 'lwm2m';
    model?: string;
    firmware?: string;
    software?: string;
    tags?: string[];
  },
) {
  await insertDevice(db, {
    id,
    protocol: options.protocol ?? 'mqtt',
    product: 'meter',
    model: options.model ?? 'm1',
    secretCiphertext: 'x',
    tags: options.tags ?? [],
  });
  await db.query('update devices set firmware_version = $2, software_version = $3 where id = $1', [
    id,
    options.firmware ?? null,
    options.software ?? null,
  ]);
}

async function addTask(id: string, target: StoredTaskTarget, mode: TargetMode = 'snapshot') {
  await insertTask(db, {
    id,
    packageId: firmware.id,
    target,
    mode,
    rollout: { maxInProgress: 100 },
    state: 'running',
  });
}

/** The task's rows in start order. */
async function taskRows(taskId: string) {
  const { rows } = await db.query<{ device_id: string; step: string; to_version: string }>(
    'select device_id, step, to_version from task_devices where task_id = $1 order by seq',
    [taskId],
  );
  return rows;
}

const deviceIdsOf = async (taskId: string) => (await taskRows(taskId)).map((row) => row.device_id);

beforeEach(async () => {
  await emptyTables(db);
  await insertPackage(db, firmware);
  await addDevice('a-mqtt', { firmware: '1.0.0', tags: ['eu', 'canary'] });
  await addDevice('b-nb', { protocol: 'lwm2m', firmware: '1.0.0', software: '9.9', tags: ['eu'] });
  await addDevice('c-mqtt', { firmware: '1.5.0', software: '1.0.0', tags: ['us'] });
  await addDevice('d-other', { model: 'm9', firmware: '1.0.0', tags: ['eu', 'canary'] });
  await db.query(`insert into device_groups (id, name) values ('grp_1', 'field trial')`);
  await db.query(
    `insert into device_group_members (group_id, device_id) values
      ('grp_1', 'c-mqtt'), ('grp_1', 'a-mqtt'), ('grp_1', 'd-other')`,
  );
});

describe('device lists', () => {
  it('inserts a pending row per device in list order and counts them on the task', async () => {
    await addTask('t1', { deviceList: { count: 3 } });
    expect(await insertListedTaskDevices(db, 't1', ['c-mqtt', 'a-mqtt', 'b-nb'])).toBe(3);
    expect(await taskRows('t1')).toEqual([
      { device_id: 'c-mqtt', step: 'pending', to_version: '2.0.0' },
      { device_id: 'a-mqtt', step: 'pending', to_version: '2.0.0' },
      { device_id: 'b-nb', step: 'pending', to_version: '2.0.0' },
    ]);
    expect((await findTask(db, 't1'))?.deviceCount).toBe(3);
  });

  it('names unknown devices and devices of another model by their position, the first ones only', async () => {
    const list = ['a-mqtt', 'ghost', 'd-other', 'b-nb', 'ghost-2'];
    expect(await findUnfitListedDevices(db, firmware.id, list, 2)).toEqual({
      unfit: [
        { index: 1, deviceId: 'ghost', product: null, model: null },
        { index: 2, deviceId: 'd-other', product: 'meter', model: 'm9' },
      ],
      total: 3,
    });
    expect(await findUnfitListedDevices(db, firmware.id, ['a-mqtt', 'b-nb'], 2)).toEqual({
      unfit: [],
      total: 0,
    });
  });
});

describe('groups and filters', () => {
  it("resolves a group to its members of the package's product and model, in device ID order", async () => {
    await addTask('t1', { groupId: 'grp_1' });
    expect(await insertResolvedTaskDevices(db, 't1')).toBe(2);
    expect(await deviceIdsOf('t1')).toEqual(['a-mqtt', 'c-mqtt']);
    expect((await findTask(db, 't1'))?.deviceCount).toBe(2);
    expect(await groupExists(db, 'grp_1')).toBe(true);
    expect(await groupExists(db, 'grp_none')).toBe(false);
  });

  it.each([
    [{}, ['a-mqtt', 'b-nb', 'c-mqtt']],
    [{ protocol: 'lwm2m' }, ['b-nb']],
    [{ currentVersion: '1.0.0' }, ['a-mqtt', 'b-nb']],
    [{ tags: ['eu', 'canary'] }, ['a-mqtt']],
    [{ protocol: 'mqtt', tags: ['eu'] }, ['a-mqtt']],
    [{ currentVersion: '3.0.0' }, []],
  ] as const)('resolves the filter %j to %j', async (filter, expected) => {
    await addTask('t1', { filter: { ...filter, tags: 'tags' in filter ? [...filter.tags] : undefined } });
    expect(await insertResolvedTaskDevices(db, 't1')).toBe(expected.length);
    expect(await deviceIdsOf('t1')).toEqual(expected);
  });

  it('compares a software package against software versions', async () => {
    const software = { ...firmware, id: 'pkg_sw', kind: 'software' as const, objectKey: 'packages/pkg_sw' };
    await insertPackage(db, software);
    await insertTask(db, {
      id: 't1',
      packageId: software.id,
      target: { filter: { currentVersion: '1.0.0' } },
      mode: 'snapshot',
      rollout: { maxInProgress: 100 },
      state: 'running',
    });
    expect(await insertResolvedTaskDevices(db, 't1')).toBe(1);
    expect(await deviceIdsOf('t1')).toEqual(['c-mqtt']);
  });

  it('resolves one more than the limit at most, so the caller can refuse the task', async () => {
    await db.query(
      `insert into devices (id, protocol, product, model, secret_ciphertext)
       select 'bulk-' || lpad(n::text, 6, '0'), 'mqtt', 'meter', 'm1', 'x' from generate_series(1, $1) n`,
      [maxTaskDevices + 5],
    );
    await addTask('t1', { filter: {} });
    expect(await insertResolvedTaskDevices(db, 't1')).toBe(maxTaskDevices + 1);
  }, 120_000);
});

describe('continuous tasks', () => {
  it('adds the devices that match later, once each', async () => {
    await addTask('t1', { groupId: 'grp_1' }, 'continuous');
    await insertResolvedTaskDevices(db, 't1');
    expect(await insertMatchingTaskDevices(db, 't1')).toBe(0);

    await addDevice('e-new', { firmware: '1.0.0' });
    await db.query(`insert into device_group_members (group_id, device_id) values ('grp_1', 'e-new')`);
    await db.query(`update tasks set state = 'paused' where id = 't1'`);
    expect(await insertMatchingTaskDevices(db, 't1')).toBe(1);
    expect(await insertMatchingTaskDevices(db, 't1')).toBe(0);
    expect(await deviceIdsOf('t1')).toEqual(['a-mqtt', 'c-mqtt', 'e-new']);
    expect((await findTask(db, 't1'))?.deviceCount).toBe(3);
  });

  it('adds nothing to a task that has ended, nor to a device-list task', async () => {
    await addTask('t-ended', { filter: { tags: ['eu'] } }, 'continuous');
    await db.query(`update tasks set state = 'cancelling' where id = 't-ended'`);
    expect(await insertMatchingTaskDevices(db, 't-ended')).toBe(0);

    await addTask('t-list', { deviceList: { count: 1 } });
    await insertListedTaskDevices(db, 't-list', ['a-mqtt']);
    expect(await insertMatchingTaskDevices(db, 't-list')).toBe(0);
    expect(await deviceIdsOf('t-list')).toEqual(['a-mqtt']);
    expect(await insertMatchingTaskDevices(db, 'no-such-task')).toBe(0);
  });

  it('stops at the device limit', async () => {
    await addTask('t1', { filter: { tags: ['eu'] } }, 'continuous');
    await db.query(`update tasks set device_count = $1 where id = 't1'`, [maxTaskDevices - 1]);
    expect(await insertMatchingTaskDevices(db, 't1')).toBe(1);
    expect(await deviceIdsOf('t1')).toEqual(['a-mqtt']);
    expect(await insertMatchingTaskDevices(db, 't1')).toBe(0);
  });
});
