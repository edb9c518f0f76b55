/**
 * Where the rollouts stand, read from the database at each scrape: tasks by state and the upgrades in
 * progress by step. Every process with role `api` exports them, each the same figures: aggregate them
 * with `max`, not `sum`.
 */
import { Gauge } from 'prom-client';
import type { Database } from '../db/database';
import type { OtaflowMetrics } from './metrics';

export function exportRolloutGauges(
  { registry }: Pick<OtaflowMetrics, 'registry'>,
  db: Pick<Database, 'query'>,
): void {
  new Gauge({
    name: 'otaflow_tasks',
    help: 'Upgrade tasks by state (running, cancelling, completed, cancelled)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const { rows } = await db.query<{ state: string; count: number }>(
        'select state, count(*)::int as count from tasks group by state',
      );
      this.reset();
      for (const { state, count } of rows) this.set({ state }, count);
    },
  });
  new Gauge({
    name: 'otaflow_device_upgrades_in_progress',
    help: 'Device upgrades of tasks that have not ended, by the step they are at (pending, waiting-online, downloading, …)',
    labelNames: ['step'] as const,
    registers: [registry],
    async collect() {
      // The partial index task_devices_in_flight covers exactly these rows.
      const { rows } = await db.query<{ step: string; count: number }>(
        'select step, count(*)::int as count from task_devices where finished_at is null group by step',
      );
      this.reset();
      for (const { step, count } of rows) this.set({ step }, count);
    },
  });
}
