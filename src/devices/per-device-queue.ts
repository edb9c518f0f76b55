/**
 * Work for one device runs in arrival order (a registration before the read answers it enables,
 * notifications in sequence); different devices proceed independently.
 */
import type { Logger } from '../logger';

export interface PerDeviceQueue {
  enqueue(deviceId: string, work: () => Promise<void>): void;
  /** Resolves when everything enqueued so far has run. */
  drain(): Promise<void>;
}

export function createPerDeviceQueue(log: Logger): PerDeviceQueue {
  const queues = new Map<string, Promise<void>>();
  return {
    enqueue(deviceId, work) {
      const previous = queues.get(deviceId) ?? Promise.resolve();
      const next = previous.then(work).catch((error: unknown) => {
        log.error({ err: error, deviceId }, 'handling a device event failed');
      });
      queues.set(deviceId, next);
      void next.then(() => {
        if (queues.get(deviceId) === next) queues.delete(deviceId);
      });
    },
    async drain() {
      await Promise.all(queues.values());
    },
  };
}
