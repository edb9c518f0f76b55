/**
 * What the rollout task tests share: the time-skipping server, a PGlite database with otaflow's real
 * platform and rollout activities on it (they signal the task through the test server), the fake
 * device upgrade of rollout-workflows.ts and the script of how each device's attempts go.
 */
import { join } from 'node:path';
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { Database } from '../../src/db/database';
import { insertDevice } from '../../src/db/devices';
import { insertPackage } from '../../src/db/packages';
import { insertListedTaskDevices, insertResolvedTaskDevices } from '../../src/db/task-targets';
import { findTask, insertTask, listTaskDevices, type Task, type TaskDevice } from '../../src/db/tasks';
import { createMetrics } from '../../src/metrics/metrics';
import type { PackageDownloads } from '../../src/packages/download';
import { historyCost } from '../../src/temporal/history-cost';
import {
  OtaSearchAttributes,
  TaskQueue,
  taskWorkflowId,
  type UpgradeOutcome,
} from '../../workflows/definitions';
import type { FailureCause } from '../../workflows/failure-causes';
import { defaultCoverageRanges } from '../../workflows/lwm2m/radio-coverage';
import type {
  DeviceFilter,
  RolloutPolicy,
  RolloutTaskInput,
  TargetMode,
} from '../../workflows/rollout/definitions';
import { type RolloutProgress, rolloutTask } from '../../workflows/rollout/rollout-task';
import { timeSkippingEnv } from '../support/stack/time-skipping';
import { openTempDatabase } from '../unit/db/temp-database';
import { packageOf } from './packages';

export const MINUTE = 60_000;
const radioResources = { cellId: '/4/0/8', rsrp: '/4/0/2', sinr: '/4/0/11' };
export const HOUR = 60 * MINUTE;

/**
 * How one attempt of a fake device upgrade goes: its outcome after so many minutes (server time), the
 * device's first answer coming `realDelayMs` late (real time, for tests that cannot skip time).
 */
export interface FakeAttempt {
  outcome: UpgradeOutcome;
  cause?: FailureCause;
  minutes: number;
  realDelayMs?: number;
}

export interface FakeDeviceActivities {
  /** The script's next attempt for the device; `startedAt` is the device workflow's start (server time). */
  fakeDeviceAttempt(deviceId: string, startedAt: number): Promise<FakeAttempt>;
}

const succeedsInFiveMinutes: FakeAttempt = { outcome: 'succeeded', minutes: 5 };
/** Long enough to be still upgrading whenever a test looks, short of the seed's timeouts. */
export const hangs: FakeAttempt = { outcome: 'succeeded', minutes: 20 * 60 };

export class RolloutHarness {
  env!: TestWorkflowEnvironment;
  /** Awaiting a workflow's result through it lets the server skip time until the result is in. */
  client!: Client;
  db!: Database;
  private disposeDb!: () => Promise<void>;
  private worker!: Worker;
  private running!: Promise<void>;
  private readonly scripts = new Map<string, FakeAttempt[]>();
  /** Every attempt a device workflow made, in the order they asked for their script. */
  readonly attempts: { deviceId: string; startedAt: number }[] = [];
  private nextTask = 0;

  async start(): Promise<void> {
    this.env = await timeSkippingEnv();
    this.client = this.env.client;
    const temp = await openTempDatabase();
    this.db = temp.db;
    this.disposeDb = () => temp.dispose();
    await insertPackage(this.db, {
      id: 'software-2.0.0',
      name: 'app',
      version: '2.0.0',
      kind: 'software',
      product: 'meter',
      model: 'm1',
      supportedSourceVersions: [],
      fileName: 'software-2.0.0.bin',
      size: 4096,
      sha256: 'a3'.repeat(32),
      objectKey: 'packages/software-2.0.0',
    });
    await this.db.query(
      `insert into webhooks (id, url, secret_ciphertext, events)
       values ('wh-all', 'https://app.test/hooks', 'x', array['device.result', 'task.completed'])`,
    );
    this.worker = await Worker.create({
      connection: this.env.nativeConnection,
      taskQueue: TaskQueue.platform,
      workflowsPath: join(__dirname, 'rollout-workflows.ts'),
      activities: {
        ...createActivities({
          db: this.db,
          downloads: {} as PackageDownloads,
          temporal: this.env.client,
          metrics: createMetrics(),
        }),
        fakeDeviceAttempt: async (deviceId: string, startedAt: number) => {
          this.attempts.push({ deviceId, startedAt });
          const script = this.scripts.get(deviceId) ?? [];
          const attempt = (script.length > 1 ? script.shift() : script[0]) ?? succeedsInFiveMinutes;
          if (attempt.realDelayMs) await new Promise((resolve) => setTimeout(resolve, attempt.realDelayMs));
          return attempt;
        },
      } satisfies FakeDeviceActivities & object,
    });
    this.running = this.worker.run();
  }

  async stop(): Promise<void> {
    this.worker?.shutdown();
    await this.running;
    await this.env?.teardown();
    await this.disposeDb?.();
  }

  /**
   * Devices that go through the given attempts in turn (the last repeats); each succeeds in five
   * minutes unless told otherwise.
   */
  async addDevices(count: number, ...attempts: FakeAttempt[]): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push(await this.addTaggedDevice([], ...attempts));
    return ids;
  }

  async addTaggedDevice(tags: string[], ...attempts: FakeAttempt[]): Promise<string> {
    const id = `device-${this.scripts.size + 1}`;
    this.scripts.set(id, [...attempts]);
    await insertDevice(this.db, {
      id,
      protocol: 'mqtt',
      product: 'meter',
      model: 'm1',
      secretCiphertext: 'x',
      tags,
    });
    return id;
  }

  /** Replaces the device's script. */
  script(deviceId: string, ...attempts: FakeAttempt[]): void {
    this.scripts.set(deviceId, attempts);
  }

  /**
   * Creates the task's rows as the API does and starts its workflow: the given devices, or those a
   * filter matches.
   */
  async startTask(
    targets: string[] | { filter: DeviceFilter },
    policy: RolloutPolicy,
    options: { mode?: TargetMode; historyEventLimit?: number; sweepIntervalMs?: number } = {},
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof rolloutTask>> {
    const taskId = `task-${++this.nextTask}`;
    const mode = options.mode ?? 'snapshot';
    await this.db.transaction(async (tx) => {
      await insertTask(tx, {
        id: taskId,
        packageId: 'software-2.0.0',
        target: Array.isArray(targets) ? { deviceList: { count: targets.length } } : targets,
        mode,
        rollout: policy,
        state: policy.startAt ? 'scheduled' : 'running',
      });
      if (Array.isArray(targets)) await insertListedTaskDevices(tx, taskId, targets);
      else await insertResolvedTaskDevices(tx, taskId);
    });
    const input: RolloutTaskInput = {
      taskId,
      package: packageOf('software'),
      mode,
      policy,
      nbiot: { coverageRanges: defaultCoverageRanges, radioResources },
      ...(options.historyEventLimit ? { historyEventLimit: options.historyEventLimit } : {}),
      ...(options.sweepIntervalMs ? { sweepIntervalMs: options.sweepIntervalMs } : {}),
    };
    return this.client.workflow.start(rolloutTask, {
      workflowId: taskWorkflowId(taskId),
      taskQueue: TaskQueue.platform,
      args: [input],
      typedSearchAttributes: [{ key: OtaSearchAttributes.taskId, value: taskId }],
    });
  }

  async task(taskId: string): Promise<Task | undefined> {
    return findTask(this.db, taskId);
  }

  async devices(taskId: string): Promise<TaskDevice[]> {
    return (await listTaskDevices(this.db, taskId, { limit: 1000 })).items;
  }

  /** Start times of the given devices' attempts, in order. */
  startsOf(deviceIds: string[]): number[] {
    const ids = new Set(deviceIds);
    return this.attempts.filter((attempt) => ids.has(attempt.deviceId)).map((attempt) => attempt.startedAt);
  }

  async webhookEventIds(taskId: string): Promise<string[]> {
    const { rows } = await this.db.query<{ event_id: string }>(
      `select event_id from webhook_deliveries where payload ->> 'taskId' = $1 order by event_id`,
      [taskId],
    );
    return rows.map((row) => row.event_id);
  }

  /** What each run of the task handed to the next one when it continued as new. */
  async carriedProgress(task: WorkflowHandleWithFirstExecutionRunId): Promise<RolloutProgress[]> {
    const carried: RolloutProgress[] = [];
    for (const history of await this.runHistories(task)) {
      const last = history.events?.at(-1);
      const progress = last?.workflowExecutionContinuedAsNewEventAttributes?.input?.payloads?.[1]?.data;
      if (progress) carried.push(JSON.parse(Buffer.from(progress).toString('utf8')));
    }
    return carried;
  }

  /**
   * Timers the task cancelled, over all its runs: there should be none (the time-skipping server
   * strands a run that cancels a timer which fired meanwhile, see `Alarm` in rollout-task.ts).
   */
  async timersCancelled(task: WorkflowHandleWithFirstExecutionRunId): Promise<number> {
    const events = (await this.runHistories(task)).flatMap((history) => history.events ?? []);
    return historyCost(events).eventsByType.TimerCanceled ?? 0;
  }

  /** The histories of the task's runs, first to last. */
  private async runHistories(
    task: WorkflowHandleWithFirstExecutionRunId,
  ): Promise<temporal.api.history.v1.IHistory[]> {
    const histories: temporal.api.history.v1.IHistory[] = [];
    let runId: string | undefined = task.firstExecutionRunId;
    while (runId) {
      const history = await this.client.workflow.getHandle(task.workflowId, runId).fetchHistory();
      histories.push(history);
      runId =
        history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ??
        undefined;
    }
    return histories;
  }

  /** Polls until `check` holds, in real time (the server's time stands still meanwhile). */
  async until(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting until ${what}`);
  }
}
