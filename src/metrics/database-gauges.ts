/**
 * What the shared database says at each scrape: tasks by state, upgrades in progress by step, devices
 * connected by protocol, and the webhook deliveries waiting. Every process with role `api` exports them, each the same figures:
 * aggregate them with `max`, not `sum`.
 */
import { Gauge } from 'prom-client';
import type { Database } from '../db/database';
import type { OtaflowMetrics } from './metrics';

export function exportDatabaseGauges(
  { registry }: Pick<OtaflowMetrics, 'registry'>,
  db: Pick<Database, 'query'>,
): void {
  /** A gauge of row counts by one column: `sql` selects `value` and `count`. */
  const countsBy = (name: string, help: string, label: string, sql: string) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      async collect() {
        const { rows } = await db.query<{ value: string; count: number }>(sql);
        this.reset();
        for (const { value, count } of rows) this.set({ [label]: value }, count);
      },
    });
  countsBy(
    'otaflow_tasks',
    'Upgrade tasks by state (running, cancelling, completed, cancelled)',
    'state',
    'select state as value, count(*)::int as count from tasks group by state',
  );
  // The partial index task_devices_in_flight covers exactly these rows.
  countsBy(
    'otaflow_device_upgrades_in_progress',
    'Device upgrades of tasks that have not ended, by the step they are at (pending, waiting-online, downloading, …)',
    'step',
    'select step as value, count(*)::int as count from task_devices where finished_at is null group by step',
  );
  countsBy(
    'otaflow_devices_connected',
    'Devices the registry sees connected (MQTT) or registered (LwM2M), by protocol',
    'protocol',
    'select protocol as value, count(*)::int as count from devices where online group by protocol',
  );
  // Both from the partial index webhook_deliveries_due, which holds exactly the waiting deliveries.
  const waiting = 'from webhook_deliveries where delivered_at is null and failed_at is null';
  new Gauge({
    name: 'otaflow_webhook_deliveries_waiting',
    help: 'Webhook deliveries not yet accepted by their receiver and not given up on',
    registers: [registry],
    async collect() {
      const { rows } = await db.query<{ count: number }>(`select count(*)::int as count ${waiting}`);
      this.set(rows[0]?.count ?? 0);
    },
  });
  new Gauge({
    name: 'otaflow_webhook_oldest_waiting_seconds',
    help: 'Age of the oldest webhook delivery still waiting (0 when none): how far receivers lag behind',
    registers: [registry],
    async collect() {
      const { rows } = await db.query<{ seconds: number | null }>(
        `select extract(epoch from now() - min(created_at))::float8 as seconds ${waiting}`,
      );
      this.set(rows[0]?.seconds ?? 0);
    },
  });
}
