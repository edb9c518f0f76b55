/**
 * The one module shared by workflows, activities, gateways, the API and tests: workflow IDs,
 * signal/query definitions and their payload types. Importable from workflow code (deterministic,
 * no Node APIs).
 */
import { defineSearchAttributeKey, type SearchAttributePair, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { FailureCause } from './failure-causes';

export type PackageKind = 'software' | 'firmware';

/**
 * A device has at most one operation in progress. The operation workflow's ID is derived from the
 * device alone, so Temporal itself refuses a second one ("Task Conflict").
 */
export function deviceOperationWorkflowId(deviceId: string): string {
  return `device-operation:${deviceId}`;
}

export function taskWorkflowId(taskId: string): string {
  return `upgrade-task:${taskId}`;
}

/**
 * Let Temporal UI and CLI users find a device's upgrades (`OtaDeviceId = "…"`). All are Keyword
 * attributes; the server must have them registered (the dev server launcher and docker-compose do).
 */
export const OtaSearchAttributes = {
  taskId: defineSearchAttributeKey('OtaTaskId', SearchAttributeType.KEYWORD),
  deviceId: defineSearchAttributeKey('OtaDeviceId', SearchAttributeType.KEYWORD),
  packageVersion: defineSearchAttributeKey('OtaPackageVersion', SearchAttributeType.KEYWORD),
  step: defineSearchAttributeKey('OtaStep', SearchAttributeType.KEYWORD),
  /** Set with the final step of a failed upgrade: the seed's message, verbatim. */
  failureCause: defineSearchAttributeKey('OtaFailureCause', SearchAttributeType.KEYWORD),
};

export const otaSearchAttributeNames = Object.values(OtaSearchAttributes).map((key) => key.name);

export const TaskQueue = {
  /** Workflows and platform-side activities (registry, download tokens, notifications). */
  platform: 'otaflow',
  /** Activities that publish MQTT downlinks (any MQTT gateway instance can, the broker routes). */
  mqttGateway: 'otaflow-mqtt-gateway',
  /**
   * Rollout task workflows, on a worker and workflow cache of their own: thousands of device upgrades
   * churning through the platform worker's cache would otherwise evict a task, which then replays up
   * to 10,000 events at its next workflow task (seconds each on a busy machine).
   */
  tasks: 'otaflow-tasks',
} as const;

/** What the device workflow needs to know about the package it delivers. */
export interface PackageInfo {
  id: string;
  kind: PackageKind;
  version: string;
  fileName: string;
  size: number;
  sha256: string;
  /** Versions the package upgrades from; empty means any version. */
  supportedSourceVersions: string[];
  /** Base64 release signature of `sha256` verified at upload (docs/security.md); absent: unsigned. */
  signature?: string;
}

export interface DeviceUpgradeInput {
  taskId: string;
  deviceId: string;
  package: PackageInfo;
}

/** The search attributes a device upgrade starts with: the task workflows pass them to `startChild`. */
export function deviceUpgradeSearchAttributes(input: DeviceUpgradeInput): SearchAttributePair[] {
  return [
    { key: OtaSearchAttributes.taskId, value: input.taskId },
    { key: OtaSearchAttributes.deviceId, value: input.deviceId },
    { key: OtaSearchAttributes.packageVersion, value: input.package.version },
  ];
}

/** The step a device upgrade is in, as the API shows it. */
export type UpgradeStep =
  | 'waiting-online'
  | 'querying-version'
  /** LwM2M: reading the cell ID, RSRP and SINR. */
  | 'querying-radio'
  /** LwM2M: queued at the cell limiter for a permit. */
  | 'waiting-permit'
  | 'downloading'
  /** LwM2M: the device executes the update. */
  | 'updating'
  | 'succeeded'
  | 'failed'
  | 'cancelled';

export type UpgradeOutcome = 'succeeded' | 'already-latest' | 'failed' | 'cancelled';

export interface DeviceUpgradeResult {
  taskId: string;
  deviceId: string;
  outcome: UpgradeOutcome;
  cause?: FailureCause;
  /** Free text from the device or the platform that explains the cause further. */
  detail?: string;
  fromVersion?: string;
  toVersion: string;
}

// ---- device events, sent by the gateways to the device's operation workflow ----

/** The device connected (MQTT) or registered/updated (LwM2M). */
export const deviceOnlineSignal = defineSignal('deviceOnline');

export interface VersionReport {
  softwareVersion?: string;
  firmwareVersion?: string;
}
export const versionReportedSignal = defineSignal<[VersionReport]>('versionReported');

/** A terminal `upgrade_progress_report` (a failure code, or success with the new version). */
export interface UpgradeResultReport {
  resultCode: number;
  version?: string;
  description?: string;
  /** When the gateway received the report (ISO 8601, the gateway's clock); absent from 0.1.0 gateways. */
  receivedAt?: string;
}
export const upgradeResultReportedSignal = defineSignal<[UpgradeResultReport]>('upgradeResultReported');
/** Sent by the API just before it cancels the upgrade of a device it disables. */
export const deviceDisabledSignal = defineSignal('deviceDisabled');

// ---- queries ----

export interface DeviceUpgradeStatus {
  step: UpgradeStep;
  result?: DeviceUpgradeResult;
}
export const deviceUpgradeStatusQuery = defineQuery<DeviceUpgradeStatus>('status');
