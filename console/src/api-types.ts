/**
 * The API's payloads, as the server's own schemas define them: the console never restates a shape.
 * Type-only imports: nothing of the server's code is bundled into the browser's.
 */
import type { z } from 'zod';
import type {
  CellState as CellStateSchema,
  ConsoleSession as ConsoleSessionSchema,
  CreatedDevice as CreatedDeviceSchema,
  DeviceOperation as DeviceOperationSchema,
  DeviceOperationStory as DeviceOperationStorySchema,
  Device as DeviceSchema,
  DeviceWithPskKey as DeviceWithPskKeySchema,
  Group as GroupSchema,
  Package as PackageSchema,
  WebhookDelivery as WebhookDeliverySchema,
  Webhook as WebhookSchema,
} from '../../src/api/schemas';
import type {
  TaskDevice as TaskDeviceSchema,
  TaskProgressEvent,
  Task as TaskSchema,
  TaskStatus as TaskStatusSchema,
} from '../../src/api/task-schemas';
import type { ApiScope } from '../../src/db/api-keys';

export type Scope = ApiScope;
export type Task = z.output<typeof TaskSchema>;
export type TaskStatus = z.output<typeof TaskStatusSchema>;
export type TaskProgress = z.output<typeof TaskProgressEvent>;
export type TaskDevice = z.output<typeof TaskDeviceSchema>;
export type Device = z.output<typeof DeviceSchema>;
export type CreatedDevice = z.output<typeof CreatedDeviceSchema>;
export type DeviceWithPskKey = z.output<typeof DeviceWithPskKeySchema>;
export type Package = z.output<typeof PackageSchema>;
export type CellState = z.output<typeof CellStateSchema>;
export type Group = z.output<typeof GroupSchema>;
export type Webhook = z.output<typeof WebhookSchema>;
export type WebhookDelivery = z.output<typeof WebhookDeliverySchema>;
export type DeviceOperation = z.output<typeof DeviceOperationSchema>;
export type DeviceOperationStory = z.output<typeof DeviceOperationStorySchema>;
export type TimelineEntry = DeviceOperationStory['timeline'][number];

export interface Page<Item> {
  items: Item[];
  nextCursor?: string;
}

export type ConsoleSession = z.output<typeof ConsoleSessionSchema>;
