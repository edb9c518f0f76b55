/**
 * Every recorded history in ./histories/<release>/ must replay against the current workflow code. A
 * failure here means a change would break workflows in flight on that release: see
 * docs/versioning.md before touching a history. Every workflow type the worker registers must have
 * histories of the current release, so no type escapes the check.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resource } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { Worker } from '@temporalio/worker';
import { expect, it } from 'vitest';
import { version } from '../../package.json';
import { WORKFLOW_TRACING_INTERCEPTORS } from '../../src/temporal/workflow-bundle';
import * as workflows from '../../workflows';

const historiesDir = join(__dirname, 'histories');
const workflowsPath = join(__dirname, '../../workflows/index.ts');
const historyFiles = readdirSync(historiesDir, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.json'))
  .sort();

function workflowTypeOf(file: string): string | undefined {
  const history = JSON.parse(readFileSync(join(historiesDir, file), 'utf8'));
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
}

it(`has histories of the current release (${version}) for every workflow type the worker registers`, () => {
  const current = historyFiles.filter((file) => file.startsWith(`${version}/`));
  const covered = new Set(current.map(workflowTypeOf));
  expect(Object.keys(workflows).filter((type) => !covered.has(type))).toEqual([]);
});

it('has only histories of workflow types the worker registers', () => {
  const registered = new Set(Object.keys(workflows));
  expect(historyFiles.filter((file) => !registered.has(workflowTypeOf(file) ?? ''))).toEqual([]);
});

const histories = () =>
  historyFiles.map((file) => ({
    workflowId: file.replace(/\.json$/, ''),
    history: historyFromJSON(JSON.parse(readFileSync(join(historiesDir, file), 'utf8'))),
  }));

it('replays every recorded history without nondeterminism', async () => {
  const failures: string[] = [];
  for await (const replay of Worker.runReplayHistories({ workflowsPath }, histories())) {
    if (replay.error) failures.push(`${replay.workflowId}: ${replay.error.message}`);
  }

  expect(failures).toEqual([]);
});

// Tracing switched on (OTEL_*) while upgrades recorded without it are in flight: the workflows then
// run OpenTelemetry's workflow interceptors (src/temporal/workflow-bundle.ts).
it('replays every recorded history with the tracing interceptors without nondeterminism', async () => {
  const exported = new InMemorySpanExporter();
  const failures: string[] = [];
  const replays = Worker.runReplayHistories(
    {
      workflowsPath,
      interceptors: { workflowModules: [WORKFLOW_TRACING_INTERCEPTORS] },
      sinks: { exporter: makeWorkflowExporter(new SimpleSpanProcessor(exported), Resource.default()) },
    },
    histories(),
  );
  for await (const replay of replays) {
    if (replay.error) failures.push(`${replay.workflowId}: ${replay.error.message}`);
  }

  expect(failures).toEqual([]);
  // A replay re-runs what happened: it exports nothing twice.
  expect(exported.getFinishedSpans()).toEqual([]);
});
