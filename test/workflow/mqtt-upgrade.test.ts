/**
 * Seed 001 (MQTT software and firmware upgrade) on the time-skipping test server, with the seed's
 * real timeouts: 25 h, 3 min and 24 h are skipped, not shortened.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyCost } from '../../src/temporal/history-cost';
import {
  type DeviceUpgradeResult,
  deviceDisabledSignal,
  deviceOnlineSignal,
  deviceOperationWorkflowId,
  deviceUpgradeSearchAttributes,
  deviceUpgradeStatusQuery,
  OtaSearchAttributes,
  type PackageInfo,
  TaskQueue,
  type UpgradeStep,
  upgradeResultReportedSignal,
} from '../../workflows/definitions';
import { mqttUpgrade } from '../../workflows/mqtt/mqtt-upgrade';
import { timeSkippingEnv } from '../support/stack/time-skipping';
import { FakeFleet } from './fake-fleet';
import { recordHistory } from './history-recorder';
import { packageOf } from './packages';
import { lockedClient, untilWaitingOnTimer } from './server-time';
import { runWorkers } from './workers';

const HOUR = 60 * 60 * 1000;
const MINUTE = 60 * 1000;
const taskId = 'task-mqtt';

let env: TestWorkflowEnvironment;
let client: Client;
let fleet: FakeFleet;
let stopWorkers: () => Promise<void>;

beforeAll(async () => {
  env = await timeSkippingEnv();
  client = lockedClient(env);
  fleet = new FakeFleet(env.client);
  stopWorkers = await runWorkers(env, fleet);
});

afterAll(async () => {
  await stopWorkers?.();
  await env?.teardown();
});

/**
 * Temporal UI and CLI users find the upgrade by task, device and version, and count a task's ended
 * upgrades by final step and failure cause; the steps in between are the API's.
 */
async function expectFoundByTaskDeviceAndVersion(
  handle: WorkflowHandle,
  deviceId: string,
  ended: { step: UpgradeStep; failureCause?: string },
) {
  const { searchAttributes } = await handle.describe();
  expect(searchAttributes).toMatchObject({
    [OtaSearchAttributes.taskId.name]: [taskId],
    [OtaSearchAttributes.deviceId.name]: [deviceId],
    [OtaSearchAttributes.packageVersion.name]: ['2.0.0'],
    [OtaSearchAttributes.step.name]: [ended.step],
  });
  if (ended.failureCause) {
    expect(searchAttributes[OtaSearchAttributes.failureCause.name]).toEqual([ended.failureCause]);
  } else {
    expect(searchAttributes).not.toHaveProperty(OtaSearchAttributes.failureCause.name);
  }
}

/** Starts upgrades as `rolloutTask` does: their search attributes are part of the start. */
function upgrades() {
  function startUpgrade(deviceId: string, pkg: PackageInfo, { withSearchAttributes = true } = {}) {
    const input = { taskId, deviceId, package: pkg };
    return client.workflow.start(mqttUpgrade, {
      workflowId: deviceOperationWorkflowId(deviceId),
      taskQueue: TaskQueue.platform,
      args: [input],
      typedSearchAttributes: withSearchAttributes ? deviceUpgradeSearchAttributes(input) : undefined,
    });
  }

  /** Runs an upgrade that needs no waiting to its end. */
  async function upgrade(deviceId: string, pkg: PackageInfo) {
    const handle = await startUpgrade(deviceId, pkg);
    return { result: await handle.result(), handle };
  }

  /**
   * Runs an upgrade that is left waiting at `step` until the seed's timeout: one minute before it the
   * upgrade still waits, at it the upgrade ends.
   */
  async function upgradeUntilTimeout(
    deviceId: string,
    pkg: PackageInfo,
    step: UpgradeStep,
    timeoutMs: number,
  ) {
    const handle = await startUpgrade(deviceId, pkg);
    await untilWaitingOnTimer(handle, timeoutMs);
    await env.sleep(timeoutMs - MINUTE);
    expect(await handle.query(deviceUpgradeStatusQuery)).toEqual({ step });
    await env.sleep(MINUTE);
    return { result: await handle.result(), handle };
  }

  return { startUpgrade, upgrade, upgradeUntilTimeout };
}

/** How long the workflow ran in server time. */
async function runTimeMs(handle: WorkflowHandle): Promise<number> {
  const { startTime, closeTime } = await handle.describe();
  if (!closeTime) throw new Error(`workflow ${handle.workflowId} has not closed`);
  return closeTime.getTime() - startTime.getTime();
}

function expectNotifiedOnce(result: DeviceUpgradeResult) {
  expect(fleet.resultsNotifiedFor(result.deviceId)).toEqual([result]);
}

/**
 * What a successful upgrade costs in Temporal actions: the start, 3 activities, 2 device signals, 1
 * upsert, and the marker of patch `0.2.0-reports-of-this-delivery` until it is removed (docs/versioning.md).
 */
const SUCCESS_ACTIONS = 8;

describe('MQTT upgrade, seed 001', () => {
  const { startUpgrade, upgrade, upgradeUntilTimeout } = upgrades();

  it('upgrades an online device: version query, delivery of URL, token and package info, success on the target version', async () => {
    const deviceId = fleet.addDevice({ softwareVersion: '1.0.0' });
    const pkg = packageOf('software');

    const { result, handle } = await upgrade(deviceId, pkg);

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'succeeded',
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    expectNotifiedOnce(result);
    expect(fleet.stepsOf(deviceId)).toEqual([
      { step: 'querying-version' },
      { step: 'downloading', details: { fromVersion: '1.0.0' } },
    ]);
    expect(fleet.deliveries.filter((d) => d.deviceId === deviceId)).toEqual([
      {
        deviceId,
        kind: 'software',
        delivery: {
          url: `https://packages.test/${pkg.id}?device=${deviceId}`,
          accessToken: `token-for-${deviceId}`,
          expiresAt: 1_900_000_000,
          version: '2.0.0',
          fileName: pkg.fileName,
          size: pkg.size,
          sha256: pkg.sha256,
        },
      },
    ]);
    expect(await handle.query(deviceUpgradeStatusQuery)).toEqual({ step: 'succeeded', result });
    await expectFoundByTaskDeviceAndVersion(handle, deviceId, { step: 'succeeded' });
    await recordHistory('0.1.0/mqtt-upgrade-success', handle);
  });

  it(`costs ${SUCCESS_ACTIONS} Temporal actions for a successful upgrade`, async () => {
    const deviceId = fleet.addDevice({ softwareVersion: '1.0.0' });

    const { result, handle } = await upgrade(deviceId, packageOf('software'));

    expect(result.outcome).toBe('succeeded');
    const cost = historyCost((await handle.fetchHistory()).events ?? []);
    expect(cost.actions).toBe(SUCCESS_ACTIONS);
  });

  it('sets its search attributes itself when its start carried none', async () => {
    const deviceId = fleet.addDevice({ softwareVersion: '1.0.0' });
    const handle = await startUpgrade(deviceId, packageOf('software'), { withSearchAttributes: false });

    expect((await handle.result()).outcome).toBe('succeeded');
    await expectFoundByTaskDeviceAndVersion(handle, deviceId, { step: 'succeeded' });
  });

  it('compares the firmware version for a firmware package', async () => {
    const deviceId = fleet.addDevice({ softwareVersion: '2.0.0', firmwareVersion: '1.4.0' });

    const { result } = await upgrade(deviceId, packageOf('firmware'));

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'succeeded',
      fromVersion: '1.4.0',
      toVersion: '2.0.0',
    });
    expect(fleet.deliveries.filter((d) => d.deviceId === deviceId).map((d) => d.kind)).toEqual(['firmware']);
    expectNotifiedOnce(result);
  });

  it('waits for an offline device and upgrades it when it comes online 10 hours later', async () => {
    const deviceId = fleet.addDevice({ online: false });
    const handle = await startUpgrade(deviceId, packageOf('software'));
    await untilWaitingOnTimer(handle, 25 * HOUR);

    await env.sleep(10 * HOUR);
    expect(await handle.query(deviceUpgradeStatusQuery)).toEqual({ step: 'waiting-online' });
    fleet.device(deviceId).online = true;
    await handle.signal(deviceOnlineSignal);
    const result = await handle.result();

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'succeeded',
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    expect(await runTimeMs(handle)).toBeGreaterThanOrEqual(10 * HOUR);
    expect(fleet.stepsOf(deviceId).map((s) => s.step)).toEqual([
      'waiting-online',
      'querying-version',
      'downloading',
    ]);
    expectNotifiedOnce(result);
  });

  it('marks a device already on the target version successful without upgrading it', async () => {
    const deviceId = fleet.addDevice({ softwareVersion: '2.0.0' });

    const { result, handle } = await upgrade(deviceId, packageOf('software'));

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'already-latest',
      fromVersion: '2.0.0',
      toVersion: '2.0.0',
    });
    expect(fleet.deliveries.filter((d) => d.deviceId === deviceId)).toEqual([]);
    expectNotifiedOnce(result);
    await recordHistory('0.1.0/mqtt-upgrade-already-latest', handle);
  });

  it('refuses a device whose version the package does not upgrade from', async () => {
    const deviceId = fleet.addDevice({ softwareVersion: '1.0.0' });

    const { result } = await upgrade(
      deviceId,
      packageOf('software', { supportedSourceVersions: ['1.5.0', '1.6.0'] }),
    );

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Source version not supported by the package',
      fromVersion: '1.0.0',
    });
    expect(result.detail).toContain('1.0.0');
    expect(fleet.deliveries.filter((d) => d.deviceId === deviceId)).toEqual([]);
    expectNotifiedOnce(result);
  });

  it('gives up on a device that stays offline for 25 hours (26 hours offline)', async () => {
    const deviceId = fleet.addDevice({ online: false });

    const { result, handle } = await upgradeUntilTimeout(
      deviceId,
      packageOf('software'),
      'waiting-online',
      25 * HOUR,
    );

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'failed',
      cause: 'Waiting for the device online timeout',
      toVersion: '2.0.0',
    });
    expectNotifiedOnce(result);
    await expectFoundByTaskDeviceAndVersion(handle, deviceId, {
      step: 'failed',
      failureCause: 'Waiting for the device online timeout',
    });
    await recordHistory('0.1.0/mqtt-upgrade-online-timeout', handle);
  });

  it('fails when the device does not report its version within 3 minutes', async () => {
    const deviceId = fleet.addDevice({ answersVersionQuery: false });

    const { result } = await upgradeUntilTimeout(
      deviceId,
      packageOf('firmware'),
      'querying-version',
      3 * MINUTE,
    );

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'failed',
      cause: 'Waiting for report device firmware version timeout',
      toVersion: '2.0.0',
    });
    expectNotifiedOnce(result);
  });

  it('fails when the device does not report an upgrade result within 24 hours', async () => {
    const deviceId = fleet.addDevice({ reportUpgrade: () => undefined });

    const { result } = await upgradeUntilTimeout(deviceId, packageOf('software'), 'downloading', 24 * HOUR);

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'failed',
      cause: 'Wait for the device to report upgrade result timeout',
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    expectNotifiedOnce(result);
  });

  it('ignores a result the gateway received before the delivery was published (held up, or from an earlier attempt)', async () => {
    const stale = { resultCode: 0, version: '2.0.0', receivedAt: '2026-01-01T00:00:00.000Z' };
    const deviceId = fleet.addDevice({ reportUpgrade: () => stale });

    const { result } = await upgradeUntilTimeout(deviceId, packageOf('software'), 'downloading', 24 * HOUR);

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Wait for the device to report upgrade result timeout',
    });
    expectNotifiedOnce(result);
  });

  it('takes the first result received after the delivery, past a stale one', async () => {
    const deviceId = fleet.addDevice({
      reportUpgrade: () => ({ resultCode: 5, receivedAt: '2026-01-01T00:00:00.000Z' }),
    });
    const handle = await startUpgrade(deviceId, packageOf('software'));
    await untilWaitingOnTimer(handle, 24 * HOUR);
    await handle.signal(upgradeResultReportedSignal, {
      resultCode: 0,
      version: '2.0.0',
      receivedAt: new Date().toISOString(),
    });

    expect(await handle.result()).toMatchObject({ outcome: 'succeeded', fromVersion: '1.0.0' });
  });

  it.each([
    [5, 'Not enough storage for the new firmware package'],
    [6, 'Connection lost during downloading process'],
    [7, 'Integrity check failure for new downloaded package'],
    [8, 'Unsupported package type'],
    [9, 'Out of memory during downloading process'],
    [10, 'Firmware update failed'],
  ])('reports device result code %i as "%s"', async (resultCode, message) => {
    const description = `device says ${resultCode}`;
    const deviceId = fleet.addDevice({ reportUpgrade: () => ({ resultCode, description }) });

    const { result, handle } = await upgrade(deviceId, packageOf('firmware'));

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'failed',
      cause: message,
      detail: description,
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    expectNotifiedOnce(result);
    if (resultCode === 7) await recordHistory('0.1.0/mqtt-upgrade-device-failure', handle);
  });

  it('fails a reported success whose version is not the target version', async () => {
    const deviceId = fleet.addDevice({ reportUpgrade: () => ({ resultCode: 0, version: '1.9.0' }) });

    const { result } = await upgrade(deviceId, packageOf('software'));

    expect(result).toMatchObject({
      outcome: 'failed',
      cause: 'Firmware update failed',
      fromVersion: '1.0.0',
    });
    expect(result.detail).toContain('1.9.0');
    expect(result.detail).toContain('2.0.0');
    expectNotifiedOnce(result);
  });

  it('accepts "already latest" (result code 3) only with the target version', async () => {
    const onTarget = fleet.addDevice({ reportUpgrade: () => ({ resultCode: 3, version: '2.0.0' }) });
    const offTarget = fleet.addDevice({ reportUpgrade: () => ({ resultCode: 3, version: '1.0.0' }) });

    const [accepted, refused] = await Promise.all([
      upgrade(onTarget, packageOf('software')),
      upgrade(offTarget, packageOf('software')),
    ]);

    expect(accepted.result).toMatchObject({ outcome: 'succeeded', fromVersion: '1.0.0' });
    expect(refused.result).toMatchObject({ outcome: 'failed', cause: 'Firmware update failed' });
  });

  it('fails with "Device Abnormal is not online" when the gateway finds the device disconnected', async () => {
    const deviceId = fleet.addDevice({ reachable: false });

    const { result } = await upgrade(deviceId, packageOf('software'));

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'failed',
      cause: 'Device Abnormal is not online',
      toVersion: '2.0.0',
    });
    expectNotifiedOnce(result);
  });

  it('ends cancelled, and notified, when its workflow is cancelled', async () => {
    const deviceId = fleet.addDevice({ reportUpgrade: () => undefined });
    const handle = await startUpgrade(deviceId, packageOf('software'));
    await untilWaitingOnTimer(handle, 24 * HOUR);
    expect(await handle.query(deviceUpgradeStatusQuery)).toEqual({ step: 'downloading' });

    await handle.cancel();
    const result = await handle.result();

    expect(result).toEqual({
      taskId,
      deviceId,
      outcome: 'cancelled',
      cause: 'Cancelled',
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    expectNotifiedOnce(result);
  });

  it('ends cancelled with the cause "Device disabled" when the API disables its device', async () => {
    const deviceId = fleet.addDevice({ reportUpgrade: () => undefined });
    const handle = await startUpgrade(deviceId, packageOf('software'));
    await untilWaitingOnTimer(handle, 24 * HOUR);

    await handle.signal(deviceDisabledSignal);
    await handle.cancel();
    const result = await handle.result();

    expect(result).toMatchObject({ outcome: 'cancelled', cause: 'Device disabled', fromVersion: '1.0.0' });
    expectNotifiedOnce(result);
  });
});
