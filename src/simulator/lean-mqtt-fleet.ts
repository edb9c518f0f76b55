/**
 * A lean simulated MQTT fleet for thousands of devices in one process. Each device is one mqtt.js
 * connection speaking the seed platform's protocol (HMAC login, version_query → version_report,
 * upgrade event → Bearer download with SHA-256 check → upgrade_progress_report), without the
 * per-device logger and event emitter of src/simulator's SimulatedMqttDevice. Downloads share a
 * concurrency limit so 10,000 devices do not open 10,000 HTTP requests at once. A fleet larger than
 * the sockets a process may hold connects in a rolling window (`connectedAtOnce`): the first devices
 * connect, and each that has sent its upgrade result leaves and makes room for the next.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { MqttResultCode } from '../../workflows/failure-causes';
import { deviceCredentials } from '../mqtt/device-auth';
import {
  buildProgressReport,
  buildVersionReport,
  type EventEnvelope,
  eventsDownTopic,
  eventsUpTopic,
  parseDownlink,
} from '../mqtt/ota-protocol';
import { downloadPackage } from './package-download';

export type DeviceMode = 'upgrade' | 'silent';

export interface LeanDevicePlan {
  deviceId: string;
  secret: string;
  /** Refuses every upgrade with this result code (5: not enough storage). */
  failWith?: number;
  /** The version the device runs at first, when not the fleet's `firmwareVersion`. */
  firmwareVersion?: string;
}

export interface FleetOptions {
  brokerUrl: string;
  /** The CA devices verify an `mqtts:` broker and HTTPS downloads against. */
  ca?: Buffer;
  firmwareVersion: string;
  /** Concurrent package downloads across the fleet. */
  downloadConcurrency: number;
  /** Waits this long after the upgrade event before downloading (0: loopback speed). */
  downloadDelayMs: number;
  /** The hour devices sign their passwords for (signType 0); default: when the fleet connects. */
  signedAt?: Date;
  onError?: (error: unknown) => void;
  /** Each report the broker has accepted from a device (QoS 1 PUBACK), by its event type. */
  onReport?: (deviceId: string, eventType: string) => void;
  /**
   * The most devices connected at once (default: all). Below the fleet's size, devices connect in the
   * plans' order and each leaves once the broker has accepted its upgrade result, so a task that starts
   * its devices in that order with fewer than this many in progress always finds them connected.
   */
  connectedAtOnce?: number;
}

export interface LeanMqttFleet {
  /** `silent` devices stop answering version queries: their upgrades wait, in flight. */
  setMode(mode: DeviceMode): void;
  stop(): Promise<void>;
}

const CONNECT_CONCURRENCY = 100;

/** Resolves once the first `connectedAtOnce` devices are connected; `onConnected` hears each connect. */
export async function connectLeanMqttFleet(
  plans: LeanDevicePlan[],
  options: FleetOptions,
  onConnected?: (connectedNow: number) => void,
): Promise<LeanMqttFleet> {
  let mode: DeviceMode = 'upgrade';
  const downloads = semaphore(options.downloadConcurrency);
  const clients = new Set<MqttClient>();
  const fail = options.onError ?? (() => undefined);
  // Signing with a fixed hour and signType 0 lets a device reconnect across an hour boundary.
  const signedAt = options.signedAt ?? new Date();
  const connectedAtOnce = Math.min(plans.length, options.connectedAtOnce ?? plans.length);
  const rolling = connectedAtOnce < plans.length;
  let next = 0;
  let stopped = false;

  async function connect(plan: LeanDevicePlan): Promise<void> {
    const client = await mqtt.connectAsync(options.brokerUrl, {
      ...deviceCredentials(plan.deviceId, plan.secret, '0', signedAt),
      ca: options.ca,
      clean: true,
      reconnectPeriod: 1000,
      keepalive: 300,
    });
    let firmwareVersion = plan.firmwareVersion ?? options.firmwareVersion;
    const send = async (message: EventEnvelope) => {
      await client.publishAsync(eventsUpTopic(plan.deviceId), JSON.stringify(message), { qos: 1 });
      for (const service of message.services) options.onReport?.(plan.deviceId, service.event_type);
    };
    const sendResult = async (message: EventEnvelope) => {
      await send(message);
      if (rolling) await makeRoom(client);
    };
    client.on('message', (_topic, payload) => {
      const parsed = parseDownlink(plan.deviceId, payload);
      if (!parsed.ok) return fail(new Error(`${plan.deviceId}: ${parsed.error}`));
      for (const event of parsed.value) {
        if (event.type === 'version_query') {
          if (mode === 'upgrade') send(buildVersionReport(plan.deviceId, { firmwareVersion })).catch(fail);
          continue;
        }
        const upgrade = async () => {
          if (plan.failWith !== undefined) {
            await sendResult(
              buildProgressReport(plan.deviceId, {
                resultCode: plan.failWith,
                version: firmwareVersion,
                description: 'flash full',
              }),
            );
            return;
          }
          if (options.downloadDelayMs > 0) await new Promise((r) => setTimeout(r, options.downloadDelayMs));
          const result = await downloads(() =>
            downloadPackage({
              url: event.url,
              accessToken: event.accessToken,
              ca: options.ca,
              expectedSize: event.fileSize,
              sha256: event.sha256,
            }),
          );
          if (!result.ok) {
            await sendResult(
              buildProgressReport(plan.deviceId, {
                resultCode: result.resultCode,
                version: firmwareVersion,
                description: result.description,
              }),
            );
            return;
          }
          firmwareVersion = event.version;
          await sendResult(
            buildProgressReport(plan.deviceId, {
              resultCode: MqttResultCode.success,
              progress: 100,
              version: firmwareVersion,
              description: 'upgrade success',
            }),
          );
        };
        upgrade().catch(fail);
      }
    });
    await client.subscribeAsync(eventsDownTopic(plan.deviceId), { qos: 1 });
    // A device taking another's place while the fleet stops does not stay behind, connected.
    if (stopped) await client.endAsync(true);
    else {
      clients.add(client);
      onConnected?.(clients.size);
    }
  }

  /** A device done with its upgrade leaves, and the next one in the plans connects in its place. */
  async function makeRoom(client: MqttClient): Promise<void> {
    if (!clients.delete(client)) return;
    await client.endAsync();
    const plan = plans[next];
    if (stopped || plan === undefined) return;
    next += 1;
    await connect(plan);
  }

  try {
    await Promise.all(
      Array.from({ length: Math.min(CONNECT_CONCURRENCY, connectedAtOnce) }, async () => {
        while (next < connectedAtOnce) {
          const plan = plans[next++];
          if (plan) await connect(plan);
        }
      }),
    );
  } catch (error) {
    await Promise.allSettled([...clients].map((client) => client.endAsync(true)));
    throw error;
  }

  return {
    setMode(newMode) {
      mode = newMode;
    },
    async stop() {
      stopped = true;
      const connectedClients = [...clients];
      clients.clear();
      await Promise.allSettled(connectedClients.map((client) => client.endAsync(true)));
    },
  };
}

function semaphore(limit: number): <T>(work: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (work) => {
    // A released slot passes straight to the next waiter, so `running` never exceeds the limit.
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else running += 1;
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}
