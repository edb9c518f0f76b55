import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/db/database';
import { createDeviceRegistry } from '../../../src/db/device-registry';
import {
  findDevice,
  insertDevice,
  listDevices,
  recordInstalledVersion,
  recordVersions,
  setPresence,
} from '../../../src/db/devices';
import { findPackage, insertPackage, type NewPackage } from '../../../src/db/packages';
import { insertListedTaskDevices } from '../../../src/db/task-targets';
import {
  countTaskDevices,
  findTask,
  finishTask,
  insertTask,
  listTaskDevices,
  listTasks,
  markTaskCancelling,
  recordDeviceResult,
  recordStep,
  setTaskState,
} from '../../../src/db/tasks';
import { createSecretBox } from '../../../src/devices/secrets';
import { emptyTables, openTempDatabase } from './temp-database';

const secrets = createSecretBox(Buffer.alloc(32, 7));

let temp: Awaited<ReturnType<typeof openTempDatabase>>;
let db: Database;

beforeAll(async () => {
  temp = await openTempDatabase();
  db = temp.db;
}, 60_000);
afterAll(() => temp.dispose());
beforeEach(() => emptyTables(db));

async function addDevice(id: string, secret = 'device-secret') {
  return insertDevice(db, {
    id,
    protocol: 'mqtt',
    product: 'meter',
    model: 'm1',
    secretCiphertext: secrets.encrypt(secret),
  });
}

const firmware: NewPackage = {
  id: 'pkg_1',
  name: 'meter firmware',
  version: '2.0.0',
  kind: 'firmware',
  product: 'meter',
  model: 'm1',
  supportedSourceVersions: ['1.0.0', '1.1.0'],
  fileName: 'fw.bin',
  size: 5_000_000_000,
  sha256: 'ab'.repeat(32),
  objectKey: 'packages/pkg_1',
};

async function addTask(taskId: string, deviceIds: string[]) {
  await db.transaction(async (tx) => {
    await insertTask(tx, {
      id: taskId,
      packageId: firmware.id,
      target: { deviceList: { count: deviceIds.length } },
      mode: 'snapshot',
      rollout: { maxInProgress: 100 },
      state: 'running',
    });
    await insertListedTaskDevices(tx, taskId, deviceIds);
  });
  const task = await findTask(db, taskId);
  if (!task) throw new Error(`task ${taskId} was not created`);
  return task;
}

describe('devices', () => {
  it('inserts a device once and refuses a second with the same ID', async () => {
    const device = await addDevice('d1');
    expect(device).toMatchObject({ id: 'd1', protocol: 'mqtt', online: false, lastSeenAt: null });
    expect(await addDevice('d1')).toBeUndefined();
  });

  it('pages through devices in ID order', async () => {
    for (const id of ['d3', 'd1', 'd2']) await addDevice(id);
    const first = await listDevices(db, { limit: 2 });
    expect(first.items.map((d) => d.id)).toEqual(['d1', 'd2']);
    expect(first.nextCursor).toBe('d2');
    const second = await listDevices(db, { limit: 2, cursor: first.nextCursor });
    expect(second.items.map((d) => d.id)).toEqual(['d3']);
    expect(second.nextCursor).toBeUndefined();
  });

  it('keeps presence and the versions each report names', async () => {
    await addDevice('d1');
    const at = new Date('2026-01-02T03:04:05Z');
    await setPresence(db, 'd1', true, at);
    await recordVersions(db, 'd1', { softwareVersion: 's1', firmwareVersion: 'f1' }, at);
    await recordVersions(db, 'd1', { firmwareVersion: 'f2' }, at);
    expect(await findDevice(db, 'd1')).toMatchObject({
      online: true,
      lastSeenAt: at,
      softwareVersion: 's1',
      firmwareVersion: 'f2',
    });
  });

  it('applies presence changes in the order the broker saw them, and uplinks only where it has not seen them', async () => {
    await addDevice('d1');
    const connected = new Date('2026-01-02T03:00:00Z');
    const sent = new Date('2026-01-02T03:04:05.000Z');
    const left = new Date('2026-01-02T03:04:05.020Z');
    await setPresence(db, 'd1', true, connected);
    // The device sent its result and disconnected; the disconnection was recorded first.
    await setPresence(db, 'd1', false, left);
    const registry = createDeviceRegistry(db, secrets);
    expect(await registry.markSeen('d1', sent)).toEqual({ cameOnline: false });
    expect(await findDevice(db, 'd1')).toMatchObject({ online: false, lastSeenAt: left });
    // Its connect, recorded late by another gateway, is older than the disconnection.
    await setPresence(db, 'd1', true, connected);
    expect(await findDevice(db, 'd1')).toMatchObject({ online: false, lastSeenAt: left });
    // Heard from an hour later: it came back while no gateway heard its connect.
    const back = new Date('2026-01-02T04:00:00Z');
    expect(await registry.markSeen('d1', back)).toEqual({ cameOnline: true });
    expect(await findDevice(db, 'd1')).toMatchObject({ online: true, lastSeenAt: back });
    await setPresence(db, 'd1', false, new Date('2026-01-02T04:00:01Z'));
    expect(await findDevice(db, 'd1')).toMatchObject({ online: false });

    // A device the broker never reported on (no presence events) is online from its first uplink.
    await addDevice('d2');
    expect(await registry.markSeen('d2', sent)).toEqual({ cameOnline: true });
    expect(await findDevice(db, 'd2')).toMatchObject({ online: true, lastSeenAt: sent });
  });

  it("records the installed version under the package's kind", async () => {
    await addDevice('d1');
    await insertPackage(db, firmware);
    await insertPackage(db, { ...firmware, id: 'pkg_sw', kind: 'software', objectKey: 'packages/pkg_sw' });
    const at = new Date('2026-01-02T03:04:05Z');
    await recordVersions(db, 'd1', { softwareVersion: 's1', firmwareVersion: 'f1' }, at);
    await recordInstalledVersion(db, 'd1', firmware.id, 'f9', at);
    expect(await findDevice(db, 'd1')).toMatchObject({ softwareVersion: 's1', firmwareVersion: 'f9' });
    await recordInstalledVersion(db, 'd1', 'pkg_sw', 's9', at);
    expect(await findDevice(db, 'd1')).toMatchObject({ softwareVersion: 's9', firmwareVersion: 'f9' });
  });
});

describe('packages', () => {
  it('stores a package with a size beyond 32 bits and its source versions', async () => {
    await insertPackage(db, firmware);
    expect(await findPackage(db, 'pkg_1')).toMatchObject({
      size: 5_000_000_000,
      supportedSourceVersions: ['1.0.0', '1.1.0'],
    });
  });

  it('refuses a second package with the same product, model, kind and version', async () => {
    await insertPackage(db, firmware);
    expect(
      await insertPackage(db, { ...firmware, id: 'pkg_2', objectKey: 'packages/pkg_2' }),
    ).toBeUndefined();
    expect(
      await insertPackage(db, { ...firmware, id: 'pkg_3', kind: 'software', objectKey: 'x' }),
    ).toBeDefined();
  });
});

describe('tasks', () => {
  beforeEach(async () => {
    await insertPackage(db, firmware);
    for (const id of ['d1', 'd2', 'd3']) await addDevice(id);
  });

  it('creates a running task with a pending row per device', async () => {
    const task = await addTask('t1', ['d1', 'd2', 'd3']);
    expect(task).toMatchObject({
      state: 'running',
      stateReason: null,
      target: { deviceList: { count: 3 } },
      mode: 'snapshot',
      rollout: { maxInProgress: 100 },
      deviceCount: 3,
      finishedAt: null,
    });
    const devices = await listTaskDevices(db, 't1', { limit: 10 });
    expect(devices.items.map((d) => [d.deviceId, d.step, d.toVersion])).toEqual([
      ['d1', 'pending', '2.0.0'],
      ['d2', 'pending', '2.0.0'],
      ['d3', 'pending', '2.0.0'],
    ]);
  });

  it('counts devices per step, outcome and failure cause', async () => {
    await addTask('t1', ['d1', 'd2', 'd3']);
    await recordStep(db, 't1', 'd1', 'downloading', '1.0.0', new Date());
    await recordDeviceResult(
      db,
      {
        taskId: 't1',
        deviceId: 'd2',
        outcome: 'failed',
        cause: 'Firmware update failed',
        toVersion: '2.0.0',
      },
      new Date(),
    );
    expect(await countTaskDevices(db, 't1')).toEqual({
      byStep: { downloading: 1, failed: 1, pending: 1 },
      byOutcome: { failed: 1 },
      byFailureCause: { 'Firmware update failed': 1 },
    });
  });

  it('keeps the first result when it is written again, and ignores steps after it', async () => {
    await addTask('t1', ['d1']);
    const result = {
      taskId: 't1',
      deviceId: 'd1',
      outcome: 'succeeded',
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    } as const;
    await recordDeviceResult(db, result, new Date('2026-01-01T00:00:00Z'));
    await recordDeviceResult(db, result, new Date('2026-01-01T00:05:00Z'));
    await recordStep(db, 't1', 'd1', 'downloading', undefined, new Date());
    const [row] = (await listTaskDevices(db, 't1', { limit: 1 })).items;
    expect(row).toMatchObject({
      step: 'succeeded',
      outcome: 'succeeded',
      fromVersion: '1.0.0',
      finishedAt: new Date('2026-01-01T00:00:00Z'),
    });
  });

  it('ends a task being cancelled as cancelled, and any other as completed', async () => {
    await addTask('t1', ['d1']);
    await addTask('t2', ['d2']);
    expect(await markTaskCancelling(db, 't1')).toMatchObject({ state: 'cancelling' });
    expect(await markTaskCancelling(db, 't1')).toBeUndefined();
    expect(await finishTask(db, 't1', new Date())).toMatchObject({ state: 'cancelled' });
    expect(await finishTask(db, 't2', new Date())).toMatchObject({ state: 'completed' });
    expect((await findTask(db, 't2'))?.finishedAt).toBeInstanceOf(Date);
  });

  it('moves a task between states only from the states given', async () => {
    await addTask('t1', ['d1']);
    await db.query(`update tasks set state_reason = 'why' where id = 't1'`);
    expect(await setTaskState(db, 't1', ['paused'], 'running')).toBeUndefined();
    expect(await setTaskState(db, 't1', ['scheduled', 'running'], 'paused')).toMatchObject({
      state: 'paused',
      stateReason: null,
    });
    expect(await markTaskCancelling(db, 't1')).toMatchObject({ state: 'cancelling' });
    expect(await setTaskState(db, 't1', ['scheduled', 'running', 'paused'], 'running')).toBeUndefined();
  });

  it('lists tasks in creation order, in one state or of one package if asked, page by page', async () => {
    for (const id of ['t1', 't2', 't3']) await addTask(id, ['d1']);
    await markTaskCancelling(db, 't2');
    const first = await listTasks(db, { limit: 2 });
    expect(first.items.map((task) => task.id)).toEqual(['t1', 't2']);
    const rest = await listTasks(db, { limit: 2, cursor: first.nextCursor });
    expect(rest).toEqual({ items: [expect.objectContaining({ id: 't3' })] });
    const running = await listTasks(db, { limit: 10, state: 'running' });
    expect(running.items.map((task) => task.id)).toEqual(['t1', 't3']);
    expect((await listTasks(db, { limit: 10, packageId: firmware.id })).items).toHaveLength(3);
    expect(await listTasks(db, { limit: 10, packageId: 'pkg_other' })).toEqual({ items: [] });
  });

  it("lists a task's devices in start order, filtered by step, outcome or cause", async () => {
    await addTask('t1', ['d3', 'd1', 'd2']);
    await recordStep(db, 't1', 'd1', 'downloading', '1.0.0', new Date());
    const failure = { taskId: 't1', outcome: 'failed', toVersion: '2.0.0' } as const;
    const at = new Date();
    await recordDeviceResult(db, { ...failure, deviceId: 'd2', cause: 'Firmware update failed' }, at);
    await recordDeviceResult(db, { ...failure, deviceId: 'd3', cause: 'Invalid URI' }, at);
    const ids = async (query: Parameters<typeof listTaskDevices>[2]) =>
      (await listTaskDevices(db, 't1', query)).items.map((device) => device.deviceId);

    const first = await listTaskDevices(db, 't1', { limit: 2 });
    expect(first.items.map((device) => device.deviceId)).toEqual(['d3', 'd1']);
    expect(await ids({ limit: 2, cursor: first.nextCursor })).toEqual(['d2']);
    expect(await ids({ limit: 10, step: 'downloading' })).toEqual(['d1']);
    expect(await ids({ limit: 10, outcome: 'failed' })).toEqual(['d3', 'd2']);
    expect(await ids({ limit: 10, failureCause: 'Invalid URI' })).toEqual(['d3']);
    expect(first.items[0]).toMatchObject({ attempts: 0, retryAt: null, failureCause: 'Invalid URI' });
  });
});

describe('device registry', () => {
  it('gives back the decrypted secret, and nothing for an unknown device', async () => {
    await addDevice('d1', 'hunter2-secret');
    const registry = createDeviceRegistry(db, secrets);
    expect(await registry.getDeviceSecret('d1')).toBe('hunter2-secret');
    expect(await registry.getDeviceSecret('nobody')).toBeUndefined();
    const { rows } = await db.query<{ secret_ciphertext: string }>('select secret_ciphertext from devices');
    expect(rows[0]?.secret_ciphertext).not.toContain('hunter2');
  });

  it('records presence and progress of the upgrade in flight only', async () => {
    await insertPackage(db, firmware);
    await addDevice('d1');
    await addTask('t-old', ['d1']);
    await recordDeviceResult(
      db,
      {
        taskId: 't-old',
        deviceId: 'd1',
        outcome: 'failed',
        cause: 'Firmware update failed',
        toVersion: '2.0.0',
      },
      new Date(),
    );
    await addTask('t-new', ['d1']);
    await recordStep(db, 't-new', 'd1', 'downloading', '1.0.0', new Date());
    const registry = createDeviceRegistry(db, secrets);
    expect(await registry.markSeen('d1', new Date())).toEqual({ cameOnline: true });
    expect(await registry.markSeen('d1', new Date())).toEqual({ cameOnline: false });
    expect(await registry.markSeen('nobody', new Date())).toBeUndefined();
    await registry.recordUpgradeProgress('d1', 40, 'downloading', new Date());
    expect(await registry.isOnline('d1')).toBe(true);
    const [inFlight] = (await listTaskDevices(db, 't-new', { limit: 1 })).items;
    const [finished] = (await listTaskDevices(db, 't-old', { limit: 1 })).items;
    expect(inFlight).toMatchObject({ progress: 40, progressDescription: 'downloading' });
    expect(finished?.progress).toBeNull();
  });
});
