import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exportCellPermitGauges } from '../../../src/metrics/cell-permit-gauges';
import { exportDatabaseGauges } from '../../../src/metrics/database-gauges';
import { meteredDatabase } from '../../../src/metrics/database-metrics';
import { createMetrics } from '../../../src/metrics/metrics';
import { requireBinary } from '../../../src/stack/binaries';

/**
 * The Grafana dashboard and the Prometheus alert rules in deploy/: each loads as Grafana and
 * Prometheus load it (components/observability-check: the Grafana Foundation SDK's strict decoding,
 * Prometheus' own rule loader and PromQL parser), the checker refuses a broken one, and every otaflow
 * metric they query is one otaflow exports.
 */

const DEPLOY = path.resolve(__dirname, '../../../deploy');
const DASHBOARD = path.join(DEPLOY, 'grafana/otaflow-dashboard.json');
const RULES = path.join(DEPLOY, 'prometheus/otaflow-alerts.yml');
const unreachable = (): never => {
  throw new Error('not called: only the metrics are registered');
};
const scratch = mkdtempSync(path.join(os.tmpdir(), 'otaflow-observability-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function check(kind: 'dashboard' | 'rules', file: string): { status: number | null; output: string } {
  const checker = requireBinary('observability-check', 'the dashboard and alert rules test');
  const result = spawnSync(checker, [kind, file], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function variant(name: string, text: string): string {
  const file = path.join(scratch, name);
  writeFileSync(file, text);
  return file;
}

/** The otaflow_* metric names a text queries, histogram series reduced to their metric. */
function otaflowMetricsIn(text: string): string[] {
  const names = [...text.matchAll(/\botaflow_[a-z_]+/g)].map(([name]) =>
    name.replace(/_(bucket|count|sum)$/, ''),
  );
  return [...new Set(names)].sort();
}

describe('the Grafana dashboard', () => {
  it('loads as Grafana reads it, every query parsed as PromQL', () => {
    expect(check('dashboard', DASHBOARD)).toEqual({ status: 0, output: 'ok\n' });
  });

  it('is refused with a misspelt field or a query that is not PromQL', () => {
    const text = readFileSync(DASHBOARD, 'utf8');
    const misspelt = check(
      'dashboard',
      variant('misspelt.json', text.replace('"gridPos"', '"gridPosition"')),
    );
    expect(misspelt.status).toBe(1);
    expect(misspelt.output).toMatch(/gridPosition/);
    const broken = check(
      'dashboard',
      variant(
        'broken.json',
        text.replace('max by (step) (otaflow_device_upgrades_in_progress)', 'max by (step ('),
      ),
    );
    expect(broken.status).toBe(1);
    expect(broken.output).toMatch(/panel "Upgrades in progress, by step", query max by \(step \(/);
  });
});

describe('the Prometheus alert rules', () => {
  it("load with Prometheus' own rule loader", () => {
    expect(check('rules', RULES)).toEqual({ status: 0, output: 'ok\n' });
    const alerts = (
      parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string }> }> }
    ).groups.flatMap((group) => group.rules.map((rule) => rule.alert));
    expect(alerts).toEqual(
      expect.arrayContaining([
        'OtaflowUpgradeFailureRateHigh',
        'OtaflowDeviceReportsStalled',
        'OtaflowWebhookBacklogGrowing',
        'OtaflowWorkerTaskSlotsExhausted',
      ]),
    );
  });

  it('are refused with an expression that is not PromQL', () => {
    const text = readFileSync(RULES, 'utf8');
    const broken = check(
      'rules',
      variant('broken.yml', text.replace('== 0\n        for: 10m', '== \n        for: 10m')),
    );
    expect(broken.status).toBe(1);
    expect(broken.output).toMatch(/OtaflowWorkerTaskSlotsExhausted|parse error/);
  });
});

describe('what the dashboard and the alerts query', () => {
  it('is only metrics otaflow exports', async () => {
    const metrics = createMetrics();
    const noRows = async () => ({ rows: [] });
    exportDatabaseGauges(metrics, { query: noRows });
    exportCellPermitGauges(metrics, { workflow: { getHandle: () => unreachable() } }, []);
    meteredDatabase(
      {
        query: noRows,
        transaction: unreachable,
        connections: () => ({ total: 0, idle: 0, waiting: 0 }),
        close: unreachable,
      },
      metrics,
    );
    const exported = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);
    for (const file of [DASHBOARD, RULES]) {
      const queried = otaflowMetricsIn(readFileSync(file, 'utf8'));
      expect(queried.length).toBeGreaterThan(3);
      expect(queried.filter((name) => !exported.includes(name))).toEqual([]);
    }
  });
});
