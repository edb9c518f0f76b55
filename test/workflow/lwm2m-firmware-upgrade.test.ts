/**
 * Seed 000, firmware upgrade of an NB-IoT device over LwM2M, on the time-skipping test server with
 * the seed's real timeouts (24 h, 3 min, 60 min, 30 min are skipped, not shortened), and the real
 * cell limiter.
 */
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deviceDisabledSignal,
  deviceOnlineSignal,
  deviceOperationWorkflowId,
  deviceUpgradeSearchAttributes,
  deviceUpgradeStatusQuery,
  OtaSearchAttributes,
  TaskQueue,
  type UpgradeStep,
} from '../../workflows/definitions';
import { cellLimiterStateQuery, cellLimiterWorkflowId } from '../../workflows/lwm2m/definitions';
import { lwm2mFirmwareUpgrade } from '../../workflows/lwm2m/firmware-upgrade';
import { timeSkippingEnv } from '../support/stack/time-skipping';
import { recordHistory } from './history-recorder';
import {
  type FakeLwm2mDevice,
  GATEWAY_ID,
  Lwm2mFakeFleet,
  OTHER_GATEWAY_ID,
  runLwm2mWorkers,
} from './lwm2m-fake-fleet';
import { describeCost, lwm2mUpgradeCost } from './lwm2m-upgrade-cost';
import { packageOf } from './packages';
import { lockedClient, untilWaitingOnTimer } from './server-time';

const HOUR = 60 * 60 * 1000;
const MINUTE = 60 * 1000;
const taskId = 'task-lwm2m';
const pkg = packageOf('firmware');

let env: TestWorkflowEnvironment;
let client: Client;
let fleet: Lwm2mFakeFleet;
let stopWorkers: () => Promise<void>;

/** What a successful upgrade may cost in Temporal actions, its cell permit included. */
const MAX_SUCCESS_ACTIONS = 16;

beforeAll(async () => {
  env = await timeSkippingEnv();
  client = lockedClient(env);
  fleet = new Lwm2mFakeFleet(lockedClient(env));
  stopWorkers = await runLwm2mWorkers(env, fleet);
});

afterAll(async () => {
  await stopWorkers?.();
  await env?.teardown();
});

/** Started as a client would; `withSearchAttributes` starts it as the task workflows do. */
function startUpgrade(deviceId: string, { withSearchAttributes = false } = {}) {
  const input = fleet.upgradeInput(deviceId, pkg, taskId);
  return client.workflow.start(lwm2mFirmwareUpgrade, {
    workflowId: deviceOperationWorkflowId(deviceId),
    taskQueue: TaskQueue.platform,
    args: [input],
    typedSearchAttributes: withSearchAttributes ? deviceUpgradeSearchAttributes(input) : undefined,
  });
}

async function upgrade(overrides: Partial<FakeLwm2mDevice> = {}) {
  const deviceId = fleet.addDevice(overrides);
  const handle = await startUpgrade(deviceId);
  return { deviceId, handle, result: await handle.result() };
}

/**
 * Runs an upgrade left waiting at `step` on the seed timeout `timeoutMs` (after `before`, the
 * timeouts it waited out first): one minute before it the upgrade still waits, at it the upgrade ends.
 */
async function upgradeUntilTimeout(
  overrides: Partial<FakeLwm2mDevice>,
  step: UpgradeStep,
  timeoutMs: number,
  before: number[] = [],
) {
  const deviceId = fleet.addDevice(overrides);
  const handle = await startUpgrade(deviceId);
  for (const earlier of before) {
    await untilWaitingOnTimer(handle, earlier);
    await env.sleep(earlier);
  }
  await untilWaitingOnTimer(handle, timeoutMs);
  await env.sleep(timeoutMs - MINUTE);
  expect((await handle.query(deviceUpgradeStatusQuery)).step).toBe(step);
  await env.sleep(MINUTE);
  return { deviceId, handle, result: await handle.result() };
}

async function expectCellFree(deviceId: string) {
  const cellId = String(fleet.device(deviceId).resources['/4/0/8']);
  const limiter = client.workflow.getHandle(cellLimiterWorkflowId(cellId));
  expect(await limiter.query(cellLimiterStateQuery)).toEqual({ cellId, holders: [], queue: [] });
}

describe('LwM2M firmware upgrade, seed 000', () => {
  it('upgrades a device in the seed order: version, radio query, permit, observe, URI, update, result and version check', async () => {
    const { deviceId, handle, result } = await upgrade();

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'succeeded',
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    expect(fleet.resultsNotifiedFor(deviceId)).toEqual([result]);
    expect(fleet.commandsTo(deviceId)).toEqual([
      { command: 'lwm2mRead', paths: ['/3/0/3'] },
      { command: 'lwm2mRead', paths: ['/4/0/8', '/4/0/2', '/4/0/11'] },
      { command: 'lwm2mObserve', paths: ['/5/0/3', '/5/0/5'] },
      { command: 'lwm2mPackageUri', paths: [] },
      {
        command: 'lwm2mWrite',
        paths: ['/5/0/1'],
        value: 'coap://gateway-1.test/packages/firmware-2.0.0/a3a3a3a3',
      },
      { command: 'lwm2mExecute', paths: ['/5/0/2'] },
      { command: 'lwm2mRead', paths: ['/5/0/5', '/3/0/3'] },
      { command: 'lwm2mCancelObservation', paths: ['/5/0/3', '/5/0/5'] },
    ]);
    expect(fleet.permitLimitsOf(deviceId)).toEqual([50]);
    await expectCellFree(deviceId);
    expect(await handle.query(deviceUpgradeStatusQuery)).toEqual({ step: 'succeeded', result });
    const { searchAttributes } = await handle.describe();
    expect(searchAttributes).toMatchObject({
      [OtaSearchAttributes.deviceId.name]: [deviceId],
      [OtaSearchAttributes.step.name]: ['succeeded'],
    });
    await recordHistory(`0.1.0/lwm2m-firmware-success`, handle);
  });

  it(`costs at most ${MAX_SUCCESS_ACTIONS} Temporal actions for a successful upgrade, its cell permit included`, async () => {
    // In a cell where another device holds a permit, as in a rollout: the limiter runs already.
    const holder = fleet.addDevice({ onPackageUri: [], resources: { '/4/0/8': 'busy-cell-firmware' } });
    const holding = await startUpgrade(holder);
    await untilWaitingOnTimer(holding, 60 * MINUTE);
    const deviceId = fleet.addDevice({ resources: { '/4/0/8': 'busy-cell-firmware' } });
    const handle = await startUpgrade(deviceId, { withSearchAttributes: true });

    expect((await handle.result()).outcome).toBe('succeeded');
    const cost = await lwm2mUpgradeCost(client, handle, 'busy-cell-firmware');
    expect(cost.actions, describeCost(cost)).toBeLessThanOrEqual(MAX_SUCCESS_ACTIONS);
    expect((await handle.describe()).searchAttributes).toMatchObject({
      [OtaSearchAttributes.taskId.name]: [taskId],
      [OtaSearchAttributes.deviceId.name]: [deviceId],
      [OtaSearchAttributes.packageVersion.name]: ['2.0.0'],
      [OtaSearchAttributes.step.name]: ['succeeded'],
    });
    await holding.cancel();
    expect(await holding.result()).toMatchObject({ outcome: 'cancelled' });
  });

  it('marks a device already on the target version successful without a radio query or a permit', async () => {
    const { deviceId, result } = await upgrade({ resources: { '/3/0/3': '2.0.0' } });

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'already-latest',
      fromVersion: '2.0.0',
      toVersion: '2.0.0',
    });
    expect(fleet.commandsTo(deviceId)).toEqual([{ command: 'lwm2mRead', paths: ['/3/0/3'] }]);
    expect(fleet.permitRequests.filter((p) => p.request.deviceId === deviceId)).toEqual([]);
  });

  it('waits for an offline device and upgrades it when it registers 10 hours later', async () => {
    const deviceId = fleet.addDevice({ online: false });
    const handle = await startUpgrade(deviceId);
    await untilWaitingOnTimer(handle, 24 * HOUR);
    await env.sleep(10 * HOUR);
    expect(await handle.query(deviceUpgradeStatusQuery)).toEqual({ step: 'waiting-online' });

    await handle.signal(deviceOnlineSignal);

    expect(await handle.result()).toMatchObject({ outcome: 'succeeded' });
    expect(fleet.stepsOf(deviceId)[0]).toBe('waiting-online');
  });

  it('gives up on a device that stays offline for 24 hours', async () => {
    const { deviceId, result } = await upgradeUntilTimeout({ online: false }, 'waiting-online', 24 * HOUR);

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'failed',
      cause: 'Waiting for the device online timeout',
      toVersion: '2.0.0',
    });
    expect(fleet.resultsNotifiedFor(deviceId)).toEqual([result]);
  });

  it('fails when the device does not report its firmware version within 3 minutes', async () => {
    const { result } = await upgradeUntilTimeout({ silent: ['/3/0/3'] }, 'querying-version', 3 * MINUTE);

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Waiting for report device firmware version timeout',
    });
    expect(result.detail).toBeUndefined();
  });

  it("fails at once with the seed's cause and the device's refusal as the detail when it refuses the version read", async () => {
    const { result } = await upgrade({ lacking: ['/3/0/3'] });

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Waiting for report device firmware version timeout',
      detail: 'device answered 4.04 to GET /3/0/3 with Accept 0 (text/plain)',
    });
  });

  it("names the device's refusal of the cell ID read in the detail", async () => {
    const { result } = await upgrade({ lacking: ['/4/0/8'] });

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Waiting for report cellId timeout',
      detail: 'device answered 4.04 to GET /4/0/8 with Accept 0 (text/plain)',
      fromVersion: '1.0.0',
    });
  });

  it.each([
    ['RSRP and SINR in range 0', -90, 10, 50],
    ['RSRP in range 0 and SINR in range 1', -100, 0, 10],
    ['RSRP in range 1 and SINR in range 2', -110, -5, 1],
    ['RSRP and SINR outside the listed combinations', -125, -10, 1],
  ])('asks the cell for its limit from the coverage: %s → %i', async (_, rsrp, sinr, limit) => {
    const { deviceId, result } = await upgrade({ resources: { '/4/0/2': rsrp, '/4/0/11': sinr } });

    expect(result.outcome).toBe('succeeded');
    expect(fleet.permitLimitsOf(deviceId)).toEqual([limit]);
  });

  it('falls back to the cell ID alone (10 permits) when the device lacks SINR', async () => {
    const { deviceId, result } = await upgrade({ lacking: ['/4/0/11'] });

    expect(result.outcome).toBe('succeeded');
    expect(fleet.permitLimitsOf(deviceId)).toEqual([10]);
    expect(fleet.commandsTo(deviceId).slice(1, 3)).toEqual([
      { command: 'lwm2mRead', paths: ['/4/0/8', '/4/0/2', '/4/0/11'] },
      { command: 'lwm2mRead', paths: ['/4/0/8'] },
    ]);
  });

  it('falls back to the cell ID after the radio query times out (3 minutes)', async () => {
    const deviceId = fleet.addDevice({ silent: ['/4/0/2'] });
    const handle = await startUpgrade(deviceId);
    await untilWaitingOnTimer(handle, 3 * MINUTE);
    // Only the version query's timer may be pending at first: wait for the radio query's read.
    await expect.poll(() => fleet.commandsTo(deviceId).length).toBeGreaterThanOrEqual(2);
    await env.sleep(3 * MINUTE);

    expect(await handle.result()).toMatchObject({ outcome: 'succeeded' });
    expect(fleet.permitLimitsOf(deviceId)).toEqual([10]);
  });

  it('fails when the device reports no cell ID (radio query and cell ID query, 3 minutes each)', async () => {
    const { deviceId, result } = await upgradeUntilTimeout(
      { silent: ['/4/0/8'] },
      'querying-radio',
      3 * MINUTE,
      [3 * MINUTE],
    );

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'failed',
      cause: 'Waiting for report cellId timeout',
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    expect(fleet.permitRequests.filter((p) => p.request.deviceId === deviceId)).toEqual([]);
  });

  it('fails when the device does not start downloading within 60 minutes, and frees its permit', async () => {
    const { deviceId, result } = await upgradeUntilTimeout({ onPackageUri: [] }, 'downloading', 60 * MINUTE);

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Waiting for device start download package timeout',
    });
    expect(fleet.commandsTo(deviceId).at(-1)).toEqual({
      command: 'lwm2mCancelObservation',
      paths: ['/5/0/3', '/5/0/5'],
    });
    await expectCellFree(deviceId);
  });

  it('fails when the device starts downloading but does not finish within 60 minutes', async () => {
    const { handle, result } = await upgradeUntilTimeout(
      { onPackageUri: [{ '/5/0/3': 1 }] },
      'downloading',
      60 * MINUTE,
    );

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Waiting for device downloaded package timeout',
    });
    await recordHistory(`0.1.0/lwm2m-firmware-downloaded-timeout`, handle);
  });

  it('fails when the device does not start updating within 30 minutes', async () => {
    const { result } = await upgradeUntilTimeout({ onExecute: [] }, 'updating', 30 * MINUTE);

    expect(result).toMatchObject({ outcome: 'failed', cause: 'Waiting for device start to update timeout' });
  });

  it('fails when the device updates but reports no result within 30 minutes, nor on the query', async () => {
    const { result } = await upgradeUntilTimeout({ onExecute: [{ '/5/0/3': 3 }] }, 'updating', 30 * MINUTE);

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Wait for the device to report upgrade result timeout',
    });
  });

  it('judges by the queried result and version when the device reported no result within 30 minutes', async () => {
    // The device's result resource says "updated" (1) but it never notifies it, and runs 1.0.0 still.
    const { result } = await upgradeUntilTimeout(
      {
        onPackageUri: [{ '/5/0/3': 1 }, { '/5/0/3': 2 }],
        onExecute: [{ '/5/0/3': 3 }],
        resources: { '/5/0/5': 1 },
      },
      'updating',
      30 * MINUTE,
    );

    expect(result).toMatchObject({ outcome: 'failed', cause: 'Firmware update failed' });
    expect(result.detail).toContain('1.0.0');
  });

  it('fails when the device does not answer the result and version query within 3 minutes', async () => {
    const { result } = await upgradeUntilTimeout(
      { silent: ['/5/0/5'], onExecute: [{ '/5/0/3': 3 }, { '/5/0/5': 1 }] },
      'updating',
      3 * MINUTE,
    );

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Updating timeout and query device version for check timeout',
    });
  });

  it.each([
    [2, 'Not enough storage for the new firmware package'],
    [3, 'Out of memory during downloading process'],
    [4, 'Connection lost during downloading process'],
    [5, 'Integrity check failure for new downloaded package'],
    [6, 'Unsupported package type'],
    [7, 'Invalid URI'],
    [9, 'Invalid URI'],
  ])('reports update result %i during the download as "%s"', async (code, cause) => {
    const { deviceId, result } = await upgrade({
      onPackageUri: [{ '/5/0/3': 1 }, { '/5/0/3': 0, '/5/0/5': code }],
    });

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'failed',
      cause,
      detail: `firmware update result ${code}`,
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    expect(fleet.commandsTo(deviceId).map((c) => c.command)).not.toContain('lwm2mExecute');
    await expectCellFree(deviceId);
  });

  it('shows a failed upgrade in Temporal by its final step and the seed failure message', async () => {
    const { handle, result } = await upgrade({
      onPackageUri: [{ '/5/0/3': 1 }, { '/5/0/3': 0, '/5/0/5': 5 }],
    });

    expect(result.cause).toBe('Integrity check failure for new downloaded package');
    expect((await handle.describe()).searchAttributes).toMatchObject({
      [OtaSearchAttributes.step.name]: ['failed'],
      [OtaSearchAttributes.failureCause.name]: ['Integrity check failure for new downloaded package'],
    });
    await recordHistory(`0.1.0/lwm2m-firmware-device-failure`, handle);
  });

  it('reports update result 8 during the update as "Firmware update failed"', async () => {
    const { result } = await upgrade({ onExecute: [{ '/5/0/3': 3 }, { '/5/0/3': 2, '/5/0/5': 8 }] });

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Firmware update failed',
      detail: 'firmware update result 8',
    });
  });

  it('fails a reported success whose version is not the target version', async () => {
    const { result } = await upgrade({
      onExecute: [{ '/5/0/3': 3 }, { '/5/0/3': 0, '/5/0/5': 1, '/3/0/3': '1.9.0' }],
    });

    expect(result).toMatchObject({ outcome: 'failed', cause: 'Firmware update failed' });
    expect(result.detail).toContain('1.9.0');
  });

  it('fails with "Device Abnormal is not online" when no gateway holds the device registration', async () => {
    const { deviceId, result } = await upgrade({ registered: false });

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'failed',
      cause: 'Device Abnormal is not online',
      toVersion: '2.0.0',
    });
  });

  it('follows a device that registers again through another gateway during the upgrade', async () => {
    const { deviceId, result } = await upgrade({ movesTo: OTHER_GATEWAY_ID });

    expect(result.outcome).toBe('succeeded');
    const gateways = fleet.batchGateways.filter((b) => b.deviceId === deviceId).map((b) => b.gatewayId);
    expect(gateways[0]).toBe(GATEWAY_ID);
    expect(gateways.slice(1)).toEqual(Array(4).fill(OTHER_GATEWAY_ID));
  });

  it('fails with "Device Abnormal is not online" when the registration ends during the upgrade', async () => {
    const { deviceId, result } = await upgrade({ movesTo: null });

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'failed',
      cause: 'Device Abnormal is not online',
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    expect(fleet.permitRequests.filter((p) => p.request.deviceId === deviceId)).toEqual([]);
  });

  it('ends cancelled while waiting for a permit, and leaves the cell queue', async () => {
    const holder = fleet.addDevice({ onPackageUri: [], resources: { '/4/0/8': 'shared-cell' } });
    const waiter = fleet.addDevice({ resources: { '/4/0/8': 'shared-cell', '/4/0/2': -110, '/4/0/11': -5 } });
    const holding = await startUpgrade(holder);
    await untilWaitingOnTimer(holding, 60 * MINUTE);
    const waiting = await startUpgrade(waiter);
    const limiter = client.workflow.getHandle(cellLimiterWorkflowId('shared-cell'));
    await expect
      .poll(async () => (await limiter.query(cellLimiterStateQuery)).queue.map((q) => q.deviceId))
      .toEqual([waiter]);

    await waiting.cancel();

    expect(await waiting.result()).toEqual({
      taskId,
      deviceId: waiter,
      outcome: 'cancelled',
      cause: 'Cancelled',
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    await expect.poll(async () => (await limiter.query(cellLimiterStateQuery)).queue).toEqual([]);
    expect((await limiter.query(cellLimiterStateQuery)).holders.map((h) => h.deviceId)).toEqual([holder]);
    // The holder's device is disabled through the API: told why, then cancelled; its permit is freed.
    await holding.signal(deviceDisabledSignal);
    await holding.cancel();
    expect(await holding.result()).toMatchObject({ outcome: 'cancelled', cause: 'Device disabled' });
    await expectCellFree(holder);
  });
});
