import { z } from 'zod';
import type { UpgradeOutcome } from '../../workflows/definitions';
import { DeviceCause, type FailureCause, OtaflowCause, PlatformCause } from '../../workflows/failure-causes';
import type { TaskState, TaskTarget } from '../../workflows/rollout/definitions';
import { defaultRetryCauses } from '../../workflows/rollout/retry';
import { maxTaskDevices } from '../db/task-targets';
import type { TaskDeviceStep } from '../db/tasks';
import { DeviceId, PageQuery, page, Tag, timestamp } from './schemas';

/** Request and response shapes of /v1/tasks (validation and the OpenAPI document, like ./schemas). */

/** Field errors listed per problem, at most: a 100,000-device list can be wrong 100,000 times. */
export const maxListedErrors = 100;

const failureCauses = [
  ...Object.values(PlatformCause),
  ...Object.values(DeviceCause),
  ...Object.values(OtaflowCause),
] as [FailureCause, ...FailureCause[]];
const FailureCauseName = z.enum(failureCauses);

// ---- targets ----

const targetKinds = ['deviceIds', 'groupId', 'filter'] as const;

const DeviceFilter = z
  .strictObject({
    protocol: z.enum(['mqtt', 'lwm2m']).optional(),
    currentVersion: z.string().min(1).max(64).optional().meta({
      description: "The device's software (software package) or firmware (firmware package) version",
    }),
    tags: z
      .array(Tag)
      .min(1)
      .max(20)
      .optional()
      .meta({ description: 'The device carries every one of these tags' }),
  })
  .meta({
    id: 'DeviceFilter',
    description: "Devices of the package's product and model that match every criterion given",
  });

const TargetInput = z
  .strictObject({
    deviceIds: z
      .array(DeviceId)
      .min(1)
      .max(maxTaskDevices)
      .superRefine((ids, context) => {
        const seen = new Set<string>();
        let duplicates = 0;
        ids.forEach((id, index) => {
          if (seen.has(id) && duplicates++ < maxListedErrors)
            context.addIssue({ code: 'custom', path: [index], message: `duplicate device ID ${id}` });
          seen.add(id);
        });
      })
      .optional()
      .meta({ description: 'An explicit list of distinct devices, upgraded in list order' }),
    groupId: z.string().min(1).max(128).optional().meta({ description: "A device group's members" }),
    filter: DeviceFilter.optional(),
  })
  .superRefine((target, context) => {
    if (targetKinds.filter((kind) => target[kind] !== undefined).length !== 1)
      context.addIssue({ code: 'custom', message: 'give exactly one of deviceIds, groupId, filter' });
  })
  .transform((target) => target as TaskTarget)
  .meta({
    id: 'TaskTarget',
    description:
      "Exactly one of a device list, a group or a filter. Only devices of the package's product and model are targets.",
    oneOf: targetKinds.map((kind) => ({ required: [kind] })),
  });

// ---- rollout policy ----

const perMinute = z.number().positive().max(60_000);
const ClockTime = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day, HH:MM (24-hour)')
  .meta({ example: '02:00' });

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const Rate = z
  .strictObject({
    devicesPerMinute: perMinute,
    ramp: z
      .strictObject({
        initialPerMinute: perMinute,
        multiplier: z.number().gt(1).max(10),
        stepMinutes: z.number().int().min(1).max(1440),
      })
      .optional()
      .meta({
        description:
          'Start at initialPerMinute, multiply by multiplier every stepMinutes, up to devicesPerMinute',
      }),
  })
  .superRefine((rate, context) => {
    if (rate.ramp && rate.ramp.initialPerMinute > rate.devicesPerMinute) {
      context.addIssue({
        code: 'custom',
        path: ['ramp', 'initialPerMinute'],
        message: 'must not exceed devicesPerMinute',
      });
    }
  });

const Waves = z.strictObject({
  sizes: z.array(z.number().int().min(1).max(maxTaskDevices)).min(1).max(100).meta({
    description: 'Devices per wave, in order; the remaining targets form the last wave',
  }),
  successPercent: z.number().min(0).max(100).meta({
    description:
      'A wave starts only when this share of the previous one succeeded; otherwise the task aborts',
  }),
});

const Abort = z
  .strictObject({
    failedCount: z.number().int().min(1).max(maxTaskDevices).optional(),
    failedPercent: z.number().gt(0).max(100).optional().meta({ description: 'Of the finished devices' }),
    minFinished: z
      .number()
      .int()
      .min(1)
      .max(maxTaskDevices)
      .meta({ description: 'Judge the thresholds only once this many devices have finished' }),
    cancelInProgress: z
      .boolean()
      .default(false)
      .meta({ description: 'Also cancel the device upgrades in progress when aborting' }),
  })
  .superRefine((abort, context) => {
    if (abort.failedCount === undefined && abort.failedPercent === undefined)
      context.addIssue({ code: 'custom', message: 'give failedCount, failedPercent or both' });
  });

const MaintenanceWindow = z.strictObject({
  daysOfWeek: z
    .array(z.number().int().min(0).max(6))
    .min(1)
    .max(7)
    .superRefine((days, context) => {
      days.forEach((day, index) => {
        if (days.indexOf(day) !== index)
          context.addIssue({ code: 'custom', path: [index], message: `day ${day} is listed twice` });
      });
    })
    .meta({ description: '0 = Sunday … 6 = Saturday, in timeZone' }),
  start: ClockTime.meta({ description: 'Local opening time' }),
  durationMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 1440),
  timeZone: z
    .string()
    .min(1)
    .max(64)
    .refine(isTimeZone, 'not a time zone this server knows (IANA name, e.g. Europe/Berlin)')
    .meta({ example: 'Europe/Berlin' }),
});

const Retry = z
  .strictObject({
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .meta({ description: 'The first attempt included' }),
    initialIntervalSeconds: z.number().int().min(1).max(86_400).default(60),
    backoffCoefficient: z.number().min(1).max(10).default(2),
    maxIntervalSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(3600),
    causes: z
      .array(FailureCauseName)
      .min(1)
      .default([...defaultRetryCauses])
      .meta({
        description: "Failure causes worth another attempt; by default the seed's platform-side timeouts",
      }),
  })
  .superRefine((retry, context) => {
    if (retry.maxIntervalSeconds < retry.initialIntervalSeconds) {
      context.addIssue({
        code: 'custom',
        path: ['maxIntervalSeconds'],
        message: 'must not be below initialIntervalSeconds',
      });
    }
  });

/** Temporal allows 2,000 pending children per workflow; the task stays well below. */
export const maxInProgressLimit = 1000;

export const RolloutPolicySchema = z
  .strictObject({
    maxInProgress: z.number().int().min(1).max(maxInProgressLimit).default(100).meta({
      description: 'Device upgrades in progress at once, at most',
    }),
    rate: Rate.optional().meta({ description: 'Device upgrades started per minute, at most' }),
    waves: Waves.optional(),
    abort: Abort.optional().meta({ description: 'Abort the task when failures pass a threshold' }),
    startAt: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: 'No device starts before this instant; the task is `scheduled` until then' }),
    maintenanceWindow: MaintenanceWindow.optional().meta({
      description: 'Devices start only inside this recurring window; upgrades running go on outside it',
    }),
    retry: Retry.optional().meta({
      description: 'Retries with exponential backoff for the failures worth it; absent, no device is retried',
    }),
  })
  .meta({ id: 'RolloutPolicy' });

export const CreateTaskRequest = z
  .strictObject({
    packageId: z.string().min(1).max(128),
    name: z.string().trim().min(1).max(200).optional(),
    target: TargetInput,
    mode: z.enum(['snapshot', 'continuous']).default('snapshot').meta({
      description:
        '`snapshot`: targets resolved once, at creation. `continuous` (group or filter only): devices that match later join the task',
    }),
    rollout: RolloutPolicySchema.prefault({}),
  })
  .superRefine((request, context) => {
    if (request.mode === 'continuous' && 'deviceIds' in request.target) {
      context.addIssue({
        code: 'custom',
        path: ['mode'],
        message: 'continuous needs a group or filter target; a device list cannot grow',
      });
    }
  })
  .meta({ id: 'CreateTaskRequest' });

// ---- responses ----

const taskStates = [
  'scheduled',
  'running',
  'paused',
  'cancelling',
  'cancelled',
  'aborted',
  'completed',
] as const satisfies readonly TaskState[];
const TaskStateName = z.enum(taskStates);

const StoredTarget = z
  .union([
    z.strictObject({
      deviceList: z.strictObject({ count: z.number().int() }).meta({
        description: 'An explicit list of this many devices (see /v1/tasks/{id}/devices)',
      }),
    }),
    z.strictObject({ groupId: z.string() }),
    z.strictObject({ filter: DeviceFilter }),
  ])
  .meta({ id: 'TaskTargetSummary' });

export const Task = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    packageId: z.string(),
    state: TaskStateName,
    stateReason: z.string().nullable().meta({ description: 'Why the task is aborted, say' }),
    target: StoredTarget.nullable().meta({ description: 'Null for tasks created before rollout control' }),
    mode: z.enum(['snapshot', 'continuous']),
    rollout: RolloutPolicySchema.nullable().meta({
      description: 'Null for tasks created before rollout control',
    }),
    deviceCount: z.number().int().meta({ description: 'Targets so far (a continuous task grows)' }),
    createdAt: timestamp,
    finishedAt: timestamp.nullable(),
  })
  .meta({ id: 'Task' });

export const TaskList = page(Task).meta({ id: 'TaskList' });

export const TaskPreview = z
  .object({
    deviceCount: z.number().int().meta({ description: 'The devices the task would target now' }),
    firstDeviceIds: z.array(z.string()).meta({ description: 'The first ten of them, in start order' }),
  })
  .meta({ id: 'TaskPreview' });

export const TaskListQuery = PageQuery.extend({
  state: TaskStateName.optional(),
  packageId: z.string().min(1).max(64).optional().meta({ description: 'Tasks installing this package' }),
});

const tally = z.record(z.string(), z.number().int());

export const TaskCounts = z
  .object({
    byStep: tally.meta({
      description: 'pending, retrying, waiting-online, querying-version, downloading, succeeded, …',
    }),
    byOutcome: tally.meta({ description: 'succeeded, already-latest, failed, cancelled' }),
    byFailureCause: tally.meta({ description: "The seed's failure messages, verbatim" }),
  })
  .meta({ id: 'TaskCounts' });

export const TaskStatus = Task.extend({ counts: TaskCounts }).meta({ id: 'TaskStatus' });

/** What one `progress` or `end` event of /v1/tasks/{id}/events carries. */
export const TaskProgressEvent = z
  .object({
    state: TaskStateName,
    stateReason: z.string().nullable(),
    deviceCount: z.number().int(),
    counts: TaskCounts,
  })
  .meta({ id: 'TaskProgressEvent' });

const taskDeviceSteps = {
  pending: 'pending',
  retrying: 'retrying',
  'waiting-online': 'waiting-online',
  'querying-version': 'querying-version',
  'querying-radio': 'querying-radio',
  'waiting-permit': 'waiting-permit',
  downloading: 'downloading',
  updating: 'updating',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
} as const satisfies Record<TaskDeviceStep, TaskDeviceStep>;

const outcomes = {
  succeeded: 'succeeded',
  'already-latest': 'already-latest',
  failed: 'failed',
  cancelled: 'cancelled',
} as const satisfies Record<UpgradeOutcome, UpgradeOutcome>;

export const TaskDevice = z
  .object({
    deviceId: z.string(),
    step: z.enum(taskDeviceSteps),
    outcome: z.enum(outcomes).nullable(),
    failureCause: z.string().nullable(),
    failureDetail: z.string().nullable(),
    progress: z.number().int().nullable(),
    progressDescription: z.string().nullable(),
    attempts: z.number().int().meta({ description: 'Attempts started; above 1 after retries' }),
    retryAt: timestamp.nullable().meta({ description: 'When a failed attempt worth retrying is due again' }),
    fromVersion: z.string().nullable(),
    toVersion: z.string(),
    startedAt: timestamp.nullable(),
    updatedAt: timestamp,
    finishedAt: timestamp.nullable(),
  })
  .meta({ id: 'TaskDevice' });

export const TaskDeviceList = page(TaskDevice).meta({ id: 'TaskDeviceList' });

export const TaskDeviceQuery = PageQuery.extend({
  cursor: z
    .string()
    .regex(/^\d{1,18}$/, 'a `nextCursor` of this listing')
    .optional()
    .meta({ description: '`nextCursor` of the previous page' }),
  step: z.enum(taskDeviceSteps).optional(),
  outcome: z.enum(outcomes).optional(),
  failureCause: FailureCauseName.optional(),
});

export const TaskParams = z.object({ id: z.string() });
