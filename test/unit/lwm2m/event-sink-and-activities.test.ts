import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DEVICE_NOT_ONLINE } from '../../../activities/interfaces';
import {
  BATCH_ANSWER_WITHIN_MS,
  createLwm2mCommandActivities,
  INVALID_LWM2M_COMMAND,
} from '../../../activities/lwm2m-commands';
import { createTemporalLwm2mEventSink } from '../../../src/devices/device-event-sinks';
import { DeviceNotRegisteredError } from '../../../src/lwm2m/device-management';
import type { Lwm2mGatewayCommands } from '../../../src/lwm2m/gateway';
import { parseLwm2mPath } from '../../../src/lwm2m/lwm2m-path';
import type { PackageInfo } from '../../../workflows/definitions';
import { signalRecordingClient as fakeClient, notFound } from '../devices/signal-recording-client';

const log = pino({ level: 'silent' });

/** A logger at level info whose lines are kept, parsed. */
function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, log: pino({ level: 'info' }, sink) };
}

describe('createTemporalLwm2mEventSink', () => {
  it("signals the device's operation workflow by its ID", async () => {
    const { client, sent } = fakeClient();
    const sink = createTemporalLwm2mEventSink(client, log);
    await sink.deviceOnline('d1');
    await sink.resourcesReported('d1', { values: { '/3/0/3': '2.0' } });
    await sink.deviceCommandFailed('d1', {
      operation: 'read',
      paths: ['/4/0/8'],
      code: '4.04',
      detail: 'device answered 4.04 to GET /4/0/8 with Accept 0 (text/plain)',
    });
    expect(sent.map(({ workflowId, signal, args }) => ({ workflowId, signal, args }))).toEqual([
      { workflowId: 'device-operation:d1', signal: 'deviceOnline', args: [] },
      {
        workflowId: 'device-operation:d1',
        signal: 'resourcesReported',
        args: [{ values: { '/3/0/3': '2.0' } }],
      },
      {
        workflowId: 'device-operation:d1',
        signal: 'deviceCommandFailed',
        args: [
          {
            operation: 'read',
            paths: ['/4/0/8'],
            code: '4.04',
            detail: 'device answered 4.04 to GET /4/0/8 with Accept 0 (text/plain)',
          },
        ],
      },
    ]);
  });

  it('logs one line per report signalled, naming the device and its workflow', async () => {
    const { lines, log: capturing } = capturingLog();
    const sink = createTemporalLwm2mEventSink(fakeClient().client, capturing);
    await sink.resourcesReported('d1', { values: { '/5/0/3': 1 } });
    expect(lines).toEqual([
      expect.objectContaining({
        deviceId: 'd1',
        workflowId: 'device-operation:d1',
        signal: 'resourcesReported',
        msg: 'device report signalled',
      }),
    ]);
  });

  it('drops signals for a device with no operation in progress, and passes other errors on', async () => {
    const idle = createTemporalLwm2mEventSink(fakeClient(notFound()).client, log);
    await expect(idle.resourcesReported('d1', { values: {} })).resolves.toBeUndefined();
    const broken = createTemporalLwm2mEventSink(fakeClient(new Error('unavailable')).client, log);
    await expect(broken.deviceOnline('d1')).rejects.toThrow('unavailable');
  });
});

describe('createLwm2mCommandActivities', () => {
  const registered = new Set(['d1']);
  const calls: string[] = [];
  const commands: Lwm2mGatewayCommands = {
    isRegistered: (deviceId) => registered.has(deviceId),
    read(deviceId, paths) {
      if (!registered.has(deviceId)) throw new DeviceNotRegisteredError(deviceId);
      for (const path of paths) parseLwm2mPath(path);
      calls.push(`read ${paths.join(',')}`);
    },
    write: (_d, path, value) => void calls.push(`write ${path}=${value}`),
    execute: (_d, path) => void calls.push(`execute ${path}`),
    observe: (_d, paths) => void calls.push(`observe ${paths.join(',')}`),
    cancelObservation: (_d, paths) => void calls.push(`cancel ${paths.join(',')}`),
    async sendBatch(_d, operations, { quiet, answerWithinMs }) {
      for (const operation of operations) {
        if (operation.op === 'read') for (const path of operation.paths) parseLwm2mPath(path);
      }
      calls.push(
        `batch ${JSON.stringify(operations)} quiet=${JSON.stringify(quiet)} within=${answerWithinMs}`,
      );
      return { values: { '/3/0/3': '1.0.0' }, refused: [], kept: {} };
    },
    packageUri: (pkg) => `coap://gw:5683/fw/${pkg.id}/${pkg.sha256.slice(0, 16)}`,
  };
  const steps: string[] = [];
  const activities = createLwm2mCommandActivities({
    gateway: { commands },
    steps: {
      recordUpgradeStep: async (taskId, deviceId, step, details) =>
        void steps.push(`${taskId} ${deviceId} ${step} ${details?.fromVersion}`),
    },
  });
  const pkg = { id: 'p1', sha256: 'ab'.repeat(32) } as PackageInfo;

  it('records a batch step first, then sends its operations with the package URI resolved', async () => {
    calls.length = 0;
    const answer = await activities.lwm2mSend('d1', {
      operations: [
        { op: 'observe', paths: ['/5/0/3'] },
        { op: 'write-package-uri', path: '/5/0/1', package: pkg },
      ],
      quiet: { '/5/0/3': [0, 1] },
      step: { taskId: 't1', step: 'downloading', fromVersion: '1.0.0' },
    });

    expect(steps).toEqual(['t1 d1 downloading 1.0.0']);
    expect(calls).toEqual([
      `batch ${JSON.stringify([
        { op: 'observe', paths: ['/5/0/3'] },
        { op: 'write', path: '/5/0/1', value: 'coap://gw:5683/fw/p1/abababababababab' },
      ])} quiet={"/5/0/3":[0,1]} within=${BATCH_ANSWER_WITHIN_MS}`,
    ]);
    expect(answer).toEqual({ values: { '/3/0/3': '1.0.0' }, refused: [], kept: {} });
    await expect(activities.lwm2mSend('d2', { operations: [] })).rejects.toMatchObject({
      type: DEVICE_NOT_ONLINE,
      nonRetryable: true,
    });
  });

  it('logs one line per batch sent, naming the device, its workflow and the operations', async () => {
    const { lines, log: capturing } = capturingLog();
    const logging = createLwm2mCommandActivities({
      gateway: { commands },
      steps: { recordUpgradeStep: async () => undefined },
      log: capturing,
    });
    await logging.lwm2mSend('d1', {
      operations: [
        { op: 'observe', paths: ['/5/0/3'] },
        { op: 'write-package-uri', path: '/5/0/1', package: pkg },
      ],
    });
    expect(lines).toEqual([
      expect.objectContaining({
        deviceId: 'd1',
        workflowId: 'device-operation:d1',
        command: 'observe,write-package-uri',
        msg: 'device command sent',
      }),
    ]);
  });

  it('fails without retries for a device with no registration, or a malformed path', async () => {
    const read = (deviceId: string, path: string) =>
      activities.lwm2mSend(deviceId, { operations: [{ op: 'read', paths: [path] }] });
    const notOnline = await read('d2', '/3/0/3').catch((error: unknown) => error);
    expect(notOnline).toBeInstanceOf(ApplicationFailure);
    expect(notOnline).toMatchObject({ type: DEVICE_NOT_ONLINE, nonRetryable: true });
    await expect(read('d1', '/3/zero/3')).rejects.toMatchObject({
      type: INVALID_LWM2M_COMMAND,
      nonRetryable: true,
    });
  });
});
