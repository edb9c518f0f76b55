/**
 * The embedded MQTT broker (aedes) used when no external broker is configured. It authenticates
 * devices with their HMAC credentials, confines each device to its own `$oc/devices/{id}/...` topics,
 * subscribes each device to its `sys/events/down` as the seed platform does (devices built for it
 * never subscribe to it), and reports device presence (connect/disconnect) to whoever listens. It
 * listens for plain MQTT and, given server credentials, for MQTT over TLS (8883): both reach the
 * same broker, with the same logins and topics.
 */
import { EventEmitter } from 'node:events';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { Aedes, type Client } from 'aedes';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { DeviceConnections } from '../devices/device-connections';
import { type Logger, logger } from '../logger';
import type { ServerCredentials } from '../tls/server-credentials';
import type { DeviceAuthenticator, MqttPrincipal } from './device-auth';
import { eventsDownTopic } from './ota-protocol';
import { defaultPacketSizeLimits, limitPacketSizes, type PacketSizeLimits } from './packet-size-limit';
import { mayPublish, maySubscribe } from './topic-rules';

export interface PresenceEvent {
  deviceId: string;
  online: boolean;
  /** When the broker saw the connection change: gateways may record changes late and out of order. */
  at: Date;
}

/** Where the gateway learns that devices connect and disconnect. */
export interface PresenceSource {
  onPresence(listener: (event: PresenceEvent) => void): () => void;
}

export interface EmbeddedBroker extends PresenceSource, DeviceConnections {
  /** The port actually bound (useful with port 0). */
  port: number;
  /** mqtt://host:port for clients on this machine. */
  url: string;
  /** mqtts://host:port of the TLS listener, when there is one. */
  tlsUrl?: string;
  stop(): Promise<void>;
}

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  /** The MQTT-over-TLS listener; none when absent. */
  tls?: { host: string; port: number; credentials: ServerCredentials };
  authenticate: DeviceAuthenticator;
  packetSizeLimits?: PacketSizeLimits;
  log?: Logger;
}

/** CONNACK return code 4 (MQTT 3.1.1): bad user name or password. */
const BAD_USERNAME_OR_PASSWORD = 4;
/** CONNACK return code 3: server unavailable, which clients take as "try again later". */
const SERVER_UNAVAILABLE = 3;

/**
 * Refused logins one source address may attempt per minute; then its logins are refused for the rest
 * of the minute without a database lookup. Generous, because many cellular devices share one address
 * behind carrier NAT.
 */
export const FAILED_LOGINS_PER_ADDRESS_PER_MINUTE = 120;

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const log = options.log ?? logger.child({ component: 'mqtt-broker' });
  const principals = new WeakMap<Client, MqttPrincipal>();
  // A device may hold more than one connection for a moment (its clientId changes every hour, and a
  // reconnect can overtake the old connection's teardown): it is offline only when the last one ends.
  const connectionCounts = new Map<string, number>();
  const presence = new EventEmitter();
  const failedLogins = new RateLimiterMemory({ points: FAILED_LOGINS_PER_ADDRESS_PER_MINUTE, duration: 60 });
  const connectionsOf = new Map<string, Set<Client>>();

  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const address = (client.conn as Partial<Socket>).remoteAddress ?? 'unknown';
      const refuse = (reason: string, returnCode: number) => {
        log.warn({ clientId: client.id, address, reason }, 'MQTT connection refused');
        done(Object.assign(new Error(reason), { returnCode }), false);
      };
      failedLogins
        .get(address)
        .then(async (failures) => {
          if (failures && failures.consumedPoints >= FAILED_LOGINS_PER_ADDRESS_PER_MINUTE) {
            return refuse('too many refused logins from this address in a minute', SERVER_UNAVAILABLE);
          }
          const result = await options.authenticate({ clientId: client.id, username, password });
          if (result.ok) {
            principals.set(client, result.principal);
            done(null, true);
            return;
          }
          await failedLogins.penalty(address);
          refuse(result.reason, BAD_USERNAME_OR_PASSWORD);
        })
        .catch((error: unknown) => {
          log.error({ err: error, clientId: client.id }, 'MQTT authentication failed');
          done(
            Object.assign(new Error('authentication unavailable'), { returnCode: SERVER_UNAVAILABLE }),
            false,
          );
        });
    },
    authorizePublish: (client, packet, done) => {
      const principal = client ? principals.get(client) : undefined;
      if (principal && mayPublish(principal, packet.topic)) return done(null);
      log.warn({ clientId: client?.id, topic: packet.topic }, 'MQTT publish refused');
      done(new Error(`not allowed to publish to ${packet.topic}`));
    },
    authorizeSubscribe: (client, subscription, done) => {
      const principal = principals.get(client);
      if (principal && maySubscribe(principal, subscription.topic)) return done(null, subscription);
      log.warn({ clientId: client.id, topic: subscription.topic }, 'MQTT subscription refused');
      done(null, null);
    },
  });

  broker.on('clientReady', (client) => {
    const principal = principals.get(client);
    if (principal?.kind !== 'device') return;
    const { deviceId } = principal;
    connectionsOf.set(deviceId, (connectionsOf.get(deviceId) ?? new Set()).add(client));
    const count = (connectionCounts.get(deviceId) ?? 0) + 1;
    connectionCounts.set(deviceId, count);
    // The seed platform's implicit subscription, to the one downlink topic otaflow publishes on (each
    // more would cost the broker about 6 MB per 10,000 devices; docs/mqtt-protocol.md). Subscribed
    // before the device counts as online: the gateway's first downlink follows its presence.
    client.subscribe({ topic: eventsDownTopic(deviceId), qos: 1 }, (error) => {
      if (error) log.error({ err: error, clientId: client.id }, 'implicit subscription failed');
      if (count === 1 && connectionCounts.has(deviceId))
        presence.emit('presence', { deviceId, online: true, at: new Date() });
    });
  });
  broker.on('clientDisconnect', (client) => {
    const principal = principals.get(client);
    if (principal?.kind !== 'device') return;
    const live = connectionsOf.get(principal.deviceId);
    live?.delete(client);
    if (live?.size === 0) connectionsOf.delete(principal.deviceId);
    const count = (connectionCounts.get(principal.deviceId) ?? 1) - 1;
    if (count > 0) {
      connectionCounts.set(principal.deviceId, count);
      return;
    }
    connectionCounts.delete(principal.deviceId);
    presence.emit('presence', { deviceId: principal.deviceId, online: false, at: new Date() });
  });

  const limits = options.packetSizeLimits ?? defaultPacketSizeLimits;
  const handle = (socket: Socket) => {
    const client = broker.handle(socket);
    limitPacketSizes(
      socket,
      limits,
      () => principals.has(client),
      (declared) =>
        log.warn(
          { address: socket.remoteAddress, clientId: client.id, declared },
          'MQTT connection closed: packet larger than allowed',
        ),
    );
  };
  const plainServer = net.createServer(handle);
  const port = await listen(plainServer, options.host, options.port);
  log.info({ host: options.host, port }, 'embedded MQTT broker listening');
  let tlsServer: tls.Server | undefined;
  let tlsUrl: string | undefined;
  if (options.tls) {
    const { credentials } = options.tls;
    const server = tls.createServer(credentials.current(), handle);
    server.on('tlsClientError', (error, socket) =>
      log.warn({ address: socket.remoteAddress, err: error.message }, 'MQTT TLS handshake failed'),
    );
    credentials.serve(server);
    tlsServer = server;
    const { host } = options.tls;
    const tlsPort = await listen(server, host, options.tls.port);
    tlsUrl = `mqtts://${clientHostOf(host)}:${tlsPort}`;
    log.info({ host, port: tlsPort }, 'embedded MQTT broker listening for MQTT over TLS');
  }

  return {
    port,
    url: `mqtt://${clientHostOf(options.host)}:${port}`,
    tlsUrl,
    disconnect(deviceId) {
      for (const client of connectionsOf.get(deviceId) ?? []) client.close();
    },
    onPresence(listener) {
      presence.on('presence', listener);
      return () => presence.off('presence', listener);
    },
    async stop() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const server of [plainServer, tlsServer]) {
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      }
    },
  };
}

/** Where a client on this machine reaches a listener on `host`. */
function clientHostOf(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

/** The port bound (the one asked for, or the one chosen for port 0). */
async function listen(server: net.Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}
