/**
 * Fake activities for the LwM2M workflow tests. They behave like the platform, like the LwM2M
 * gateway and like NB-IoT devices: a device answers a read, an observation, a write of the package
 * URI or an execute by signalling its operation workflow (`resourcesReported`,
 * `deviceCommandFailed`) through the test server's client, the way the gateway does. The permit
 * activities are the real ones (activities/lwm2m-platform.ts), so the real cell limiter runs.
 */
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import {
  DEVICE_NOT_ONLINE,
  type Lwm2mBatchActivities,
  type Lwm2mPlatformActivities,
  type PlatformActivities,
} from '../../activities/interfaces';
import { createLwm2mPlatformActivities } from '../../activities/lwm2m-platform';
import {
  type DeviceUpgradeResult,
  deviceOperationWorkflowId,
  type PackageInfo,
  TaskQueue,
  type UpgradeStep,
} from '../../workflows/definitions';
import {
  type DeviceCommandFailure,
  deviceCommandFailedSignal,
  Lwm2mPath,
  lwm2mGatewayTaskQueue,
  type PermitRequest,
  type QuietValues,
  type ResourceValue,
  resourcesReportedSignal,
} from '../../workflows/lwm2m/definitions';
import { defaultCoverageRanges } from '../../workflows/lwm2m/radio-coverage';
import { defaultRadioResources, type Lwm2mUpgradeInput } from '../../workflows/lwm2m/upgrade-input';

export const GATEWAY_ID = 'gateway-1';
/** A second gateway, for devices that register again elsewhere. */
export const OTHER_GATEWAY_ID = 'gateway-2';
type Values = Record<string, ResourceValue>;

export interface FakeLwm2mDevice {
  /** The registry's view of the connection. */
  online: boolean;
  /** False: the gateway holds no registration for it (`locateLwm2mDevice` finds none). */
  registered: boolean;
  /** The gateway holding its registration. */
  gatewayId: string;
  /**
   * After its first batch (the version read) the device registers again through this gateway, or
   * (null) its registration ends.
   */
  movesTo?: string | null;
  /** What a read answers (and what observations report first); device reports update it. */
  resources: Values;
  /** Reads of these resources go unanswered. */
  silent: string[];
  /** Reads of these resources go unanswered once the device has executed the update / install. */
  silentAfterExecute: string[];
  /** Reads of these resources are refused (4.04: the device lacks them). */
  lacking: string[];
  /** What the device reports, one report after another, once the package URI is written. */
  onPackageUri: Values[];
  /** What the device reports, one report after another, on the update / install execute. */
  onExecute: Values[];
}

/** What the gateway keeps for a device between batches (`lwm2mSend`): its quiet values and what it kept. */
interface GatewayQuiet {
  values: QuietValues;
  kept: Record<string, ResourceValue[]>;
}

/** A command the fake gateway sent, named as the operations a batch carries. */
export interface Lwm2mCommand {
  deviceId: string;
  command:
    | 'lwm2mRead'
    | 'lwm2mObserve'
    | 'lwm2mWrite'
    | 'lwm2mExecute'
    | 'lwm2mPackageUri'
    | 'lwm2mCancelObservation';
  paths: string[];
  value?: ResourceValue;
}

/** A device that upgrades its firmware the way LwM2M object 5 describes, to `targetVersion`. */
export function firmwareDevice(targetVersion = '2.0.0'): Pick<FakeLwm2mDevice, 'onPackageUri' | 'onExecute'> {
  return {
    onPackageUri: [{ '/5/0/3': 1, '/5/0/5': 0 }, { '/5/0/3': 2 }],
    onExecute: [{ '/5/0/3': 3 }, { '/5/0/3': 0, '/5/0/5': 1, '/3/0/3': targetVersion }],
  };
}

/** A device that installs software the way LwM2M object 9 describes, to `targetVersion`. */
export function softwareDevice(targetVersion = '2.0.0'): Pick<FakeLwm2mDevice, 'onPackageUri' | 'onExecute'> {
  return {
    onPackageUri: [{ '/9/0/7': 1, '/9/0/9': 1 }, { '/9/0/7': 2 }, { '/9/0/7': 3, '/9/0/9': 3 }],
    onExecute: [{ '/9/0/7': 4, '/9/0/9': 2, '/9/0/1': targetVersion }],
  };
}

export class Lwm2mFakeFleet {
  private readonly devices = new Map<string, FakeLwm2mDevice>();
  private nextDeviceNumber = 0;
  readonly steps: { deviceId: string; step: UpgradeStep; details?: { fromVersion?: string } }[] = [];
  readonly commands: Lwm2mCommand[] = [];
  readonly permitRequests: { cellId: string; request: PermitRequest }[] = [];
  /** The gateway each batch (`lwm2mSend`) went through. */
  readonly batchGateways: { deviceId: string; gatewayId: string }[] = [];
  readonly notifiedResults: DeviceUpgradeResult[] = [];
  private readonly quiet = new Map<string, GatewayQuiet>();

  constructor(private readonly client: Client) {}

  /**
   * Adds an online, registered device on firmware and software 1.0.0 in cell `cell-{n}` with good
   * coverage (RSRP −90 dBm, SINR 10 dB) that upgrades the way `behaviour` says.
   */
  addDevice(overrides: Partial<FakeLwm2mDevice> = {}): string {
    const deviceId = `lwm2m-device-${++this.nextDeviceNumber}`;
    this.devices.set(deviceId, {
      online: true,
      registered: true,
      gatewayId: GATEWAY_ID,
      silent: [],
      silentAfterExecute: [],
      lacking: [],
      ...firmwareDevice(),
      ...overrides,
      resources: {
        [Lwm2mPath.firmwareVersion]: '1.0.0',
        [Lwm2mPath.softwareVersion]: '1.0.0',
        [Lwm2mPath.cellId]: `cell-${this.nextDeviceNumber}`,
        [Lwm2mPath.radioSignalStrength]: -90,
        [Lwm2mPath.signalSnr]: 10,
        [Lwm2mPath.firmwareState]: 0,
        [Lwm2mPath.firmwareUpdateResult]: 0,
        [Lwm2mPath.softwareUpdateState]: 0,
        [Lwm2mPath.softwareUpdateResult]: 0,
        ...overrides.resources,
      },
    });
    return deviceId;
  }

  device(deviceId: string): FakeLwm2mDevice {
    const device = this.devices.get(deviceId);
    if (!device) throw new Error(`unknown fake device ${deviceId}`);
    return device;
  }

  resultsNotifiedFor(deviceId: string): DeviceUpgradeResult[] {
    return this.notifiedResults.filter((result) => result.deviceId === deviceId);
  }

  stepsOf(deviceId: string): UpgradeStep[] {
    return this.steps.filter((s) => s.deviceId === deviceId).map((s) => s.step);
  }

  commandsTo(deviceId: string): Omit<Lwm2mCommand, 'deviceId'>[] {
    return this.commands.filter((c) => c.deviceId === deviceId).map(({ deviceId: _, ...command }) => command);
  }

  permitLimitsOf(deviceId: string): number[] {
    return this.permitRequests.filter((p) => p.request.deviceId === deviceId).map((p) => p.request.limit);
  }

  upgradeInput(deviceId: string, pkg: PackageInfo, taskId = 'task-lwm2m'): Lwm2mUpgradeInput {
    return {
      taskId,
      deviceId,
      package: pkg,
      coverageRanges: defaultCoverageRanges,
      radioResources: defaultRadioResources,
    };
  }

  platformActivities(): PlatformActivities & Lwm2mPlatformActivities {
    const permits = createLwm2mPlatformActivities({
      client: this.client,
      gatewayOf: async (deviceId) => {
        const device = this.device(deviceId);
        return device.registered ? device.gatewayId : undefined;
      },
    });
    return {
      ...permits,
      requestCellPermit: async (cellId, request) => {
        this.permitRequests.push({ cellId, request });
        await permits.requestCellPermit(cellId, request);
      },
      isDeviceOnline: async (deviceId) => this.device(deviceId).online,
      recordUpgradeStep: async (_taskId, deviceId, step, details) => {
        this.steps.push(details ? { deviceId, step, details } : { deviceId, step });
      },
      notifyDeviceResult: async (result) => {
        this.notifiedResults.push(result);
      },
      notifyTaskCompleted: async () => {},
    };
  }

  /** The activities of gateway `gatewayId`'s queue. */
  commandActivities(gatewayId = GATEWAY_ID): Lwm2mBatchActivities {
    return {
      // As the gateway does: operations in order, quick read answers returned, an observation's first
      // answer dropped, notifications of quiet values kept instead of signalled.
      lwm2mSend: async (deviceId, batch) => {
        const device = this.device(deviceId);
        if (!device.registered || device.gatewayId !== gatewayId) {
          throw ApplicationFailure.nonRetryable(
            `device ${deviceId} has no live LwM2M registration`,
            DEVICE_NOT_ONLINE,
          );
        }
        if (batch.step) {
          const { taskId, step, fromVersion } = batch.step;
          await this.platformActivities().recordUpgradeStep(
            taskId,
            deviceId,
            step,
            fromVersion === undefined ? undefined : { fromVersion },
          );
        }
        const kept = this.quiet.get(deviceId)?.kept ?? {};
        const previous = this.quiet.get(deviceId);
        if (batch.quiet) this.quiet.set(deviceId, { values: batch.quiet, kept: {} });
        else if (previous) previous.kept = {};
        const answer: Awaited<ReturnType<Lwm2mBatchActivities['lwm2mSend']>> = {
          values: {},
          refused: [],
          kept,
        };
        for (const operation of batch.operations) {
          if (operation.op === 'read') {
            this.commands.push({ deviceId, command: 'lwm2mRead', paths: operation.paths });
            const read = this.readAnswer(deviceId, operation.paths);
            if (read.refused) answer.refused.push(read.refused);
            else Object.assign(answer.values, read.values);
          } else if (operation.op === 'observe') {
            this.commands.push({ deviceId, command: 'lwm2mObserve', paths: operation.paths });
          } else if (operation.op === 'write-package-uri') {
            this.commands.push({ deviceId, command: 'lwm2mPackageUri', paths: [] });
            const value = packageUriOf(operation.package);
            this.commands.push({ deviceId, command: 'lwm2mWrite', paths: [operation.path], value });
            for (const values of this.device(deviceId).onPackageUri) await this.notify(deviceId, values);
          } else if (operation.op === 'execute') {
            this.commands.push({ deviceId, command: 'lwm2mExecute', paths: [operation.path] });
            const device = this.device(deviceId);
            device.silent.push(...device.silentAfterExecute);
            for (const values of device.onExecute) await this.notify(deviceId, values);
          } else {
            this.commands.push({ deviceId, command: 'lwm2mCancelObservation', paths: operation.paths });
            this.quiet.delete(deviceId);
          }
        }
        this.batchGateways.push({ deviceId, gatewayId });
        if (device.movesTo !== undefined) {
          if (device.movesTo === null) device.registered = false;
          else device.gatewayId = device.movesTo;
          device.movesTo = undefined;
        }
        return answer;
      },
    };
  }

  /** What a read of these resources answers: values (none for silent ones), or a refusal (4.04). */
  private readAnswer(deviceId: string, paths: string[]): { values: Values; refused?: DeviceCommandFailure } {
    const device = this.device(deviceId);
    const lacking = paths.find((path) => device.lacking.includes(path));
    if (lacking) {
      const detail = `device answered 4.04 to GET ${lacking} with Accept 0 (text/plain)`;
      return { values: {}, refused: { operation: 'read', paths, code: '4.04', detail } };
    }
    return {
      values: pick(
        device.resources,
        paths.filter((path) => !device.silent.includes(path)),
      ),
    };
  }

  /** An observed change, through the gateway's quiet values: kept when all quiet, else signalled. */
  private async notify(deviceId: string, values: Values): Promise<void> {
    Object.assign(this.device(deviceId).resources, values);
    const quiet = this.quiet.get(deviceId);
    const entries = Object.entries(values);
    if (quiet && entries.every(([path, value]) => quiet.values[path]?.includes(Number(value)))) {
      for (const [path, value] of entries) quiet.kept[path] = [...(quiet.kept[path] ?? []), value];
      return;
    }
    const earlier = quiet?.kept ?? {};
    if (quiet) quiet.kept = {};
    await this.client.workflow
      .getHandle(deviceOperationWorkflowId(deviceId))
      .signal(resourcesReportedSignal, Object.keys(earlier).length > 0 ? { values, earlier } : { values });
  }

  private async signal(
    deviceId: string,
    kind: 'report' | 'failure',
    payload: Values | DeviceCommandFailure,
  ): Promise<void> {
    const handle = this.client.workflow.getHandle(deviceOperationWorkflowId(deviceId));
    if (kind === 'report') await handle.signal(resourcesReportedSignal, { values: payload as Values });
    else await handle.signal(deviceCommandFailedSignal, payload as DeviceCommandFailure);
  }
}

function packageUriOf(pkg: PackageInfo): string {
  return `coap://gateway-1.test/packages/${pkg.id}/${pkg.sha256.slice(0, 8)}`;
}

function pick(values: Values, paths: string[]): Values {
  return Object.fromEntries(paths.map((path) => [path, values[path] ?? null]));
}

/** Runs the workflows, the platform activities and the gateway's command activities, as in production. */
export async function runLwm2mWorkers(
  env: TestWorkflowEnvironment,
  fleet: Lwm2mFakeFleet,
  workflowsPath = join(__dirname, '../../workflows/index.ts'),
): Promise<() => Promise<void>> {
  const workflowBundle = await bundleWorkflowCode({ workflowsPath });
  const workers = await Promise.all([
    Worker.create({
      connection: env.nativeConnection,
      taskQueue: TaskQueue.platform,
      workflowBundle,
      activities: fleet.platformActivities(),
    }),
    ...[GATEWAY_ID, OTHER_GATEWAY_ID].map((gatewayId) =>
      Worker.create({
        connection: env.nativeConnection,
        taskQueue: lwm2mGatewayTaskQueue(gatewayId),
        activities: fleet.commandActivities(gatewayId),
      }),
    ),
  ]);
  const running = workers.map((worker) => worker.run());
  return async () => {
    for (const worker of workers) worker.shutdown();
    await Promise.all(running);
  };
}
