/** What an LwM2M device reported to its upgrade, kept until a step asks for it. */
import { setHandler } from '@temporalio/workflow';
import { deviceOnlineSignal } from '../definitions';
import {
  type DeviceCommandFailure,
  deviceCommandFailedSignal,
  type Lwm2mBatchAnswer,
  permitGrantedSignal,
  type ResourcesReport,
  type ResourceValue,
  resourcesReportedSignal,
} from './definitions';

/**
 * Everything the device sent since the workflow last forgot a resource. Handlers only store and
 * conditions read, so a report that arrives before the workflow waits for it is not lost; every
 * value is kept, not only the latest, so a state the device passes through quickly is still seen.
 */
export class DeviceReports {
  online = false;
  readonly grantedCells = new Set<string>();
  private readonly values = new Map<string, ResourceValue[]>();
  /** Quiet values (`QuietValues`): they end no wait, so they only tell what the device passed through. */
  private readonly passedThrough = new Map<string, ResourceValue[]>();
  private failures: DeviceCommandFailure[] = [];

  store(report: ResourcesReport): void {
    if (report.earlier) this.storeQuiet(report.earlier);
    for (const [path, value] of Object.entries(report.values)) {
      this.values.set(path, [...(this.values.get(path) ?? []), value]);
    }
  }

  storeQuiet(values: Record<string, ResourceValue[]>): void {
    for (const [path, list] of Object.entries(values)) {
      this.passedThrough.set(path, [...(this.passedThrough.get(path) ?? []), ...list]);
    }
  }

  /** A batch's quick read answers and refusals, as if they had come by signal. */
  storeAnswer(answer: Pick<Lwm2mBatchAnswer, 'values' | 'refused'>): void {
    if (Object.keys(answer.values).length > 0) this.store({ values: answer.values });
    for (const failure of answer.refused) this.storeFailure(failure);
  }

  storeFailure(failure: DeviceCommandFailure): void {
    this.failures.push(failure);
  }

  /** Stale values must not answer a new question: forget them right before asking. */
  forget(paths: readonly string[]): void {
    for (const path of paths) {
      this.values.delete(path);
      this.passedThrough.delete(path);
    }
    this.failures = this.failures.filter((failure) => !failure.paths.some((path) => paths.includes(path)));
  }

  latest(path: string): ResourceValue | undefined {
    return this.values.get(path)?.at(-1);
  }

  latestNumber(path: string): number | undefined {
    return asNumber(this.latest(path));
  }

  /** Whether the resource took any of these numeric values since it was last forgotten. */
  tookAnyOf(path: string, values: readonly number[]): boolean {
    const taken = [...(this.values.get(path) ?? []), ...(this.passedThrough.get(path) ?? [])];
    return taken.some((value) => values.includes(asNumber(value) ?? Number.NaN));
  }

  refused(
    operation: DeviceCommandFailure['operation'],
    paths: readonly string[],
  ): DeviceCommandFailure | undefined {
    return this.failures.find(
      (f) => f.operation === operation && f.paths.some((path) => paths.includes(path)),
    );
  }
}

export function listenToLwm2mDevice(): DeviceReports {
  const reports = new DeviceReports();
  setHandler(deviceOnlineSignal, () => {
    reports.online = true;
  });
  setHandler(resourcesReportedSignal, (report: ResourcesReport) => reports.store(report));
  setHandler(deviceCommandFailedSignal, (failure: DeviceCommandFailure) => reports.storeFailure(failure));
  setHandler(permitGrantedSignal, ({ cellId }) => {
    reports.grantedCells.add(cellId);
  });
  return reports;
}

export function asNumber(value: ResourceValue | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

export function asText(value: ResourceValue | undefined): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
