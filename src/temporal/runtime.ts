import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;

/**
 * The Temporal SDK's process-wide runtime, logging warnings and errors only: its per-worker state
 * changes and bundler output would drown otaflow's own logs. Installed once, before any worker.
 */
export function installTemporalRuntime(): void {
  if (installed) return;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  installed = true;
}
