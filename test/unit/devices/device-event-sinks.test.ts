import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createTemporalDeviceEventSink } from '../../../src/devices/device-event-sinks';
import { signalRecordingClient as fakeClient, notFound } from './signal-recording-client';

const log = pino({ level: 'silent' });

describe('createTemporalDeviceEventSink', () => {
  it("signals the device's operation workflow by its ID, in the client's namespace", async () => {
    const { client, sent } = fakeClient();
    const sink = createTemporalDeviceEventSink(client, log);
    await sink.deviceOnline('d1');
    await sink.versionReported('d1', { softwareVersion: '1' });
    await sink.upgradeResultReported('d1', { resultCode: 7, version: '1' });
    expect(
      sent.map(({ namespace, workflowId, signal, args }) => ({
        namespace,
        workflowId,
        signalName: signal,
        args,
      })),
    ).toEqual([
      { namespace: 'fleet', workflowId: 'device-operation:d1', signalName: 'deviceOnline', args: [] },
      {
        namespace: 'fleet',
        workflowId: 'device-operation:d1',
        signalName: 'versionReported',
        args: [{ softwareVersion: '1' }],
      },
      {
        namespace: 'fleet',
        workflowId: 'device-operation:d1',
        signalName: 'upgradeResultReported',
        args: [{ resultCode: 7, version: '1' }],
      },
    ]);
  });

  it('gives a report from a recorded uplink the same request ID every time, so Temporal keeps one', async () => {
    const { client, sent } = fakeClient();
    const sink = createTemporalDeviceEventSink(client, log);
    await sink.upgradeResultReported('d1', { resultCode: 0, version: '2' }, '41.0');
    await sink.upgradeResultReported('d1', { resultCode: 0, version: '2' }, '41.0');
    await sink.versionReported('d1', { firmwareVersion: '2' }, '41.0');
    await sink.upgradeResultReported('d1', { resultCode: 0, version: '2' }, '42.0');
    await sink.deviceOnline('d1');
    await sink.deviceOnline('d1');
    const [first, again, version, other, online, onlineAgain] = sent.map((request) => request.requestId);
    expect(again).toBe(first);
    expect(new Set([first, version, other, online, onlineAgain]).size).toBe(5);
  });

  it('treats a device without a running operation as normal', async () => {
    const { client } = fakeClient(notFound());
    await expect(createTemporalDeviceEventSink(client, log).deviceOnline('d1')).resolves.toBeUndefined();
  });

  it('passes other failures on', async () => {
    const { client } = fakeClient(Object.assign(new Error('connection refused'), { code: 14 }));
    await expect(createTemporalDeviceEventSink(client, log).deviceOnline('d1')).rejects.toThrow(
      'connection refused',
    );
  });
});
