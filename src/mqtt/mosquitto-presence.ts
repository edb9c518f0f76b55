/**
 * Device presence from a Mosquitto broker. Mosquitto tells no client when others connect, but with
 * `log_dest topic` it publishes its log to `$SYS/broker/log/<severity>`, and the notice-level lines
 * name each client that connects and disconnects. Devices' clientIds carry their device ID
 * (`{device_id}_0_{signType}_{YYYYMMDDHH}`), so the lines map onto devices.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { type Logger, logger } from '../logger';
import { parseDeviceClientId } from './device-auth';
import type { PresenceEvent, PresenceSource } from './embedded-broker';

export const MOSQUITTO_NOTICE_LOG_TOPIC = '$SYS/broker/log/N';

const CONNECTED = /New client connected from \S+ as (\S+) \(/;
const DISCONNECTED = /Client (\S+) (?:disconnected|closed its connection|has exceeded timeout)/;

/** The presence change a Mosquitto notice line reports, if it is about a device. */
export function presenceOfLogLine(line: string): PresenceEvent | undefined {
  const connected = CONNECTED.exec(line);
  const clientId = connected?.[1] ?? DISCONNECTED.exec(line)?.[1];
  if (!clientId) return undefined;
  const parsed = parseDeviceClientId(clientId);
  if (typeof parsed === 'string') return undefined;
  return { deviceId: parsed.deviceId, online: connected !== null };
}

export interface MosquittoPresence extends PresenceSource {
  stop(): Promise<void>;
}

export async function startMosquittoPresence(options: {
  brokerUrl: string;
  username: string;
  password: string;
  log?: Logger;
}): Promise<MosquittoPresence> {
  const log = options.log ?? logger.child({ component: 'mosquitto-presence' });
  const listeners = new Set<(event: PresenceEvent) => void>();
  const client: MqttClient = await mqtt.connectAsync(options.brokerUrl, {
    username: options.username,
    password: options.password,
    clientId: `${options.username}-presence-${process.pid}`,
    reconnectPeriod: 1_000,
  });
  // Listening before subscribing: a notice may arrive in the same read as the SUBACK.
  client.on('message', (_topic, payload) => {
    const event = presenceOfLogLine(payload.toString('utf8'));
    if (!event) return;
    for (const listener of listeners) listener(event);
  });
  const granted = await client.subscribeAsync(MOSQUITTO_NOTICE_LOG_TOPIC, { qos: 0 });
  if (granted.some((grant) => grant.qos === 128)) {
    log.warn('the broker refused $SYS/broker/log/N: devices count as online from their first uplink only');
  }
  return {
    onPresence(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: () => client.endAsync(),
  };
}
