/**
 * The MQTT gateway: a service client of the broker (embedded or external) that turns device uplinks
 * into registry updates and workflow signals, and publishes the platform's downlinks.
 *
 * Progress reports are frequent (some SDKs send one per downloaded chunk), so only terminal ones
 * (a failure code, or success at 100 %) become signals; the rest only update the registry.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceEventSink } from '../devices/device-event-sinks';
import { createPerDeviceQueue } from '../devices/per-device-queue';
import type { DeviceRegistry } from '../devices/registry';
import { type Logger, logger } from '../logger';
import type { PresenceSource } from './embedded-broker';
import {
  deviceIdOfUplinkTopic,
  type EventEnvelope,
  eventsDownTopic,
  type OtaUplinkEvent,
  parseUplink,
  UPLINK_SUBSCRIPTION,
} from './ota-protocol';

export interface MqttGatewayOptions {
  brokerUrl: string;
  /** Stable per gateway process (two processes must not share it): it names the broker session. */
  clientId: string;
  username: string;
  password: string;
  registry: DeviceRegistry;
  sink: DeviceEventSink;
  /** The embedded broker's connect/disconnect events; absent with an external broker. */
  presence?: PresenceSource;
  log?: Logger;
  now?: () => Date;
}

export interface DownlinkPublisher {
  publishDownlink(deviceId: string, message: EventEnvelope): Promise<void>;
}

export interface MqttGateway extends DownlinkPublisher {
  stop(): Promise<void>;
}

export async function startMqttGateway(options: MqttGatewayOptions): Promise<MqttGateway> {
  const log = options.log ?? logger.child({ component: 'mqtt-gateway' });
  const now = options.now ?? (() => new Date());
  const { registry, sink } = options;
  // Events of one device are handled in arrival order (an online signal before the version report it
  // enables, progress before the result); different devices proceed independently.
  const events = createPerDeviceQueue(log);

  async function markOnline(deviceId: string, at: Date): Promise<void> {
    await registry.setPresence(deviceId, true, at);
    await sink.deviceOnline(deviceId);
  }

  async function handleEvent(deviceId: string, event: OtaUplinkEvent, at: Date): Promise<void> {
    if (event.type === 'version_report') {
      await registry.recordReportedVersions(deviceId, event.report, at);
      await sink.versionReported(deviceId, event.report);
      return;
    }
    const inProgress = event.resultCode === 0 && event.progress !== undefined && event.progress < 100;
    if (event.progress !== undefined || event.resultCode === 0) {
      await registry.recordUpgradeProgress(deviceId, event.progress ?? 100, event.description, at);
    }
    if (inProgress) return;
    await sink.upgradeResultReported(deviceId, {
      resultCode: event.resultCode,
      version: event.version,
      description: event.description,
    });
  }

  async function handleUplink(deviceId: string, payload: Buffer): Promise<void> {
    const parsed = parseUplink(deviceId, payload);
    if (!parsed.ok) {
      log.warn({ deviceId, problem: parsed.error }, 'invalid uplink ignored');
      return;
    }
    const at = now();
    const seen = await registry.markSeen(deviceId, at);
    if (seen && !seen.wasOnline) {
      // An uplink from a device the registry thought offline announces it: its connect may have gone
      // unseen (an external broker without presence events, or no gateway running at the time).
      await sink.deviceOnline(deviceId);
    }
    if (parsed.value.ignoredServices.length > 0) {
      log.debug(
        { deviceId, services: parsed.value.ignoredServices },
        'uplink services otaflow does not handle',
      );
    }
    for (const event of parsed.value.events) await handleEvent(deviceId, event, at);
  }

  const unsubscribePresence = options.presence?.onPresence(({ deviceId, online }) => {
    events.enqueue(deviceId, async () => {
      if (online) {
        await markOnline(deviceId, now());
      } else {
        await registry.setPresence(deviceId, false, now());
      }
    });
  });

  const client: MqttClient = mqtt.connect(options.brokerUrl, {
    username: options.username,
    password: options.password,
    // A persistent session under a stable client ID: the broker keeps the QoS 1 uplinks that arrive
    // while this gateway is down (a crash, a restart) and delivers them when it is back.
    clientId: options.clientId,
    clean: false,
    reconnectPeriod: 1000,
  });
  // Listening before the connection is up: Mosquitto sends a resumed session's queued uplinks right
  // behind its CONNACK, and mqtt.js acknowledges a message whether or not anyone listens for it.
  client.on('message', (topic, payload) => {
    const deviceId = deviceIdOfUplinkTopic(topic);
    if (deviceId === undefined) {
      log.warn({ topic }, 'message on an unexpected topic ignored');
      return;
    }
    events.enqueue(deviceId, () => handleUplink(deviceId, payload));
  });
  client.on('error', (error) => log.error({ err: error }, 'MQTT gateway connection error'));
  // mqtt.js rejects a refused subscription (SUBACK 0x80) and subscribes again by itself after reconnects.
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('error', reject);
      client.once('connect', () => {
        client.off('error', reject);
        resolve();
      });
    });
    await client.subscribeAsync(UPLINK_SUBSCRIPTION, { qos: 1 });
  } catch (error) {
    unsubscribePresence?.();
    await client.endAsync(true);
    throw error;
  }
  log.info({ broker: options.brokerUrl }, 'MQTT gateway connected');

  return {
    async publishDownlink(deviceId, message) {
      await client.publishAsync(eventsDownTopic(deviceId), JSON.stringify(message), { qos: 1 });
    },
    async stop() {
      unsubscribePresence?.();
      await client.endAsync();
      await events.drain();
    },
  };
}
