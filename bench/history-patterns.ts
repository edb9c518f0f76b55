/**
 * `npx tsx bench/history-patterns.ts --query '<visibility query>' [--address host:port] [--limit 300]`:
 * the event sequences of the matching workflow runs, most common first, each with its workflow
 * tasks and timers. Shows where two flows' histories differ in shape (e.g. a timer started because
 * a device answered after its command's activity had completed, at the price of one more workflow
 * task). Run it against a server that keeps the benchmark's histories: start a dev server yourself
 * and give it to `npm run bench` as `TEMPORAL_ADDRESS`.
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { eventTypeName } from '../src/temporal/history-cost';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** A workflow task's three events are one `WorkflowTask` step; every other event is its type name. */
export function eventSequence(events: HistoryEvent[]): string[] {
  const steps: string[] = [];
  for (const event of events) {
    const type = eventTypeName(event);
    if (type === 'WorkflowTaskScheduled' || type === 'WorkflowTaskStarted') continue;
    steps.push(type === 'WorkflowTaskCompleted' ? 'WorkflowTask' : type);
  }
  return steps;
}

export interface SequencePattern {
  sequence: string;
  runs: number;
  workflowTasks: number;
  timers: number;
}

/** Sequences counted by how many runs had them, the most common first. */
export function countPatterns(sequences: string[][]): SequencePattern[] {
  const patterns = new Map<string, SequencePattern>();
  for (const steps of sequences) {
    const sequence = steps.join(' ');
    const pattern = patterns.get(sequence) ?? {
      sequence,
      runs: 0,
      workflowTasks: steps.filter((step) => step === 'WorkflowTask').length,
      timers: steps.filter((step) => step === 'TimerStarted').length,
    };
    pattern.runs += 1;
    patterns.set(sequence, pattern);
  }
  return [...patterns.values()].sort((a, b) => b.runs - a.runs);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      address: { type: 'string', default: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' },
      namespace: { type: 'string', default: process.env.TEMPORAL_NAMESPACE ?? 'default' },
      query: { type: 'string' },
      limit: { type: 'string', default: '300' },
    },
  });
  if (!values.query) throw new Error('--query is required: a visibility query, e.g. OtaTaskId = "task_…"');
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new Error(`--limit must be a positive integer, not ${values.limit}`);
  const connection = await Connection.connect({ address: values.address });
  try {
    const client = new Client({ connection, namespace: values.namespace });
    const sequences: string[][] = [];
    for await (const execution of client.workflow.list({ query: values.query })) {
      if (sequences.length >= limit) break;
      const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      sequences.push(eventSequence(history.events ?? []));
    }
    const patterns = countPatterns(sequences);
    const mean = (of: (pattern: SequencePattern) => number) =>
      (patterns.reduce((sum, pattern) => sum + of(pattern) * pattern.runs, 0) / sequences.length).toFixed(2);
    console.log(
      `${sequences.length} runs: ${mean((p) => p.workflowTasks)} workflow tasks and ${mean((p) => p.timers)} timers per run`,
    );
    for (const pattern of patterns.slice(0, 8)) {
      console.log(`\n${pattern.runs}× (${pattern.workflowTasks} workflow tasks, ${pattern.timers} timers)`);
      console.log(`  ${pattern.sequence}`);
    }
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
