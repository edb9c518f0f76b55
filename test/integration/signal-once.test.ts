import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTemporalDeviceEventSink } from '../../src/devices/device-event-sinks';
import { deviceOperationWorkflowId, upgradeResultReportedSignal } from '../../workflows/definitions';
import { startTestTemporal, type TestTemporal } from '../support/stack/components';

/**
 * A report handled twice from the same recorded uplink (a gateway that restarted after signalling it
 * but before forgetting it) reaches the workflow once: Temporal keeps one signal per request ID, and
 * the sink derives it from the uplink. A new uplink with the same report is a new signal.
 */
describe('a recorded uplink signalled again', () => {
  let temporal: TestTemporal;
  let connection: Connection;

  beforeAll(async () => {
    temporal = await startTestTemporal();
    connection = await Connection.connect({ address: temporal.address });
  }, 120_000);

  afterAll(async () => {
    await connection?.close();
    await temporal?.stop();
  });

  it("is one signal in the workflow's history", async () => {
    const client = new Client({ connection });
    // No worker needs to run it: signals are recorded in the history as they arrive.
    const handle = await client.workflow.start('deviceOperationProbe', {
      taskQueue: 'nobody-polls-this',
      workflowId: deviceOperationWorkflowId('signal-once-1'),
    });
    const sink = createTemporalDeviceEventSink(client, pino({ level: 'silent' }));
    const report = { resultCode: 0, version: '2.0.0', receivedAt: '2026-12-06T21:00:00.000Z' };
    await sink.upgradeResultReported('signal-once-1', report, '7.0');
    await sink.upgradeResultReported('signal-once-1', report, '7.0');
    await sink.upgradeResultReported('signal-once-1', report, '8.0');

    const history = await handle.fetchHistory();
    const signals = (history.events ?? []).filter(
      (event) =>
        event.workflowExecutionSignaledEventAttributes?.signalName === upgradeResultReportedSignal.name,
    );
    expect(signals).toHaveLength(2);
    await handle.terminate('test over');
  }, 60_000);
});
