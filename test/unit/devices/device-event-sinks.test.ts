import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createTemporalDeviceEventSink } from '../../../src/devices/device-event-sinks';

/** A stand-in for the Temporal client that records signals and fails as told. */
function fakeClient(fail?: Error) {
  const sent: Array<{ workflowId: string; signal: string; args: unknown[] }> = [];
  const client = {
    workflow: {
      getHandle: (workflowId: string) => ({
        signal: async (definition: { name: string }, ...args: unknown[]) => {
          if (fail) throw fail;
          sent.push({ workflowId, signal: definition.name, args });
        },
      }),
    },
  } as unknown as Client;
  return { client, sent };
}

const log = pino({ level: 'silent' });

describe('createTemporalDeviceEventSink', () => {
  it("signals the device's operation workflow by its ID", async () => {
    const { client, sent } = fakeClient();
    const sink = createTemporalDeviceEventSink(client, log);
    await sink.deviceOnline('d1');
    await sink.versionReported('d1', { softwareVersion: '1' });
    await sink.upgradeResultReported('d1', { resultCode: 7, version: '1' });
    expect(sent).toEqual([
      { workflowId: 'device-operation:d1', signal: 'deviceOnline', args: [] },
      { workflowId: 'device-operation:d1', signal: 'versionReported', args: [{ softwareVersion: '1' }] },
      {
        workflowId: 'device-operation:d1',
        signal: 'upgradeResultReported',
        args: [{ resultCode: 7, version: '1' }],
      },
    ]);
  });

  it('treats a device without a running operation as normal', async () => {
    const { client } = fakeClient(new WorkflowNotFoundError('not found', 'device-operation:d1', undefined));
    await expect(createTemporalDeviceEventSink(client, log).deviceOnline('d1')).resolves.toBeUndefined();
  });

  it('passes other failures on', async () => {
    const { client } = fakeClient(new Error('connection refused'));
    await expect(createTemporalDeviceEventSink(client, log).deviceOnline('d1')).rejects.toThrow(
      'connection refused',
    );
  });
});
