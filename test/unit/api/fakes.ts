import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { WorkflowNotFoundError } from '@temporalio/client';
import pino from 'pino';
import type { TaskWorkflows } from '../../../src/api/routes/tasks';
import {
  EmptyPackageError,
  type PackageStore,
  PackageTooLargeError,
} from '../../../src/packages/package-store';
import type { DeviceOperationStory, DeviceStories } from '../../../src/temporal/device-story';

export const silentLogger = pino({ level: 'silent' });

/** Records the workflow starts, signals and cancellations the API asks of Temporal. */
export function fakeTemporal() {
  const started: {
    workflowType: string;
    options: { workflowId: string; taskQueue: string; args: unknown[]; typedSearchAttributes?: unknown };
  }[] = [];
  const cancelled: string[] = [];
  const signalled: { workflowId: string; signal: string; args: unknown[] }[] = [];
  let unavailable = false;
  const refuse = () => {
    if (unavailable) throw new Error('connect ECONNREFUSED 127.0.0.1:7233');
  };
  const temporal = {
    workflow: {
      async start(workflowType: string, options: { workflowId: string; taskQueue: string; args: unknown[] }) {
        refuse();
        started.push({ workflowType, options });
        return {};
      },
      getHandle(workflowId: string) {
        return {
          async cancel() {
            refuse();
            cancelled.push(workflowId);
          },
          async signal(definition: { name: string }, ...args: unknown[]) {
            refuse();
            signalled.push({ workflowId, signal: definition.name, args });
          },
          // No workflow runs here: a query finds none (as for a cell limiter that never started).
          async query() {
            refuse();
            throw new WorkflowNotFoundError('workflow not found', workflowId, undefined);
          },
        };
      },
      // …and no listing finds any.
      async *list() {
        refuse();
        yield* [];
      },
    },
  } as unknown as TaskWorkflows;
  return {
    temporal,
    started,
    cancelled,
    signalled,
    makeUnavailable() {
      unavailable = true;
    },
    reset() {
      started.length = 0;
      cancelled.length = 0;
      signalled.length = 0;
      unavailable = false;
    },
  };
}

/** A package store in memory, for API tests that are not about MinIO. */
export function memoryPackageStore(): PackageStore & { objects: Map<string, Buffer> } {
  const objects = new Map<string, Buffer>();
  return {
    objects,
    async ensureBucket() {},
    async checkReachable() {},
    async putPackage(objectKey, source, maxBytes) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of source) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) throw new PackageTooLargeError(maxBytes);
        chunks.push(chunk as Buffer);
      }
      if (size === 0) throw new EmptyPackageError();
      const content = Buffer.concat(chunks);
      objects.set(objectKey, content);
      return { size, sha256: createHash('sha256').update(content).digest('hex') };
    },
    async removePackage(objectKey) {
      objects.delete(objectKey);
    },
    async presignDownload(objectKey, expirySeconds) {
      return `http://store.invalid/bucket/${objectKey}?X-Amz-Expires=${expirySeconds}&X-Amz-Signature=abc`;
    },
    objectUrl: (objectKey) => `http://store.invalid/bucket/${objectKey}`,
    async openRange(objectKey, offset, length) {
      const content = objects.get(objectKey) ?? Buffer.alloc(0);
      return Readable.from([content.subarray(offset, length === undefined ? undefined : offset + length)]);
    },
  };
}

/** Devices' operations as a test sets them, newest first, paged by start time like Temporal's. */
export function fakeDeviceStories() {
  const runs = new Map<string, DeviceOperationStory[]>();
  const stories: DeviceStories = {
    async operations(deviceId, page) {
      const all = (runs.get(deviceId) ?? []).filter(
        (run) => !page.cursor || run.operation.startedAt < (page.cursor as string),
      );
      const items = all.slice(0, page.limit).map((run) => run.operation);
      return { items, nextCursor: all.length > page.limit ? items.at(-1)?.startedAt : undefined };
    },
    async story(deviceId, runId) {
      return runs.get(deviceId)?.find((run) => run.operation.runId === runId);
    },
  };
  return { stories, runs };
}
