import { z } from 'zod';
import { DeviceId, page, timestamp } from './schemas';

/** Request and response shapes of /v1/tasks (validation and the OpenAPI document, like ./schemas). */

export const CreateTaskRequest = z
  .strictObject({
    packageId: z.string().min(1).max(128),
    deviceIds: z
      .array(DeviceId)
      .min(1)
      .max(1000)
      .superRefine((ids, context) => {
        const seen = new Set<string>();
        ids.forEach((id, index) => {
          if (seen.has(id))
            context.addIssue({ code: 'custom', path: [index], message: `duplicate device ID ${id}` });
          seen.add(id);
        });
      }),
    callbackUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .meta({ description: 'Receives a POST per device result and one when the task ends' }),
  })
  .meta({ id: 'CreateTaskRequest' });

const taskState = z.enum(['running', 'completed', 'cancelling', 'cancelled']);

export const Task = z
  .object({
    id: z.string(),
    packageId: z.string(),
    state: taskState,
    callbackUrl: z.string().nullable(),
    deviceCount: z.number().int(),
    createdAt: timestamp,
    finishedAt: timestamp.nullable(),
  })
  .meta({ id: 'Task' });

const tally = z.record(z.string(), z.number().int());

export const TaskStatus = Task.extend({
  counts: z.object({
    byStep: tally.meta({
      description: 'pending, waiting-online, querying-version, downloading, succeeded, …',
    }),
    byOutcome: tally.meta({ description: 'succeeded, already-latest, failed, cancelled' }),
    byFailureCause: tally.meta({ description: "The seed's failure messages, verbatim" }),
  }),
}).meta({ id: 'TaskStatus' });

export const TaskDevice = z
  .object({
    deviceId: z.string(),
    step: z.string(),
    outcome: z.enum(['succeeded', 'already-latest', 'failed', 'cancelled']).nullable(),
    failureCause: z.string().nullable(),
    failureDetail: z.string().nullable(),
    progress: z.number().int().nullable(),
    progressDescription: z.string().nullable(),
    fromVersion: z.string().nullable(),
    toVersion: z.string(),
    startedAt: timestamp.nullable(),
    updatedAt: timestamp,
    finishedAt: timestamp.nullable(),
  })
  .meta({ id: 'TaskDevice' });

export const TaskDeviceList = page(TaskDevice).meta({ id: 'TaskDeviceList' });

export const TaskParams = z.object({ id: z.string() });
