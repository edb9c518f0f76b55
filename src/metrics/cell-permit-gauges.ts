/**
 * Permits held and queued in the cells an operator lists (OTAFLOW_METRICS_CELLS): each scrape asks
 * each listed cell's limiter workflow. Opt-in and listed, because a fleet has thousands of cells and
 * each would be series of its own; the whole fleet's permit waits are in
 * `otaflow_device_upgrades_in_progress{step="waiting-permit"}`.
 */
import type { WorkflowClient } from '@temporalio/client';
import { Gauge } from 'prom-client';
import { cellLimiterState } from '../temporal/cell-limiter-state';
import type { OtaflowMetrics } from './metrics';

export function exportCellPermitGauges(
  { registry }: Pick<OtaflowMetrics, 'registry'>,
  temporal: { workflow: Pick<WorkflowClient, 'getHandle'> },
  cellIds: readonly string[],
): void {
  new Gauge({
    name: 'otaflow_cell_permits',
    help: 'NB-IoT cell permits of the cells listed in OTAFLOW_METRICS_CELLS, by cell and state: held or queued',
    labelNames: ['cell', 'state'] as const,
    registers: [registry],
    async collect() {
      const states = await Promise.all(cellIds.map((cellId) => cellLimiterState(temporal, cellId)));
      for (const { cellId, holders, queue } of states) {
        this.set({ cell: cellId, state: 'held' }, holders.length);
        this.set({ cell: cellId, state: 'queued' }, queue.length);
      }
    },
  });
}
