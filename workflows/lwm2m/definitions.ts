/**
 * Shared by the LwM2M gateway, its activities and the LwM2M workflows (seed 000): resource paths,
 * the device events the gateway signals, and the cell limiter's messages. Deterministic; importable
 * from workflow code.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { PackageInfo, UpgradeStep } from '../definitions';
import type { CoverageRanges } from './radio-coverage';

/** LwM2M resource paths, `/object/instance/resource`, as OMA defines them. */
export const Lwm2mPath = {
  firmwareVersion: '/3/0/3',
  radioSignalStrength: '/4/0/2',
  cellId: '/4/0/8',
  signalSnr: '/4/0/11',
  firmwarePackageUri: '/5/0/1',
  firmwareUpdate: '/5/0/2',
  firmwareState: '/5/0/3',
  firmwareUpdateResult: '/5/0/5',
  firmwareDeliveryMethod: '/5/0/9',
  softwareName: '/9/0/0',
  softwareVersion: '/9/0/1',
  softwarePackageUri: '/9/0/3',
  softwareInstall: '/9/0/4',
  softwareUpdateState: '/9/0/7',
  softwareUpdateResult: '/9/0/9',
} as const;

/** Which resources carry the radio coverage; configurable because devices differ (SINR is often /4/0/11). */
export interface RadioResources {
  cellId: string;
  rsrp: string;
  sinr: string;
}

/** The radio settings a task's NB-IoT (LwM2M) upgrades use. */
export interface Lwm2mTaskSettings {
  coverageRanges: CoverageRanges;
  radioResources: RadioResources;
}

export type ResourceValue = string | number | boolean | null;

/**
 * Values the device sent for resources otaflow asked about or observes: a read response or an
 * observe notification. Keys are resource paths.
 */
export interface ResourcesReport {
  values: Record<string, ResourceValue>;
  /** Quiet values the device reported before `values` (see `QuietValues`), oldest first. */
  earlier?: Record<string, ResourceValue[]>;
}
export const resourcesReportedSignal = defineSignal<[ResourcesReport]>('resourcesReported');

/** A command the device refused or could not carry out (its CoAP error code), e.g. a resource it lacks. */
export interface DeviceCommandFailure {
  operation: 'read' | 'write' | 'execute' | 'observe' | 'cancel-observe';
  paths: string[];
  /** The CoAP response code (`5.00`), or `timeout` / `bad-content` when there is none to pass on. */
  code: string;
  /** What happened, for the result's `failureDetail`: `device answered 5.00 to GET /3/0/3 with Accept 0 (text/plain)`. */
  detail: string;
}
export const deviceCommandFailedSignal = defineSignal<[DeviceCommandFailure]>('deviceCommandFailed');

// ---- commands in batches ----

/** One operation of a batch: the gateway sends a batch's operations to the device in order. */
export type Lwm2mOperation =
  | { op: 'read'; paths: string[] }
  /** The observation's first answer (the current values) is not reported: it predates the upgrade. */
  | { op: 'observe'; paths: string[] }
  /** Writes the package's CoAP URI on the device's gateway (`lwm2mPackageUri`) to `path`. */
  | { op: 'write-package-uri'; path: string; package: PackageInfo }
  | { op: 'execute'; path: string }
  | { op: 'cancel-observation'; paths: string[] };

/**
 * Observed values that end no wait of the workflow (e.g. firmware state 1, downloading). The gateway
 * keeps a notification made only of quiet values instead of signalling it, and sends what it kept
 * along with the next notification it does signal (`ResourcesReport.earlier`), or returns it from
 * the next batch: progress reports cost no Temporal action.
 */
export type QuietValues = Record<string, number[]>;

export interface Lwm2mBatch {
  operations: Lwm2mOperation[];
  /** Replaces the device's quiet values before the operations go out; absent keeps them. */
  quiet?: QuietValues;
  /** The upgrade step these commands start: the activity records it for the API first. */
  step?: { taskId: string; step: UpgradeStep; fromVersion?: string };
}

export interface Lwm2mBatchAnswer {
  /** Read answers that came within the gateway's short wait; later ones arrive as signals. */
  values: Record<string, ResourceValue>;
  /** Reads the device refused (or answered undecodably) within that wait. */
  refused: DeviceCommandFailure[];
  /** Quiet values kept since the last report, as they stood when the batch began. */
  kept: Record<string, ResourceValue[]>;
}

/**
 * CoAP downlinks must leave through the gateway that holds the device's address (NAT binding), so
 * each LwM2M gateway polls its own task queue.
 */
export function lwm2mGatewayTaskQueue(gatewayId: string): string {
  return `otaflow-lwm2m-gateway-${gatewayId}`;
}

// ---- the cell limiter: one workflow per radio cell ----

export function cellLimiterWorkflowId(cellId: string): string {
  return `cell-limiter:${cellId}`;
}

/** The cell limiter's workflow type (workflows/cell-limiter/cell-limiter.ts), one run per cell. */
export const CELL_LIMITER_WORKFLOW_TYPE = 'cellLimiter';

export interface PermitRequest {
  /** The device operation workflow asking; the grant is signalled back to it. */
  requesterWorkflowId: string;
  deviceId: string;
  /** The cell's concurrency limit as this device sees it (50, 10 or 1 from its coverage). */
  limit: number;
}
export const requestPermitSignal = defineSignal<[PermitRequest]>('requestPermit');
export const releasePermitSignal = defineSignal<[{ requesterWorkflowId: string }]>('releasePermit');

/** Sent by the limiter to the requester. */
export const permitGrantedSignal = defineSignal<[{ cellId: string }]>('permitGranted');

export interface CellLimiterState {
  cellId: string;
  holders: PermitRequest[];
  queue: PermitRequest[];
}
export const cellLimiterStateQuery = defineQuery<CellLimiterState>('cellState');
