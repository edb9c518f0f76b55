import { useEffect, useState } from 'preact/hooks';
import type { TaskProgress } from './api-types';

export interface ProgressSample {
  at: number;
  done: number;
  failed: number;
  inProgress: number;
}

export interface LiveTask {
  progress?: TaskProgress;
  /** Whether the event stream is open; false once the task ended or the connection dropped. */
  live: boolean;
  /** Progress over time since the page opened, one sample per event. */
  samples: ProgressSample[];
}

const FINISHED_STEPS = ['succeeded', 'failed', 'cancelled'];

/**
 * A task's progress from its event stream (`GET /v1/tasks/{id}/events`, server-sent events): the
 * browser's EventSource sends the session cookie and reconnects by itself after a dropped connection.
 */
export function useLiveTask(taskId: string): LiveTask {
  const [state, setState] = useState<LiveTask>({ live: false, samples: [] });
  useEffect(() => {
    setState({ live: false, samples: [] });
    const source = new EventSource(`/v1/tasks/${encodeURIComponent(taskId)}/events`);
    const receive = (ended: boolean) => (event: MessageEvent<string>) => {
      const progress = JSON.parse(event.data) as TaskProgress;
      setState((previous) => ({
        progress,
        live: !ended,
        samples: [...previous.samples, sampleOf(progress)],
      }));
      if (ended) source.close();
    };
    source.addEventListener('progress', receive(false));
    source.addEventListener('end', receive(true));
    source.onopen = () => setState((previous) => ({ ...previous, live: true }));
    source.onerror = () => setState((previous) => ({ ...previous, live: false }));
    return () => source.close();
  }, [taskId]);
  return state;
}

function sampleOf(progress: TaskProgress): ProgressSample {
  const { byStep, byOutcome } = progress.counts;
  const started = Object.entries(byStep)
    .filter(([step]) => step !== 'pending' && !FINISHED_STEPS.includes(step))
    .reduce((sum, [, count]) => sum + count, 0);
  return {
    at: Date.now() / 1000,
    done: (byOutcome.succeeded ?? 0) + (byOutcome['already-latest'] ?? 0),
    failed: byOutcome.failed ?? 0,
    inProgress: started,
  };
}
