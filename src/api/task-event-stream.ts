import type { Response } from 'express';
import type { TaskCounts, TaskState } from '../db/tasks';

/**
 * A task's progress as server-sent events (`text/event-stream`), for live views:
 *
 * - `event: progress` with a `TaskProgress` JSON `data` line: once when the stream opens, then each
 *   time the task's state or counts change (read every `pollMs`);
 * - `: heartbeat` comment lines when nothing was sent for `heartbeatMs`, so proxies keep the
 *   connection open;
 * - `event: end` with the final `TaskProgress` once the task is completed, cancelled or aborted; the
 *   server then closes the stream.
 *
 * Reading stops as soon as the client goes away.
 */
export interface TaskProgress {
  state: TaskState;
  stateReason: string | null;
  deviceCount: number;
  counts: TaskCounts;
}

export interface TaskEventTiming {
  pollMs: number;
  heartbeatMs: number;
}

export const defaultTaskEventTiming: TaskEventTiming = { pollMs: 1000, heartbeatMs: 15_000 };

const finalStates: ReadonlySet<TaskState> = new Set(['completed', 'cancelled', 'aborted']);

/** `read` answers undefined when the task is gone (its creation was rolled back): the stream ends. */
export async function streamTaskProgress(
  res: Response,
  read: () => Promise<TaskProgress | undefined>,
  timing: TaskEventTiming,
): Promise<void> {
  res.status(200).set({
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    // nginx and similar proxies would otherwise buffer the stream.
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();

  let closed = false;
  let wake = () => {};
  res.on('close', () => {
    closed = true;
    wake();
  });
  let lastData: string | undefined;
  let lastWriteAt = Date.now();
  const send = (text: string) => {
    res.write(text);
    lastWriteAt = Date.now();
  };

  while (!closed) {
    const progress = await read();
    if (closed) return;
    if (!progress) break;
    const data = JSON.stringify(progress);
    if (finalStates.has(progress.state)) {
      send(`event: end\ndata: ${data}\n\n`);
      break;
    }
    if (data !== lastData) send(`event: progress\ndata: ${data}\n\n`);
    else if (Date.now() - lastWriteAt >= timing.heartbeatMs) send(': heartbeat\n\n');
    lastData = data;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timing.pollMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  res.end();
}
