/**
 * The MQTT gateway: a service client of the broker (embedded or external) that turns device uplinks
 * into registry updates and workflow signals, and publishes the platform's downlinks.
 *
 * An uplink is acknowledged to the broker (PUBACK) only once it is in the uplink inbox: while the
 * database is down, the gateway retries and acknowledges nothing, so the broker keeps what follows.
 * Handling (registry, signal) then retries until Temporal and the database answer, and only then is
 * the uplink forgotten; a crash in between leaves it in the inbox for this gateway's next start.
 *
 * Progress reports are frequent (some SDKs send one per downloaded chunk), so only terminal ones
 * (a failure code, or success at 100 %) become signals; the rest only update the registry.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind } from '@opentelemetry/api';
import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceEventSink } from '../devices/device-event-sinks';
import { createPerDeviceQueue } from '../devices/per-device-queue';
import type { DeviceRegistry } from '../devices/registry';
import type { RecordedUplink, UplinkInbox } from '../devices/uplink-inbox';
import { type Logger, logger } from '../logger';
import type { OtaflowMetrics } from '../metrics/metrics';
import { inChildSpan, inUpgradeTrace, type UpgradeTraceLookup } from '../tracing/spans';
import { sharedSubscription } from './broker-topics';
import type { PresenceSource } from './embedded-broker';
import {
  deviceIdOfUplinkTopic,
  type EventEnvelope,
  eventsDownTopic,
  type OtaUplinkEvent,
  parseUplink,
  UPLINK_SUBSCRIPTIONS,
} from './ota-protocol';

export interface MqttGatewayOptions {
  brokerUrl: string;
  /** Stable per gateway process (two processes must not share it): it names the broker session. */
  clientId: string;
  username: string;
  password: string;
  registry: DeviceRegistry;
  sink: DeviceEventSink;
  inbox: UplinkInbox;
  /** The embedded broker's connect/disconnect events; absent with an external broker. */
  presence?: PresenceSource;
  /**
   * Subscribe to uplinks as a member of this shared-subscription group (`$share/{group}/…`), so that
   * each uplink reaches one gateway of the group however many run. Unset: every uplink (aedes, which
   * has no shared subscriptions, and a single gateway).
   */
  sharedGroup?: string;
  log?: Logger;
  /** With tracing on: an uplink from a device being upgraded is a span in its upgrade's trace. */
  upgradeTrace?: UpgradeTraceLookup;
  /** Where the gateway counts its uplinks and downlinks (src/metrics/metrics.ts). */
  metrics?: Pick<OtaflowMetrics, 'mqttUplinks' | 'mqttDownlinks' | 'mqttPresenceEvents'>;
  now?: () => Date;
}

export interface DownlinkPublisher {
  publishDownlink(deviceId: string, message: EventEnvelope): Promise<void>;
}

export interface MqttGateway extends DownlinkPublisher {
  /** Whether its connection to the broker is up now (it reconnects by itself when it drops). */
  connected(): boolean;
  stop(): Promise<void>;
}

/** How often a gateway says it is alive, and how long a silent one's unhandled uplinks wait for it. */
export const HEARTBEAT_MS = 30_000;
export const SILENT_GATEWAY_MS = 5 * 60_000;

/** Waits between attempts at a step that failed (the database or Temporal unreachable). */
export const RETRY_FIRST_MS = 250;
export const RETRY_MAX_MS = 10_000;

/** OpenTelemetry's messaging conventions, for the gateway's spans. */
const MQTT_SPAN_ATTRIBUTES = { 'messaging.system': 'mqtt' };

export async function startMqttGateway(options: MqttGatewayOptions): Promise<MqttGateway> {
  const log = options.log ?? logger.child({ component: 'mqtt-gateway' });
  const now = options.now ?? (() => new Date());
  const { registry, sink, inbox } = options;
  const uplinkSubscriptions = UPLINK_SUBSCRIPTIONS.map((filter) =>
    sharedSubscription(filter, options.sharedGroup),
  );
  // Events of one device are handled in arrival order (an online signal before the version report it
  // enables, progress before the result); different devices proceed independently.
  const events = createPerDeviceQueue(log);
  const stopping = new AbortController();

  /** `attempt` until it succeeds; rejects only when the gateway stops. */
  async function persistently<T>(what: string, context: object, attempt: () => Promise<T>): Promise<T> {
    for (let waitMs = RETRY_FIRST_MS; ; waitMs = Math.min(waitMs * 2, RETRY_MAX_MS)) {
      try {
        return await attempt();
      } catch (error) {
        if (stopping.signal.aborted) throw error;
        log.warn({ err: error, ...context, retryInMs: waitMs }, `${what} failed; retrying`);
        await sleep(waitMs, undefined, { signal: stopping.signal }).catch(() => undefined);
        if (stopping.signal.aborted) throw error;
      }
    }
  }

  function handleInOrder(uplink: RecordedUplink): void {
    const context = { deviceId: uplink.deviceId, uplinkId: uplink.id };
    events.enqueue(uplink.deviceId, async () => {
      try {
        await persistently('handling an uplink', context, () => handleUplink(uplink));
        await persistently('marking an uplink handled', context, () => inbox.markHandled(uplink.id));
      } catch {
        // Stopped: the uplink stays in the inbox, handled again at the next start.
      }
    });
  }

  async function markOnline(deviceId: string, at: Date): Promise<void> {
    await registry.setPresence(deviceId, true, at);
    await sink.deviceOnline(deviceId);
  }

  async function handleEvent(
    deviceId: string,
    event: OtaUplinkEvent,
    at: Date,
    uplinkId: string,
  ): Promise<void> {
    if (event.type === 'version_report') {
      await registry.recordReportedVersions(deviceId, event.report, at);
      await sink.versionReported(deviceId, event.report, uplinkId);
      return;
    }
    const inProgress = event.resultCode === 0 && event.progress !== undefined && event.progress < 100;
    if (event.progress !== undefined || event.resultCode === 0) {
      await registry.recordUpgradeProgress(deviceId, event.progress ?? 100, event.description, at);
    }
    if (inProgress) return;
    await sink.upgradeResultReported(
      deviceId,
      {
        resultCode: event.resultCode,
        version: event.version,
        description: event.description,
        receivedAt: at.toISOString(),
      },
      uplinkId,
    );
  }

  async function handleUplink(uplink: RecordedUplink): Promise<void> {
    const span = { kind: SpanKind.CONSUMER, attributes: MQTT_SPAN_ATTRIBUTES };
    await inUpgradeTrace(options.upgradeTrace, uplink.deviceId, 'mqtt receive uplink', span, () =>
      handleUplinkEvents(uplink),
    );
  }

  async function handleUplinkEvents({
    id,
    deviceId,
    payload,
    receivedAt: at,
  }: RecordedUplink): Promise<void> {
    const parsed = parseUplink(deviceId, payload);
    if (!parsed.ok) {
      log.warn({ deviceId, problem: parsed.error }, 'invalid uplink ignored');
      return;
    }
    const seen = await registry.markSeen(deviceId, at);
    if (seen?.cameOnline) {
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
    // One uplink may carry several reports: each its own signal, and each once.
    for (const [index, event] of parsed.value.events.entries()) {
      await handleEvent(deviceId, event, at, `${id}.${index}`);
    }
  }

  const unsubscribePresence = options.presence?.onPresence(({ deviceId, online, at }) => {
    options.metrics?.mqttPresenceEvents.inc({ event: online ? 'connected' : 'disconnected' });
    events.enqueue(deviceId, () =>
      persistently('recording presence', { deviceId, online }, () =>
        online ? markOnline(deviceId, at) : registry.setPresence(deviceId, false, at),
      ).catch(() => undefined),
    );
  });

  await inbox.heartbeat();
  for (const uplink of await inbox.unfinished()) handleInOrder(uplink);
  for (const uplink of await inbox.adoptFromSilentGateways(SILENT_GATEWAY_MS)) handleInOrder(uplink);
  const beating = setInterval(
    () =>
      void (async () => {
        await inbox.heartbeat();
        const adopted = await inbox.adoptFromSilentGateways(SILENT_GATEWAY_MS);
        if (adopted.length > 0)
          log.warn({ uplinks: adopted.length }, 'adopted the unhandled uplinks of a silent gateway');
        for (const uplink of adopted) handleInOrder(uplink);
      })().catch((error: unknown) => log.warn({ err: error }, 'gateway heartbeat failed')),
    HEARTBEAT_MS,
  );

  const client: MqttClient = mqtt.connect(options.brokerUrl, {
    username: options.username,
    password: options.password,
    // A persistent session under a stable client ID: the broker keeps the QoS 1 uplinks that arrive
    // while this gateway is down (a crash, a restart) and delivers them when it is back.
    clientId: options.clientId,
    clean: false,
    reconnectPeriod: 1000,
  });
  // Set before the connection is up: Mosquitto sends a resumed session's queued uplinks right behind
  // its CONNACK. mqtt.js sends the PUBACK when `acknowledge` is called, and handles the connection's
  // next message only after it, so recording stays quick: the handling itself runs afterwards.
  client.handleMessage = (packet, acknowledge) => {
    const deviceId = deviceIdOfUplinkTopic(packet.topic);
    if (deviceId === undefined) {
      options.metrics?.mqttUplinks.inc({ result: 'unexpected-topic' });
      log.warn({ topic: packet.topic }, 'message on an unexpected topic ignored');
      acknowledge();
      return;
    }
    if (packet.retain) {
      // Kept by the broker from some earlier time and replayed at each subscription: never a report
      // about what is happening now.
      options.metrics?.mqttUplinks.inc({ result: 'retained' });
      log.warn({ deviceId }, 'retained uplink ignored');
      acknowledge();
      return;
    }
    const uplink = { deviceId, payload: Buffer.from(packet.payload), receivedAt: now() };
    const { messageId: packetId, dup: redelivered } = packet;
    const recordOnce = async () => {
      // The broker redelivers (DUP) what it saw no acknowledgement of, even if this gateway recorded it
      // before crashing or losing the connection: recorded again, it would be signalled twice.
      if (redelivered && packetId !== undefined && (await inbox.recordedBefore(uplink, packetId))) {
        log.info({ deviceId, packetId }, 'redelivered uplink was recorded before');
        options.metrics?.mqttUplinks.inc({ result: 'redelivered' });
        return undefined;
      }
      const id = await inbox.record(uplink, packetId);
      options.metrics?.mqttUplinks.inc({ result: 'recorded' });
      return id;
    };
    persistently('recording an uplink', { deviceId }, recordOnce).then(
      (id) => {
        if (id !== undefined) handleInOrder({ id, ...uplink });
        acknowledge();
      },
      // Stopped before it was recorded: unacknowledged, the broker delivers it again.
      () => undefined,
    );
  };
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
    await client.subscribeAsync(uplinkSubscriptions, { qos: 1 });
  } catch (error) {
    clearInterval(beating);
    unsubscribePresence?.();
    await client.endAsync(true);
    throw error;
  }
  log.info({ broker: options.brokerUrl, subscriptions: uplinkSubscriptions }, 'MQTT gateway connected');

  return {
    connected: () => client.connected,
    async publishDownlink(deviceId, message) {
      const attributes = { ...MQTT_SPAN_ATTRIBUTES, 'otaflow.device_id': deviceId };
      await inChildSpan('mqtt publish downlink', { kind: SpanKind.PRODUCER, attributes }, async () => {
        try {
          await client.publishAsync(eventsDownTopic(deviceId), JSON.stringify(message), { qos: 1 });
        } catch (error) {
          options.metrics?.mqttDownlinks.inc({ result: 'failed' });
          throw error;
        }
        options.metrics?.mqttDownlinks.inc({ result: 'accepted' });
      });
    },
    async stop() {
      clearInterval(beating);
      unsubscribePresence?.();
      stopping.abort();
      await client.endAsync();
      await events.drain();
    },
  };
}
