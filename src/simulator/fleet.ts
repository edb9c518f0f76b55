/**
 * A fleet of simulated MQTT devices with a mix of behaviours, for the demo and integration tests:
 * most upgrade cleanly, and a few show each failure path the seed names.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger';
import { type SimulatedDeviceBehaviour, SimulatedMqttDevice } from './mqtt-device';

export interface FleetDevicePlan {
  deviceId: string;
  /** Register the device with this secret before starting it. */
  secret: string;
  /** What the device does, in words, for the demo's listing. */
  behaviourName: string;
  behaviour: SimulatedDeviceBehaviour;
  softwareVersion: string;
  firmwareVersion: string;
}

/** Behaviours dealt out in turn; the healthy one repeats so that most of a fleet succeeds. */
const BEHAVIOUR_MIX: Array<{ name: string; behaviour: SimulatedDeviceBehaviour }> = [
  { name: 'healthy', behaviour: {} },
  { name: 'healthy, slow download', behaviour: { downloadDelayMs: 3_000 } },
  { name: 'connection drops once, resumes with Range', behaviour: { dropConnectionOnceAt: 1024 } },
  { name: 'healthy', behaviour: {} },
  {
    name: 'not enough storage (result code 5)',
    behaviour: { failWith: { resultCode: 5, description: 'flash full' } },
  },
  { name: 'corrupted download (integrity check fails)', behaviour: { corruptDownload: true } },
  { name: 'healthy', behaviour: {} },
  { name: 'reports the wrong version after upgrading', behaviour: { reportWrongVersion: true } },
  { name: 'never answers version queries', behaviour: { silent: true } },
  { name: 'offline (never connects)', behaviour: { offline: true } },
];

export interface FleetPlanOptions {
  count: number;
  idPrefix?: string;
  softwareVersion?: string;
  firmwareVersion?: string;
}

export function planFleet(options: FleetPlanOptions): FleetDevicePlan[] {
  const prefix = options.idPrefix ?? 'sim-mqtt';
  return Array.from({ length: options.count }, (_, index) => {
    const mix = BEHAVIOUR_MIX[index % BEHAVIOUR_MIX.length] ?? { name: 'healthy', behaviour: {} };
    return {
      deviceId: `${prefix}-${String(index + 1).padStart(3, '0')}`,
      secret: randomBytes(16).toString('hex'),
      behaviourName: mix.name,
      behaviour: mix.behaviour,
      softwareVersion: options.softwareVersion ?? '1.0.0',
      firmwareVersion: options.firmwareVersion ?? '1.0.0',
    };
  });
}

export interface Fleet {
  devices: SimulatedMqttDevice[];
  stop(): Promise<void>;
}

/**
 * Starts every planned device (offline ones stay disconnected until their connect() is called), on
 * `brokerUrl`; with `ca`, verifying an `mqtts:` broker and HTTPS downloads against it.
 */
export async function startFleet(
  plan: FleetDevicePlan[],
  brokerUrl: string,
  options: { log?: Logger; ca?: Buffer } = {},
): Promise<Fleet> {
  const { log, ca } = options;
  const devices = plan.map(
    (device) =>
      new SimulatedMqttDevice({
        ...device.behaviour,
        deviceId: device.deviceId,
        secret: device.secret,
        brokerUrl,
        ca,
        softwareVersion: device.softwareVersion,
        firmwareVersion: device.firmwareVersion,
        log,
      }),
  );
  const started = await Promise.allSettled(devices.map((device) => device.start()));
  const failure = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) {
    await Promise.allSettled(devices.map((device) => device.stop()));
    throw failure.reason;
  }
  return {
    devices,
    async stop() {
      await Promise.allSettled(devices.map((device) => device.stop()));
    },
  };
}
