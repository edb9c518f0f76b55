/**
 * Seed 000, software upgrade of an NB-IoT device over LwM2M (object 9), on the time-skipping test
 * server with the seed's real timeouts and the real cell limiter.
 */
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deviceOperationWorkflowId,
  deviceUpgradeSearchAttributes,
  deviceUpgradeStatusQuery,
  TaskQueue,
  type UpgradeStep,
} from '../../workflows/definitions';
import { cellLimiterStateQuery, cellLimiterWorkflowId } from '../../workflows/lwm2m/definitions';
import { lwm2mSoftwareUpgrade } from '../../workflows/lwm2m/software-upgrade';
import { timeSkippingEnv } from '../support/stack/time-skipping';
import { recordHistory } from './history-recorder';
import { type FakeLwm2mDevice, Lwm2mFakeFleet, runLwm2mWorkers, softwareDevice } from './lwm2m-fake-fleet';
import { describeCost, lwm2mUpgradeCost } from './lwm2m-upgrade-cost';
import { packageOf } from './packages';
import { lockedClient, untilWaitingOnTimer } from './server-time';

const HOUR = 60 * 60 * 1000;
const MINUTE = 60 * 1000;
const taskId = 'task-lwm2m';
const pkg = packageOf('software');

let env: TestWorkflowEnvironment;
let client: Client;
let fleet: Lwm2mFakeFleet;
let stopWorkers: () => Promise<void>;

/** What a successful upgrade may cost in Temporal actions, its cell permit included. */
const MAX_SUCCESS_ACTIONS = 17;

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

function addDevice(overrides: Partial<FakeLwm2mDevice> = {}) {
  return fleet.addDevice({ ...softwareDevice(), ...overrides });
}

/** Started as a client would; `withSearchAttributes` starts it as the task workflows do. */
function startUpgrade(deviceId: string, { withSearchAttributes = false } = {}) {
  const input = fleet.upgradeInput(deviceId, pkg, taskId);
  return client.workflow.start(lwm2mSoftwareUpgrade, {
    workflowId: deviceOperationWorkflowId(deviceId),
    taskQueue: TaskQueue.platform,
    args: [input],
    typedSearchAttributes: withSearchAttributes ? deviceUpgradeSearchAttributes(input) : undefined,
  });
}

async function upgrade(overrides: Partial<FakeLwm2mDevice> = {}) {
  const deviceId = addDevice(overrides);
  const handle = await startUpgrade(deviceId);
  return { deviceId, handle, result: await handle.result() };
}

async function upgradeUntilTimeout(
  overrides: Partial<FakeLwm2mDevice>,
  step: UpgradeStep,
  timeoutMs: number,
) {
  const deviceId = addDevice(overrides);
  const handle = await startUpgrade(deviceId);
  await untilWaitingOnTimer(handle, timeoutMs);
  await env.sleep(timeoutMs - MINUTE);
  expect((await handle.query(deviceUpgradeStatusQuery)).step).toBe(step);
  await env.sleep(MINUTE);
  return { deviceId, handle, result: await handle.result() };
}

describe('LwM2M software upgrade, seed 000', () => {
  it('upgrades a device in the seed order: version, observe, radio query, permit, new version, install, result', async () => {
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
      { command: 'lwm2mRead', paths: ['/9/0/1'] },
      { command: 'lwm2mObserve', paths: ['/9/0/7', '/9/0/9'] },
      { command: 'lwm2mRead', paths: ['/4/0/8', '/4/0/2', '/4/0/11'] },
      { command: 'lwm2mPackageUri', paths: [] },
      {
        command: 'lwm2mWrite',
        paths: ['/9/0/3'],
        value: 'coap://gateway-1.test/packages/software-2.0.0/a3a3a3a3',
      },
      { command: 'lwm2mExecute', paths: ['/9/0/4'] },
      { command: 'lwm2mRead', paths: ['/9/0/1'] },
      { command: 'lwm2mCancelObservation', paths: ['/9/0/7', '/9/0/9'] },
    ]);
    expect(fleet.stepsOf(deviceId)).toEqual([
      'querying-version',
      'querying-radio',
      'waiting-permit',
      'downloading',
      'updating',
    ]);
    expect(fleet.permitLimitsOf(deviceId)).toEqual([50]);
    const cellId = String(fleet.device(deviceId).resources['/4/0/8']);
    expect(
      await client.workflow.getHandle(cellLimiterWorkflowId(cellId)).query(cellLimiterStateQuery),
    ).toEqual({
      cellId,
      holders: [],
      queue: [],
    });
    await recordHistory(`0.1.0/lwm2m-software-success`, handle);
  });

  it(`costs at most ${MAX_SUCCESS_ACTIONS} Temporal actions for a successful upgrade, its cell permit included`, async () => {
    // In a cell where another device holds a permit, as in a rollout: the limiter runs already.
    const holder = addDevice({ onPackageUri: [], resources: { '/4/0/8': 'busy-cell-software' } });
    const holding = await startUpgrade(holder);
    await untilWaitingOnTimer(holding, 60 * MINUTE);
    const deviceId = addDevice({ resources: { '/4/0/8': 'busy-cell-software' } });
    const handle = await startUpgrade(deviceId, { withSearchAttributes: true });

    expect((await handle.result()).outcome).toBe('succeeded');
    const cost = await lwm2mUpgradeCost(client, handle, 'busy-cell-software');
    expect(cost.actions, describeCost(cost)).toBeLessThanOrEqual(MAX_SUCCESS_ACTIONS);
    await holding.cancel();
    expect(await holding.result()).toMatchObject({ outcome: 'cancelled' });
  });

  it('marks a device already on the target version successful without observing it', async () => {
    const { deviceId, result } = await upgrade({ resources: { '/9/0/1': '2.0.0' } });

    expect(result).toMatchObject({ outcome: 'already-latest', fromVersion: '2.0.0' });
    expect(fleet.commandsTo(deviceId)).toEqual([{ command: 'lwm2mRead', paths: ['/9/0/1'] }]);
  });

  it('gives up on a device that stays offline for 24 hours', async () => {
    const { result } = await upgradeUntilTimeout({ online: false }, 'waiting-online', 24 * HOUR);

    expect(result).toMatchObject({ outcome: 'failed', cause: 'Waiting for the device online timeout' });
  });

  it('fails when the device does not report its software version within 3 minutes', async () => {
    const { result } = await upgradeUntilTimeout({ silent: ['/9/0/1'] }, 'querying-version', 3 * MINUTE);

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Waiting for report device firmware version timeout',
    });
  });

  it('fails when the device reports no cell ID, and cancels the observation', async () => {
    const deviceId = addDevice({ silent: ['/4/0/8'] });
    const handle = await startUpgrade(deviceId);
    await untilWaitingOnTimer(handle, 3 * MINUTE);
    await env.sleep(3 * MINUTE);
    await expect
      .poll(() => fleet.commandsTo(deviceId).filter((c) => c.command === 'lwm2mRead').length)
      .toBe(3);
    await untilWaitingOnTimer(handle, 3 * MINUTE);
    await env.sleep(3 * MINUTE);

    expect(await handle.result()).toMatchObject({
      outcome: 'failed',
      cause: 'Waiting for report cellId timeout',
    });
    expect(fleet.commandsTo(deviceId).at(-1)).toEqual({
      command: 'lwm2mCancelObservation',
      paths: ['/9/0/7', '/9/0/9'],
    });
  });

  it('fails when the device does not start downloading within 60 minutes', async () => {
    const { result } = await upgradeUntilTimeout({ onPackageUri: [] }, 'downloading', 60 * MINUTE);

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Waiting for device start download package timeout',
    });
  });

  it('fails when the device starts downloading but does not finish within 60 minutes', async () => {
    const { result } = await upgradeUntilTimeout(
      { onPackageUri: [{ '/9/0/7': 1, '/9/0/9': 1 }] },
      'downloading',
      60 * MINUTE,
    );

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Waiting for device downloaded package timeout',
    });
  });

  it('fails when the device reports no install result within 30 minutes', async () => {
    const { result } = await upgradeUntilTimeout({ onExecute: [] }, 'updating', 30 * MINUTE);

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Wait for the device to report upgrade result timeout',
    });
  });

  it('fails when the device does not answer the version check within 3 minutes', async () => {
    const { result } = await upgradeUntilTimeout(
      { silentAfterExecute: ['/9/0/1'], onExecute: [{ '/9/0/7': 4, '/9/0/9': 2 }] },
      'updating',
      3 * MINUTE,
    );

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Updating timeout and query device version for check timeout',
    });
  });

  it('fails an install whose version is not the target version', async () => {
    const { result } = await upgrade({ onExecute: [{ '/9/0/7': 4, '/9/0/9': 2, '/9/0/1': '1.5.0' }] });

    expect(result).toMatchObject({ outcome: 'failed', cause: 'Firmware update failed' });
    expect(result.detail).toContain('1.5.0');
  });

  it.each([
    [50, 'Not enough storage for the new firmware package'],
    [51, 'Out of memory during downloading process'],
    [52, 'Connection lost during downloading process'],
    [53, 'Integrity check failure for new downloaded package'],
    [54, 'Unsupported package type'],
    [56, 'Invalid URI'],
  ])('reports update result %i during the download as "%s"', async (code, cause) => {
    const { deviceId, result } = await upgrade({
      onPackageUri: [
        { '/9/0/7': 1, '/9/0/9': 1 },
        { '/9/0/7': 0, '/9/0/9': code },
      ],
    });

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'failed',
      cause,
      detail: `software update result ${code}`,
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
  });

  it.each([57, 58, 59])(
    'reports update result %i during the install as "Firmware update failed"',
    async (code) => {
      const { result } = await upgrade({ onExecute: [{ '/9/0/7': 3, '/9/0/9': code }] });

      expect(result).toMatchObject({
        outcome: 'failed',
        cause: 'Firmware update failed',
        detail: `software update result ${code}`,
      });
    },
  );
});
