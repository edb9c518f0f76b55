import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;

/**
 * The Temporal SDK's process-wide runtime, logging warnings and errors only: its per-worker state
 * changes and bundler output would drown otaflow's own logs. Installed once, before any worker.
 * `metricsAddress` (host:port): where the SDK serves its own worker metrics (task slots, poll and
 * schedule-to-start latencies, sticky cache) to Prometheus, with Prometheus' naming conventions.
 */
export function installTemporalRuntime(options: { metricsAddress?: string } = {}): void {
  if (installed) return;
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: options.metricsAddress
      ? {
          metrics: {
            prometheus: {
              bindAddress: options.metricsAddress,
              countersTotalSuffix: true,
              unitSuffix: true,
              useSecondsForDurations: true,
            },
          },
        }
      : undefined,
  });
  installed = true;
}
