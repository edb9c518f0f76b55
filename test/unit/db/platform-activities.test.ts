import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../../activities';
import type { PlatformActivities } from '../../../activities/interfaces';
import type { Database } from '../../../src/db/database';
import { findDevice, insertDevice, setPresence } from '../../../src/db/devices';
import { insertPackage } from '../../../src/db/packages';
import { findTask, insertTask, listTaskDevices, markTaskCancelling } from '../../../src/db/tasks';
import type { PackageDownloads } from '../../../src/packages/download';
import { emptyTables, openTempDatabase } from './temp-database';

/** An application's callback endpoint on 127.0.0.1 that records what it is sent. */
let callbacks: { body: Record<string, unknown> }[] = [];
let callbackStatus = 200;
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    callbacks.push({ body: JSON.parse(body) });
    res.writeHead(callbackStatus).end();
  });
});
let callbackUrl: string;

let temp: Awaited<ReturnType<typeof openTempDatabase>>;
let db: Database;
let activities: PlatformActivities;

beforeAll(async () => {
  temp = await openTempDatabase();
  db = temp.db;
  const downloads = {} as PackageDownloads;
  activities = createActivities({ db, downloads });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  callbackUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ota-results`;
}, 60_000);

afterAll(async () => {
  server.close();
  await temp.dispose();
});

beforeEach(async () => {
  await emptyTables(db);
  callbacks = [];
  callbackStatus = 200;
  await insertPackage(db, {
    id: 'pkg_sw',
    name: 'app',
    version: '3.0',
    kind: 'software',
    product: 'meter',
    model: 'm1',
    supportedSourceVersions: [],
    fileName: 'app.bin',
    size: 10,
    sha256: 'ef'.repeat(32),
    objectKey: 'packages/pkg_sw',
  });
  await insertDevice(db, {
    id: 'd1',
    protocol: 'mqtt',
    product: 'meter',
    model: 'm1',
    secretCiphertext: 'x',
  });
  await db.transaction((tx) =>
    insertTask(tx, { id: 't1', packageId: 'pkg_sw', deviceIds: ['d1'], toVersion: '3.0', callbackUrl }),
  );
});

describe('registry activities', () => {
  it("reports the device's presence and records steps for the API", async () => {
    expect(await activities.isDeviceOnline('d1')).toBe(false);
    await setPresence(db, 'd1', true, new Date());
    expect(await activities.isDeviceOnline('d1')).toBe(true);
    expect(await activities.isDeviceOnline('unknown')).toBe(false);

    await activities.recordUpgradeStep('t1', 'd1', 'querying-version');
    await activities.recordUpgradeStep('t1', 'd1', 'downloading', { fromVersion: '2.0' });
    const [row] = (await listTaskDevices(db, 't1', { limit: 1 })).items;
    expect(row).toMatchObject({ step: 'downloading', fromVersion: '2.0' });
    expect(row?.startedAt).toBeInstanceOf(Date);
  });
});

describe('notifyDeviceResult', () => {
  const success = {
    taskId: 't1',
    deviceId: 'd1',
    outcome: 'succeeded',
    fromVersion: '2.0',
    toVersion: '3.0',
  } as const;

  it("records the result, updates the device's version and tells the application", async () => {
    await activities.notifyDeviceResult(success);
    const [row] = (await listTaskDevices(db, 't1', { limit: 1 })).items;
    expect(row).toMatchObject({
      step: 'succeeded',
      outcome: 'succeeded',
      fromVersion: '2.0',
      toVersion: '3.0',
    });
    expect((await findDevice(db, 'd1'))?.softwareVersion).toBe('3.0');
    expect(callbacks).toEqual([{ body: { event: 'deviceUpgradeResult', ...success } }]);
  });

  it('records a failure with its cause and detail, and leaves the version alone', async () => {
    await activities.notifyDeviceResult({
      taskId: 't1',
      deviceId: 'd1',
      outcome: 'failed',
      cause: 'Integrity check failure for new downloaded package',
      detail: 'sha256 mismatch',
      toVersion: '3.0',
    });
    const [row] = (await listTaskDevices(db, 't1', { limit: 1 })).items;
    expect(row).toMatchObject({
      step: 'failed',
      failureCause: 'Integrity check failure for new downloaded package',
      failureDetail: 'sha256 mismatch',
    });
    expect((await findDevice(db, 'd1'))?.softwareVersion).toBeNull();
  });

  it('throws when the application refuses the callback, so Temporal retries; the retry is harmless', async () => {
    callbackStatus = 500;
    await expect(activities.notifyDeviceResult(success)).rejects.toThrow(/answered 500/);
    callbackStatus = 200;
    await activities.notifyDeviceResult(success);
    expect(callbacks).toHaveLength(2);
    expect((await listTaskDevices(db, 't1', { limit: 1 })).items[0]?.outcome).toBe('succeeded');
  });
});

describe('notifyTaskCompleted', () => {
  const summary = { taskId: 't1', total: 1, succeeded: 1, failed: 0, cancelled: 0 };

  it('marks the task completed and tells the application', async () => {
    await activities.notifyTaskCompleted(summary);
    expect(await findTask(db, 't1')).toMatchObject({ state: 'completed' });
    expect(callbacks).toEqual([{ body: { event: 'taskCompleted', state: 'completed', ...summary } }]);
  });

  it('marks a task being cancelled as cancelled', async () => {
    await markTaskCancelling(db, 't1');
    await activities.notifyTaskCompleted({ ...summary, succeeded: 0, cancelled: 1 });
    expect(await findTask(db, 't1')).toMatchObject({ state: 'cancelled' });
    expect(callbacks[0]?.body.state).toBe('cancelled');
  });
});
