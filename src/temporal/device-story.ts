/**
 * A device's story: its operations (the runs of its operation workflow, newest first, from Temporal's
 * visibility) and, for each, the timeline of what happened, read from the run's event history — the
 * seed steps with their times, each command sent and each report received, the waits and how long
 * they lasted, and how it ended. An operator answers "why did this meter fail?" from it.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { arrayFromPayloads, defaultPayloadConverter, WorkflowNotFoundError } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import {
  type DeviceUpgradeInput,
  type DeviceUpgradeResult,
  deviceOperationWorkflowId,
  OtaSearchAttributes,
  type PackageKind,
  type UpgradeResultReport,
  type UpgradeStep,
  type VersionReport,
} from '../../workflows/definitions';
import type {
  DeviceCommandFailure,
  Lwm2mBatch,
  Lwm2mBatchAnswer,
  ResourcesReport,
} from '../../workflows/lwm2m/definitions';
import { Lwm2mPath } from '../../workflows/lwm2m/definitions';
import { formatDuration } from '../duration-text';
import { eventTypeName } from './history-cost';
import { quoted, runsByStartTime } from './runs-by-start-time';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface DeviceOperation {
  workflowId: string;
  runId: string;
  workflowType: string;
  taskId: string | null;
  packageVersion: string | null;
  /** Temporal's status of the run, in lower case: running, completed, failed, terminated, … */
  status: string;
  /** The step it is at or ended in (set when it ends). */
  step: string | null;
  failureCause: string | null;
  startedAt: string;
  closedAt: string | null;
}

export type TimelineKind = 'start' | 'step' | 'command' | 'platform' | 'report' | 'wait' | 'error' | 'end';

export interface TimelineEntry {
  at: string;
  kind: TimelineKind;
  text: string;
  detail?: string;
  /** How long it took: a command until it was done, a wait until it ended. */
  durationMs?: number;
}

export interface DeviceOperationStory {
  operation: DeviceOperation;
  timeline: TimelineEntry[];
  /** The run's result, once it has one. */
  result?: DeviceUpgradeResult;
}

export interface DeviceStories {
  operations(
    deviceId: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ items: DeviceOperation[]; nextCursor?: string }>;
  /** Undefined when the device has no such run. */
  story(deviceId: string, runId: string): Promise<DeviceOperationStory | undefined>;
}

/**
 * A device's runs do not overlap (one operation at a time, by workflow ID), so newest first by start
 * time is also Temporal's own order; the cursor is the last run's start time.
 */
export function deviceStories(client: Client): DeviceStories {
  return {
    async operations(deviceId, page) {
      const conditions = [`WorkflowId = ${quoted(deviceOperationWorkflowId(deviceId))}`];
      const { runs, nextCursor } = await runsByStartTime(client, conditions, page);
      return { items: runs.map(operationOf), nextCursor };
    },
    async story(deviceId, runId) {
      const handle = client.workflow.getHandle(deviceOperationWorkflowId(deviceId), runId);
      let info: RunInfo;
      try {
        info = await handle.describe();
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return undefined;
        throw error;
      }
      const history = await handle.fetchHistory();
      return { operation: operationOf(info), ...storyOf(history.events ?? []) };
    },
  };
}

/** The Temporal UI's page of one run (its history), for links from a device's operations. */
export function temporalUiRunUrl(
  uiUrl: string,
  namespace: string,
): (workflowId: string, runId: string) => string {
  const base = uiUrl.replace(/\/+$/, '');
  return (workflowId, runId) =>
    `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

type RunInfo = Pick<
  WorkflowExecutionInfo,
  'workflowId' | 'runId' | 'type' | 'status' | 'startTime' | 'closeTime' | 'typedSearchAttributes'
>;

function operationOf(info: RunInfo): DeviceOperation {
  const attributes = info.typedSearchAttributes;
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    workflowType: info.type,
    taskId: attributes.get(OtaSearchAttributes.taskId) ?? null,
    packageVersion: attributes.get(OtaSearchAttributes.packageVersion) ?? null,
    status: info.status.name.toLowerCase().replace(/_/g, '-'),
    step: attributes.get(OtaSearchAttributes.step) ?? null,
    failureCause: attributes.get(OtaSearchAttributes.failureCause) ?? null,
    startedAt: info.startTime.toISOString(),
    closedAt: info.closeTime?.toISOString() ?? null,
  };
}

const pathNames = Object.fromEntries(
  Object.entries(Lwm2mPath).map(([name, path]) => [path, name.replace(/([A-Z])/g, ' $1').toLowerCase()]),
);
const named = (path: string) => (pathNames[path] ? `${path} (${pathNames[path]})` : path);

const STEP_TEXT: Record<UpgradeStep, string> = {
  'waiting-online': 'Waiting for the device to come online',
  'querying-version': 'Querying the device version',
  'querying-radio': 'Querying the radio coverage and cell ID',
  'waiting-permit': "Waiting for a permit of the device's cell",
  downloading: 'Downloading the package',
  updating: 'Updating',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

interface PendingActivity {
  name: string;
  input: unknown[];
  at: Date;
  entry: TimelineEntry;
}

/**
 * The timeline of one run, in history order, and its result once it completed. Workflow tasks,
 * markers and search-attribute upserts are Temporal's bookkeeping and left out; everything the
 * device or the platform did is in.
 */
export function storyOf(events: HistoryEvent[]): {
  timeline: TimelineEntry[];
  result: DeviceUpgradeResult | undefined;
} {
  const timeline: TimelineEntry[] = [];
  let result: DeviceUpgradeResult | undefined;
  const activities = new Map<string, PendingActivity>();
  const timers = new Map<string, { at: Date; entry: TimelineEntry }>();
  let packageKind: PackageKind = 'firmware';
  const add = (at: Date, entry: Omit<TimelineEntry, 'at'>) => {
    const added = { at: at.toISOString(), ...entry };
    timeline.push(added);
    return added;
  };
  for (const event of events) {
    const at = new Date(timestampMs(event.eventTime));
    const id = String(event.eventId);
    switch (eventTypeName(event)) {
      case 'WorkflowExecutionStarted': {
        const [input] = decoded(event.workflowExecutionStartedEventAttributes?.input?.payloads) as [
          DeviceUpgradeInput | undefined,
        ];
        packageKind = input?.package.kind ?? packageKind;
        add(at, {
          kind: 'start',
          text: input
            ? `Upgrade to ${input.package.kind} ${input.package.version} started`
            : 'Operation started',
          detail: input
            ? `task ${input.taskId}, package ${input.package.fileName} (${input.package.size} bytes)`
            : undefined,
        });
        break;
      }
      case 'ActivityTaskScheduled': {
        const attributes = event.activityTaskScheduledEventAttributes;
        const name = attributes?.activityType?.name ?? 'activity';
        const input = decoded(attributes?.input?.payloads);
        const entry = add(at, scheduledActivityEntry(name, input));
        activities.set(id, { name, input, at, entry });
        if (name === 'lwm2mSend') {
          const step = (input[1] as Lwm2mBatch | undefined)?.step?.step;
          if (step)
            timeline.splice(timeline.length - 1, 0, {
              at: at.toISOString(),
              kind: 'step',
              text: STEP_TEXT[step],
            });
        }
        break;
      }
      case 'ActivityTaskCompleted': {
        const attributes = event.activityTaskCompletedEventAttributes;
        const pending = activities.get(String(attributes?.scheduledEventId));
        if (!pending) break;
        pending.entry.durationMs = at.getTime() - pending.at.getTime();
        const [answer] = decoded(attributes?.result?.payloads);
        completeActivity(pending, answer, timeline);
        break;
      }
      case 'ActivityTaskFailed':
      case 'ActivityTaskTimedOut': {
        const attributes =
          event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes;
        const pending = activities.get(String(attributes?.scheduledEventId));
        if (pending) pending.entry.durationMs = at.getTime() - pending.at.getTime();
        add(at, {
          kind: 'error',
          text: `${pending ? commandName(pending.name) : 'A command'} failed`,
          detail: attributes?.failure?.message ?? undefined,
        });
        break;
      }
      case 'MarkerRecorded': {
        const attributes = event.markerRecordedEventAttributes;
        if (attributes?.markerName !== 'core_local_activity') break;
        const [data] = decoded(attributes.details?.data?.payloads) as [
          { activity_type?: string } | undefined,
        ];
        const [answer] = decoded(attributes.details?.result?.payloads);
        const name = data?.activity_type ?? 'activity';
        // A local activity's marker keeps no input. The LwM2M flows record two steps locally:
        // waiting-permit after the radio query, waiting-online before any command.
        const input =
          name === 'recordUpgradeStep'
            ? [
                null,
                null,
                timeline.some((entry) => entry.text === STEP_TEXT['querying-radio'])
                  ? 'waiting-permit'
                  : 'waiting-online',
              ]
            : [];
        const pending = { name, input, at, entry: add(at, scheduledActivityEntry(name, input)) };
        completeActivity(pending, answer, timeline);
        break;
      }
      case 'TimerStarted': {
        const timeoutMs = timestampMs(event.timerStartedEventAttributes?.startToFireTimeout);
        const entry = add(at, { kind: 'wait', text: `Waiting up to ${formatDuration(timeoutMs)}` });
        timers.set(String(event.timerStartedEventAttributes?.timerId), { at, entry });
        break;
      }
      case 'TimerFired':
      case 'TimerCanceled': {
        const timerId = String(
          event.timerFiredEventAttributes?.timerId ?? event.timerCanceledEventAttributes?.timerId,
        );
        const timer = timers.get(timerId);
        if (!timer) break;
        timer.entry.durationMs = at.getTime() - timer.at.getTime();
        const fired = eventTypeName(event) === 'TimerFired';
        timer.entry.text = `${timer.entry.text.replace('Waiting', 'Waited')}: ${fired ? 'timed out' : `ended after ${formatDuration(timer.entry.durationMs)}`}`;
        break;
      }
      case 'WorkflowExecutionSignaled': {
        const attributes = event.workflowExecutionSignaledEventAttributes;
        const [payload] = decoded(attributes?.input?.payloads);
        add(at, signalEntry(attributes?.signalName ?? 'signal', payload, packageKind));
        break;
      }
      case 'WorkflowExecutionCancelRequested':
        add(at, {
          kind: 'platform',
          text: 'Cancellation requested',
          detail: event.workflowExecutionCancelRequestedEventAttributes?.cause ?? undefined,
        });
        break;
      case 'WorkflowExecutionCompleted': {
        [result] = decoded(event.workflowExecutionCompletedEventAttributes?.result?.payloads) as [
          DeviceUpgradeResult | undefined,
        ];
        add(at, endEntry(result));
        break;
      }
      case 'WorkflowExecutionFailed':
        add(at, {
          kind: 'end',
          text: 'The workflow failed',
          detail: event.workflowExecutionFailedEventAttributes?.failure?.message ?? undefined,
        });
        break;
      case 'WorkflowExecutionTerminated':
        add(at, {
          kind: 'end',
          text: 'Terminated',
          detail: event.workflowExecutionTerminatedEventAttributes?.reason ?? undefined,
        });
        break;
      case 'WorkflowExecutionCanceled':
        add(at, { kind: 'end', text: 'Cancelled' });
        break;
      case 'WorkflowExecutionTimedOut':
        add(at, { kind: 'end', text: 'Timed out' });
        break;
      case 'WorkflowExecutionContinuedAsNew':
        add(at, { kind: 'end', text: 'Continued as a new run' });
        break;
    }
  }
  return { timeline, result };
}

function decoded(payloads: temporal.api.common.v1.IPayload[] | null | undefined): unknown[] {
  return arrayFromPayloads(defaultPayloadConverter, payloads);
}

/** Seconds arrive as a Long from the server and as a number from a history read from JSON. */
function timestampMs(timestamp: temporal.api.history.v1.IHistoryEvent['eventTime']): number {
  if (!timestamp) return 0;
  return Number(timestamp.seconds ?? 0) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6);
}

function commandName(activity: string): string {
  return activity
    .replace(/([A-Z])/g, ' $1')
    .toLowerCase()
    .replace(/^./, (first) => first.toUpperCase());
}

function scheduledActivityEntry(name: string, input: unknown[]): Omit<TimelineEntry, 'at'> {
  switch (name) {
    case 'recordUpgradeStep':
      return { kind: 'step', text: STEP_TEXT[input[2] as UpgradeStep] ?? String(input[2]) };
    case 'queryVersionIfOnline':
      return { kind: 'command', text: 'Version query, if the device is online' };
    case 'deliverUpgrade': {
      const pkg = input[1] as DeviceUpgradeInput['package'] | undefined;
      return {
        kind: 'command',
        text: `Upgrade notification sent: download URL, token and package ${pkg?.version ?? ''}`.trim(),
        detail: input[2] ? `from version ${String(input[2])}` : undefined,
      };
    }
    case 'lwm2mSend': {
      const batch = input[1] as Lwm2mBatch | undefined;
      const operations = (batch?.operations ?? []).map((operation) => {
        if ('paths' in operation) return `${operation.op} ${operation.paths.map(named).join(', ')}`;
        if (operation.op === 'write-package-uri') return `write the package URI to ${named(operation.path)}`;
        return `${operation.op} ${named(operation.path)}`;
      });
      if (operations.length === 0)
        return { kind: 'platform', text: 'Asked the gateway what the device reported while it was quiet' };
      return { kind: 'command', text: `Sent: ${operations.join('; ')}` };
    }
    case 'isDeviceOnline':
      return { kind: 'platform', text: 'Checked whether the device is online' };
    case 'locateLwm2mDevice':
      return { kind: 'platform', text: "Found the gateway holding the device's registration" };
    case 'requestCellPermit':
      return { kind: 'platform', text: `Asked ${cellOf(input)} for a permit` };
    case 'releaseCellPermit':
      return { kind: 'platform', text: `Returned the permit to ${cellOf(input)}` };
    case 'notifyDeviceResult':
      return { kind: 'platform', text: 'Result recorded and notified to the application' };
    default:
      return { kind: 'platform', text: commandName(name) };
  }
}

/** What a command's answer says: whether the device was online, when the notification left. */
function completeActivity(pending: PendingActivity, result: unknown, timeline: TimelineEntry[]): void {
  if (pending.name === 'queryVersionIfOnline') {
    const online = result === true;
    pending.entry.text = online ? 'Version query sent' : 'Device offline: no version query sent';
    const index = timeline.indexOf(pending.entry);
    timeline.splice(index, 0, {
      at: pending.entry.at,
      kind: 'step',
      text: STEP_TEXT[online ? 'querying-version' : 'waiting-online'],
    });
  } else if (pending.name === 'deliverUpgrade') {
    timeline.splice(timeline.indexOf(pending.entry), 0, {
      at: pending.entry.at,
      kind: 'step',
      text: STEP_TEXT.downloading,
    });
  } else if (pending.name === 'isDeviceOnline') {
    pending.entry.detail = result ? 'online' : 'offline';
  } else if (pending.name === 'lwm2mSend') {
    const answer = result as Lwm2mBatchAnswer | undefined;
    const at = new Date(new Date(pending.entry.at).getTime() + (pending.entry.durationMs ?? 0)).toISOString();
    const values = Object.entries(answer?.values ?? {});
    if (values.length > 0) timeline.push({ at, kind: 'report', text: `Answered ${valuesText(values)}` });
    for (const refusal of answer?.refused ?? []) timeline.push({ at, ...refusalEntry(refusal) });
  }
}

function cellOf(input: unknown[]): string {
  return input[0] === undefined ? "the device's cell" : `cell ${String(input[0])}`;
}

function valuesText(values: [string, unknown][]): string {
  return values.map(([path, value]) => `${named(path)} = ${JSON.stringify(value)}`).join(', ');
}

function refusalEntry(failure: DeviceCommandFailure): Omit<TimelineEntry, 'at'> {
  return {
    kind: 'error',
    text: `Device refused ${failure.operation} ${failure.paths.map(named).join(', ')}: ${failure.code}`,
    detail: failure.detail,
  };
}

function signalEntry(name: string, payload: unknown, packageKind: PackageKind): Omit<TimelineEntry, 'at'> {
  switch (name) {
    case 'deviceOnline':
      return { kind: 'report', text: 'Device came online' };
    case 'versionReported': {
      const report = payload as VersionReport;
      const version = packageKind === 'software' ? report.softwareVersion : report.firmwareVersion;
      return { kind: 'report', text: `Reported ${packageKind} version ${version ?? '(none)'}` };
    }
    case 'upgradeResultReported': {
      const report = payload as UpgradeResultReport;
      return {
        kind: 'report',
        text:
          report.resultCode === 0
            ? `Reported success${report.version ? `, version ${report.version}` : ''}`
            : `Reported result code ${report.resultCode}`,
        detail: report.description,
      };
    }
    case 'resourcesReported':
      return {
        kind: 'report',
        text: `Reported ${valuesText(Object.entries((payload as ResourcesReport).values))}`,
      };
    case 'deviceCommandFailed':
      return refusalEntry(payload as DeviceCommandFailure);
    case 'permitGranted':
      return { kind: 'report', text: `Cell ${(payload as { cellId: string }).cellId} granted a permit` };
    case 'deviceDisabled':
      return { kind: 'platform', text: 'Device disabled through the API' };
    default:
      return { kind: 'report', text: `Signal ${name}` };
  }
}

function endEntry(result: DeviceUpgradeResult | undefined): Omit<TimelineEntry, 'at'> {
  if (!result) return { kind: 'end', text: 'Completed' };
  if (result.outcome === 'succeeded') return { kind: 'end', text: `Succeeded: now at ${result.toVersion}` };
  if (result.outcome === 'already-latest')
    return {
      kind: 'end',
      text: `Already at the latest version${result.fromVersion ? ` (${result.fromVersion})` : ''}`,
    };
  return {
    kind: 'end',
    text: `${result.outcome === 'cancelled' ? 'Cancelled' : 'Failed'}${result.cause ? `: ${result.cause}` : ''}`,
    detail: result.detail,
  };
}
