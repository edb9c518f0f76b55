/**
 * Device presence from a Mosquitto broker. Mosquitto tells no client when others connect; otaflow's
 * plugin (deploy/mosquitto/implicit-subscription/) does: it counts each device's authenticated
 * connections and publishes `{"connections":N,"at":<ms since 1970>}` on `otaflow/presence/{device id}`
 * whenever the count changes between zero and one, `at` being the broker's clock. A refused login
 * never counts, so nobody can mark a connected device offline by failing to log in under its name.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { z } from 'zod';
import { type Logger, logger } from '../logger';
import { PRESENCE_TOPIC_PREFIX, sharedSubscription } from './broker-topics';
import type { PresenceEvent, PresenceSource } from './embedded-broker';

const PRESENCE_TOPICS = `${PRESENCE_TOPIC_PREFIX}+`;

const PresencePayload = z.object({
  connections: z.number().int().min(0),
  // A plugin built before it sent the time: the message's arrival stands in for it.
  at: z.number().int().positive().optional(),
});

/** The presence change a plugin message reports, or why it is not one. */
export function presenceOfMessage(topic: string, payload: Buffer, receivedAt: Date): PresenceEvent | string {
  const deviceId = topic.startsWith(PRESENCE_TOPIC_PREFIX) ? topic.slice(PRESENCE_TOPIC_PREFIX.length) : '';
  if (!deviceId || deviceId.includes('/')) return `not a presence topic: ${topic}`;
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return `presence of ${deviceId} is not JSON`;
  }
  const parsed = PresencePayload.safeParse(json);
  if (!parsed.success) return `presence of ${deviceId} is not {"connections": <count>, "at": <ms>}`;
  const { connections, at } = parsed.data;
  return { deviceId, online: connections > 0, at: at === undefined ? receivedAt : new Date(at) };
}

export interface MosquittoPresence extends PresenceSource {
  stop(): Promise<void>;
}

export async function startMosquittoPresence(options: {
  brokerUrl: string;
  username: string;
  password: string;
  /** Unique per gateway (its ID): two presence clients under one ID would keep disconnecting each other. */
  clientId: string;
  /** Presence through this shared-subscription group: each change reaches one gateway of it. */
  sharedGroup?: string;
  log?: Logger;
}): Promise<MosquittoPresence> {
  const log = options.log ?? logger.child({ component: 'mosquitto-presence' });
  const listeners = new Set<(event: PresenceEvent) => void>();
  const client: MqttClient = await mqtt.connectAsync(options.brokerUrl, {
    username: options.username,
    password: options.password,
    clientId: options.clientId,
    reconnectPeriod: 1_000,
  });
  // Listening before subscribing: a message may arrive in the same read as the SUBACK.
  client.on('message', (topic, payload) => {
    const event = presenceOfMessage(topic, payload, new Date());
    if (typeof event === 'string') {
      log.warn({ topic }, event);
      return;
    }
    for (const listener of listeners) listener(event);
  });
  const subscription = sharedSubscription(PRESENCE_TOPICS, options.sharedGroup);
  const granted = await client.subscribeAsync(subscription, { qos: 1 });
  if (granted.some((grant) => grant.qos === 128)) {
    log.warn(
      `the broker refused ${subscription} (is otaflow's Mosquitto plugin loaded?): devices count as online from their first uplink only`,
    );
  }
  return {
    onPresence(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: () => client.endAsync(),
  };
}
