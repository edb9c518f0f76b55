import path from 'node:path';
import { Writable } from 'node:stream';
import { SpanKind } from '@opentelemetry/api';
import { Resource } from '@opentelemetry/resources';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { deviceCredentials } from '../../src/mqtt/device-auth';
import { SimulatedLwm2mDevice } from '../../src/simulator/lwm2m-device';
import { SimulatedMqttDevice } from '../../src/simulator/mqtt-device';
import { WORKFLOW_TRACING_INTERCEPTORS } from '../../src/temporal/workflow-bundle';
import { deviceOperationWorkflowId, taskWorkflowId } from '../../workflows/definitions';
import { MqttResultCode } from '../../workflows/failure-causes';
import { cellLimiterWorkflowId } from '../../workflows/lwm2m/definitions';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { outcomesOf, runTaskToCompletion, uploadFirmware } from '../support/rollout';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

/**
 * Tracing on a real rollout on the real stack, its spans ending in an in-memory exporter: a task of
 * three devices (an MQTT device that upgrades, one that refuses with the seed's storage cause, an
 * LwM2M device that upgrades). Each device upgrade is one connected trace from the API call that
 * created its task, through the workflows, activities and each command to the device, to the
 * device's reports, which carry no trace context of their own. Log lines written inside those spans
 * carry the trace ID.
 */

const PRODUCT = { product: 'traced-meter', model: 'TM-1' };
const credentialsHour = new Date();
const secretOf = (deviceId: string) => `secret-of-${deviceId}`;
const ids = { upgrades: 'traced-ok', refuses: 'traced-full', lwm2m: 'traced-nb' };

let stack: RealStack;
let platform: TestPlatform;
const exporter = new InMemorySpanExporter();
const logLines: Array<Record<string, unknown>> = [];
const mqttDevices: SimulatedMqttDevice[] = [];
let lwm2mDevice: SimulatedLwm2mDevice | undefined;
let taskId: string | undefined;

beforeAll(async () => {
  stack = await startRealStack({
    deviceAccounts: [ids.upgrades, ids.refuses].map((id) =>
      deviceCredentials(id, secretOf(id), '0', credentialsHour),
    ),
  });
  const logs = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  platform = await startTestPlatform(stack, {
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    // Info lines included, whatever level the test run logs at.
    log: createLogger(logs).child({ test: 'tracing' }, { level: 'info' }),
  });
  for (const id of [ids.upgrades, ids.refuses]) {
    await platform.api.post('/v1/devices', { id, protocol: 'mqtt', ...PRODUCT, secret: secretOf(id) });
    const device = new SimulatedMqttDevice({
      deviceId: id,
      secret: secretOf(id),
      brokerUrl: stack.mqtt.url,
      firmwareVersion: '1.0.0',
      credentialsHour,
      failWith: id === ids.refuses ? { resultCode: MqttResultCode.notEnoughSpace } : undefined,
    });
    await device.start();
    mqttDevices.push(device);
  }
  await platform.api.post('/v1/devices', { id: ids.lwm2m, protocol: 'lwm2m', ...PRODUCT });
  lwm2mDevice = new SimulatedLwm2mDevice({
    endpoint: ids.lwm2m,
    serverUri: platform.addresses.lwm2m,
    cellId: 7,
    rsrp: -85,
    sinr: 12,
    firmwareVersion: '1.0.0',
    updatedVersion: '2.0.0',
    blockSize: 512,
    updateDurationMs: 50,
  });
  await lwm2mDevice.start();
}, 180_000);

afterAll(async () => {
  for (const device of mqttDevices) await device.stop();
  await lwm2mDevice?.stop();
  await platform?.stop();
  await stack?.stop();
}, 60_000);

/** The spans about one device's upgrade: its workflow's, its activities', and those naming the device. */
function spansOfUpgrade(spans: ReadableSpan[], deviceId: string): ReadableSpan[] {
  const workflowId = deviceOperationWorkflowId(deviceId);
  return spans.filter(
    (span) =>
      span.attributes.workflowId === workflowId ||
      span.attributes.temporalWorkflowId === workflowId ||
      span.attributes['otaflow.device_id'] === deviceId,
  );
}

/** The names of the span's ancestors, nearest first. */
function ancestorsOf(span: ReadableSpan, byId: Map<string, ReadableSpan>): string[] {
  const names: string[] = [];
  for (let parent = byId.get(span.parentSpanId ?? ''); parent; parent = byId.get(parent.parentSpanId ?? '')) {
    names.push(parent.name);
  }
  return names;
}

describe('tracing a rollout', () => {
  it('makes each device upgrade one connected trace from the API call to the device’s report', async () => {
    const pkg = await uploadFirmware(platform.api, { ...PRODUCT, version: '2.0.0' });
    taskId = await runTaskToCompletion(platform.api, pkg.id, Object.values(ids), 120_000);
    expect(await outcomesOf(platform.api, taskId)).toEqual({
      [ids.upgrades]: 'succeeded',
      [ids.refuses]: 'failed',
      [ids.lwm2m]: 'succeeded',
    });
    // The task's run span ends with the task's last workflow task, after the API says it completed.
    await expect
      .poll(() => exporter.getFinishedSpans().some((span) => span.name === 'RunWorkflow:rolloutTask'), {
        timeout: 10_000,
      })
      .toBe(true);

    const spans = exporter.getFinishedSpans();
    const request = spans.find((span) => span.name === 'POST /v1/tasks');
    expect(request?.kind).toBe(SpanKind.SERVER);
    expect(request?.parentSpanId).toBeUndefined();
    const traceId = request?.spanContext().traceId;
    const trace = spans.filter((span) => span.spanContext().traceId === traceId);
    const byId = new Map(trace.map((span) => [span.spanContext().spanId, span]));
    // Connected: every span of the trace but the request's has its parent in the trace.
    expect(trace.filter((span) => span !== request && !byId.has(span.parentSpanId ?? ''))).toEqual([]);

    for (const deviceId of Object.values(ids)) {
      const upgrade = spansOfUpgrade(spans, deviceId);
      // One trace: the task's, begun by the API call.
      expect(new Set(upgrade.map((span) => span.spanContext().traceId))).toEqual(new Set([traceId]));
      const flow = deviceId === ids.lwm2m ? 'lwm2mFirmwareUpgrade' : 'mqttUpgrade';
      const runs = upgrade.filter((span) => span.name === `RunWorkflow:${flow}`);
      expect(runs).toHaveLength(1);
      expect(ancestorsOf(runs[0] as ReadableSpan, byId)).toEqual([
        `StartChildWorkflow:${flow}`,
        'RunWorkflow:rolloutTask',
        'StartWorkflow:rolloutTask',
        'POST /v1/tasks',
      ]);
      // Its result reaches the task: recorded by an activity of the upgrade.
      expect(upgrade.map((span) => span.name)).toContain('RunActivity:notifyDeviceResult');
    }

    for (const deviceId of [ids.upgrades, ids.refuses]) {
      const upgrade = spansOfUpgrade(spans, deviceId);
      // Each command to the device, published inside the activity that sends it.
      const published = upgrade.filter((span) => span.name === 'mqtt publish downlink');
      expect(published.length).toBeGreaterThanOrEqual(2);
      for (const span of published) {
        expect(span.kind).toBe(SpanKind.PRODUCER);
        expect(ancestorsOf(span, byId)[0]).toMatch(/^RunActivity:(queryVersionIfOnline|deliverUpgrade)$/);
      }
      // The device's result: received, signalled, handled by the workflow, under the command it answers.
      const handled = upgrade.find((span) => span.name === 'HandleSignal:upgradeResultReported');
      expect(handled && ancestorsOf(handled, byId).slice(0, 3)).toEqual([
        'SignalWorkflow:upgradeResultReported',
        'mqtt receive uplink',
        'RunActivity:deliverUpgrade',
      ]);
    }

    const lwm2m = spansOfUpgrade(spans, ids.lwm2m);
    const coapCommands = lwm2m.filter(
      (span) => span.kind === SpanKind.CLIENT && span.name.startsWith('coap '),
    );
    expect(coapCommands.map((span) => span.name)).toEqual(
      expect.arrayContaining(['coap GET', 'coap PUT', 'coap POST']),
    );
    const reported = lwm2m.find((span) => span.name === 'HandleSignal:resourcesReported');
    expect(reported && ancestorsOf(reported, byId).slice(0, 2)).toEqual([
      'SignalWorkflow:resourcesReported',
      'coap receive report',
    ]);
    // The cell's permit: requested, queued at the limiter and granted, all in the requester's trace;
    // the limiter's own run, which serves every upgrade in the cell, is a trace of its own.
    const granted = lwm2m.find((span) => span.name === 'HandleSignal:permitGranted');
    expect(granted && ancestorsOf(granted, byId).slice(0, 4)).toEqual([
      'SignalWorkflow:permitGranted',
      'HandleSignal:requestPermit',
      'SignalWithStartWorkflow:cellLimiter',
      'RunActivity:requestCellPermit',
    ]);
    const limiterRun = spans.find((span) => span.name === 'RunWorkflow:cellLimiter');
    expect(limiterRun?.parentSpanId).toBeUndefined();
    expect(limiterRun?.spanContext().traceId).not.toBe(traceId);

    // The logs of what was traced carry the trace: each report signalled, each command sent.
    const signalled = logLines.filter((line) => line.msg === 'device report signalled');
    expect(signalled.length).toBeGreaterThanOrEqual(3);
    for (const line of signalled) expect(line.trace_id).toBe(traceId);
    const commands = logLines.filter((line) => line.msg === 'device command sent');
    expect(commands.length).toBeGreaterThanOrEqual(5);
    for (const line of commands) expect(line.trace_id).toBe(traceId);
    const taskRequestLog = logLines.find((line) => line.msg === 'POST /v1/tasks 201');
    expect(taskRequestLog?.trace_id).toBe(traceId);
  });

  it('leaves histories that replay with tracing on, and with tracing switched off', async () => {
    if (!taskId) throw new Error('the traced rollout did not run');
    const workflowIds = [
      taskWorkflowId(taskId),
      ...Object.values(ids).map(deviceOperationWorkflowId),
      cellLimiterWorkflowId('7'),
    ];
    const histories = await Promise.all(
      workflowIds.map(async (workflowId) => ({
        workflowId,
        history: await platform.temporal.workflow.getHandle(workflowId).fetchHistory(),
      })),
    );
    const workflowsPath = path.join(__dirname, '../../workflows/index.ts');
    const traced = {
      workflowsPath,
      interceptors: { workflowModules: [WORKFLOW_TRACING_INTERCEPTORS] },
      sinks: {
        exporter: makeWorkflowExporter(
          new SimpleSpanProcessor(new InMemorySpanExporter()),
          Resource.default(),
        ),
      },
    };
    for (const options of [traced, { workflowsPath }]) {
      const failures: string[] = [];
      for await (const replay of Worker.runReplayHistories(options, histories)) {
        if (replay.error) failures.push(`${replay.workflowId}: ${replay.error.message}`);
      }
      expect(failures).toEqual([]);
    }
  }, 120_000);
});
