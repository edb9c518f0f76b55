/**
 * Fake activities for workflow tests. They behave like the platform and like MQTT devices: a device
 * answers a version query or an upgrade notification by signalling its operation workflow through
 * the test server's client, the way the MQTT gateway does for a real device.
 */

import type { Client } from '@temporalio/client';
import { ApplicationFailure, type SignalDefinition } from '@temporalio/common';
import type { DownloadTokens } from '../../activities/download-tokens';
import {
  DEVICE_NOT_ONLINE,
  type MqttCommandActivities,
  type PlatformActivities,
} from '../../activities/interfaces';
import type { PackageDelivery } from '../../src/mqtt/ota-protocol';
import {
  type DeviceUpgradeResult,
  deviceOperationWorkflowId,
  type PackageKind,
  type UpgradeResultReport,
  type UpgradeStep,
  upgradeResultReportedSignal,
  versionReportedSignal,
} from '../../workflows/definitions';
import type { RolloutTaskSummary } from '../../workflows/rollout/definitions';

export interface FakeDevice {
  /** The registry's view of the connection. */
  online: boolean;
  softwareVersion: string;
  firmwareVersion: string;
  /** False: the device never answers a version query. */
  answersVersionQuery: boolean;
  /** False: the gateway finds the device disconnected when it sends a command. */
  reachable: boolean;
  /** The terminal upgrade_progress_report the device sends for a delivery; undefined: it stays silent. */
  reportUpgrade: (delivery: PackageDelivery) => UpgradeResultReport | undefined;
}

export interface RecordedStep {
  taskId: string;
  deviceId: string;
  step: UpgradeStep;
  details?: { fromVersion?: string };
}

export interface RecordedDelivery {
  deviceId: string;
  kind: PackageKind;
  delivery: PackageDelivery;
}

export class FakeFleet {
  private readonly devices = new Map<string, FakeDevice>();
  private nextDeviceNumber = 0;
  readonly steps: RecordedStep[] = [];
  readonly deliveries: RecordedDelivery[] = [];
  readonly notifiedResults: DeviceUpgradeResult[] = [];
  readonly notifiedSummaries: RolloutTaskSummary[] = [];

  constructor(private readonly client: Client) {}

  /** Adds a device (online, on software and firmware 1.0.0, that installs what it is sent) and returns its ID. */
  addDevice(overrides: Partial<FakeDevice> = {}): string {
    const deviceId = `device-${++this.nextDeviceNumber}`;
    this.devices.set(deviceId, {
      online: true,
      softwareVersion: '1.0.0',
      firmwareVersion: '1.0.0',
      answersVersionQuery: true,
      reachable: true,
      reportUpgrade: (delivery) => ({ resultCode: 0, version: delivery.version, description: 'upgraded' }),
      ...overrides,
    });
    return deviceId;
  }

  device(deviceId: string): FakeDevice {
    const device = this.devices.get(deviceId);
    if (!device) throw new Error(`unknown fake device ${deviceId}`);
    return device;
  }

  resultsNotifiedFor(deviceId: string): DeviceUpgradeResult[] {
    return this.notifiedResults.filter((result) => result.deviceId === deviceId);
  }

  stepsOf(deviceId: string): Omit<RecordedStep, 'taskId' | 'deviceId'>[] {
    return this.steps
      .filter((step) => step.deviceId === deviceId)
      .map(({ step, details }) => (details ? { step, details } : { step }));
  }

  platformActivities(): PlatformActivities & DownloadTokens {
    return {
      isDeviceOnline: async (deviceId) => this.device(deviceId).online,
      recordUpgradeStep: async (taskId, deviceId, step, details) => {
        this.steps.push(details ? { taskId, deviceId, step, details } : { taskId, deviceId, step });
      },
      issueDownloadToken: async (packageId, deviceId) => ({
        url: `https://packages.test/${packageId}?device=${deviceId}`,
        accessToken: `token-for-${deviceId}`,
        expiresAt: 1_900_000_000,
      }),
      notifyDeviceResult: async (result) => {
        this.notifiedResults.push(result);
      },
      notifyTaskCompleted: async (summary) => {
        this.notifiedSummaries.push(summary);
      },
    };
  }

  mqttCommandActivities(): MqttCommandActivities {
    const platform = this.platformActivities();
    const sendVersionQuery = async (deviceId: string) => {
      const device = this.reachableDevice(deviceId);
      if (!device.answersVersionQuery) return;
      await this.signalDevice(deviceId, versionReportedSignal, {
        softwareVersion: device.softwareVersion,
        firmwareVersion: device.firmwareVersion,
      });
    };
    const sendUpgradeNotification = async (
      deviceId: string,
      kind: PackageKind,
      delivery: PackageDelivery,
    ) => {
      const device = this.reachableDevice(deviceId);
      this.deliveries.push({ deviceId, kind, delivery });
      const report = device.reportUpgrade(delivery);
      if (report) await this.signalDevice(deviceId, upgradeResultReportedSignal, report);
    };
    return {
      // As the gateway does: its registry view first, then the command, which finds the connection.
      queryVersionIfOnline: async ({ taskId, deviceId }, ifOffline) => {
        if (!this.device(deviceId).online) {
          if (ifOffline === 'fail') throw notOnline(deviceId);
          await platform.recordUpgradeStep(taskId, deviceId, 'waiting-online');
          return false;
        }
        await platform.recordUpgradeStep(taskId, deviceId, 'querying-version');
        await sendVersionQuery(deviceId);
        return true;
      },
      deliverUpgrade: async ({ taskId, deviceId }, pkg, fromVersion) => {
        if (!this.device(deviceId).online) throw notOnline(deviceId);
        const token = await platform.issueDownloadToken(pkg.id, deviceId);
        const { version, fileName, size, sha256 } = pkg;
        const publishedAt = new Date().toISOString();
        await sendUpgradeNotification(deviceId, pkg.kind, { ...token, version, fileName, size, sha256 });
        await platform.recordUpgradeStep(taskId, deviceId, 'downloading', { fromVersion });
        return { publishedAt };
      },
    };
  }

  private reachableDevice(deviceId: string): FakeDevice {
    const device = this.device(deviceId);
    if (!device.reachable) throw notOnline(deviceId);
    return device;
  }

  private async signalDevice<Args extends unknown[]>(
    deviceId: string,
    signal: SignalDefinition<Args>,
    ...args: Args
  ): Promise<void> {
    await this.client.workflow.getHandle(deviceOperationWorkflowId(deviceId)).signal(signal, ...args);
  }
}

function notOnline(deviceId: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`device ${deviceId} is not connected`, DEVICE_NOT_ONLINE);
}
