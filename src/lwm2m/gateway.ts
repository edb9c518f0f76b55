/**
 * The LwM2M server of one otaflow gateway: one UDP socket carries the Registration interface
 * (/rd), package delivery (/fw) and, leaving through the same socket, the device management
 * commands. Registrations live in this process; the registry learns presence and where each device
 * is registered so the platform can route its commands to this gateway's task queue.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { createServer, type IncomingMessage, type OutgoingMessage } from 'coap';
import type { PackageInfo } from '../../workflows/definitions';
import type { Lwm2mEventSink } from '../devices/device-event-sinks';
import type { KeptRegistration, Lwm2mGatewayRegistry, RegistrationLocation } from '../devices/lwm2m-registry';
import { createPerDeviceQueue } from '../devices/per-device-queue';
import { type Logger, logger } from '../logger';
import type { OtaflowMetrics } from '../metrics/metrics';
import { inUpgradeTrace, type UpgradeTraceLookup } from '../tracing/spans';
import { ContentFormat, contentFormatNumber } from './content-formats';
import type { Link } from './content-formats/link-format';
import { COAP_REPORT_SPAN, DeviceManagement, type Lwm2mCommands } from './device-management';
import type { DtlsSessions } from './dtls/dtls-sessions';
import { createEndpointAdmission, type EndpointAdmissionLimits } from './endpoint-admission';
import { EndpointAgent } from './endpoint-agent';
import { createPackageBlockHandler, PACKAGE_PATH_PREFIX, packagePath } from './package-blocks';
import type { PackageSource } from './package-source';
import {
  type KeptRegistrationDetails,
  type Parsed,
  parseObjectLinks,
  parseRegisterQuery,
  parseUpdateQuery,
  type Registration,
  RegistrationBook,
} from './registration';

export interface Lwm2mGatewayOptions {
  host: string;
  port: number;
  gatewayId: string;
  /** `host[:port]` devices reach this gateway at (behind NAT or a load balancer); default host:port. */
  publicHost?: string;
  registry: Lwm2mGatewayRegistry;
  sink: Lwm2mEventSink;
  packages: PackageSource;
  log?: Logger;
  /** Where the package blocks served are counted (src/metrics/metrics.ts). */
  metrics?: Pick<OtaflowMetrics, 'packageBytesServed' | 'coapBlocksServed' | 'coapRequests'>;
  /** With tracing on: a report from a device being upgraded is a span in its upgrade's trace. */
  upgradeTrace?: UpgradeTraceLookup;
  /** How long a queue-mode device listens after an uplink; default 93 s (MAX_TRANSMIT_WAIT). */
  queueModeAwakeMs?: number;
  admission?: EndpointAdmissionLimits;
  /**
   * LwM2M over DTLS: the sessions the DTLS terminator forwards to this socket, each from a loopback
   * port of its own, and `host:port` devices reach it at (coaps:// package URIs carry it).
   */
  dtls?: { sessions: DtlsSessions; publicHost: () => string };
  /** false: the socket serves DTLS sessions only and answers anything else 4.03. Default true. */
  plainCoap?: boolean;
}

export interface Lwm2mGatewayCommands extends Lwm2mCommands {
  /**
   * `coap://<public host>/fw/<packageId>/<versionCheckCode>`, or `coaps://<DTLS public host>/…` for a
   * device registered over DTLS.
   */
  packageUri(pkg: Pick<PackageInfo, 'id' | 'sha256'>, deviceId: string): string;
}

export interface Lwm2mGateway {
  gatewayId: string;
  address: string;
  port: number;
  commands: Lwm2mGatewayCommands;
  stop(): Promise<void>;
}

const DEFAULT_QUEUE_MODE_AWAKE_MS = 93_000;
/** Long enough for a package-store read to be answered piggybacked instead of ACK + separate response. */
const PIGGYBACK_REPLY_MS = 500;
/**
 * The UDP receive buffer. 1,000 devices fetching blocks at once overflow Linux's default (208 KiB)
 * whenever the event loop pauses, and each lost request costs its device a retransmission wait of
 * 2 s or more (measured: 2,000 instead of 15,500 blocks/s, BENCHMARKS.md). The kernel caps it at
 * net.core.rmem_max (README, "Production and growing beyond one machine").
 */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
/**
 * node-coap keeps every response for the exchange lifetime (247 s) to answer a retransmitted request
 * the same way, up to this many bytes of messages. Its default, 32 MiB, holds some 60,000 block
 * responses and their retry state: ≈ 150 MB more heap under a fleet-wide download. A block GET is
 * safe to answer twice and a repeated Register replaces the endpoint's registration, so the shorter
 * window loses nothing.
 */
const RESPONSE_CACHE_BYTES = 4 * 1024 * 1024;

export async function startLwm2mGateway(options: Lwm2mGatewayOptions): Promise<Lwm2mGateway> {
  const log = options.log ?? logger.child({ component: 'lwm2m-gateway' });
  const { registry, sink, gatewayId } = options;
  const admit = createEndpointAdmission((endpoint) => registry.lwm2mDevice(endpoint), options.admission);
  const plainCoap = options.plainCoap ?? true;
  /** The PSK identity of the DTLS session a datagram came through; null over plain CoAP. */
  const pskIdentityOf = (from: { address: string; port: number }): string | null =>
    options.dtls?.sessions.identityAt(from) ?? null;
  const type = isIPv6(options.host) ? 'udp6' : 'udp4';
  const socket = dgram.createSocket({ type, recvBufferSize: RECEIVE_BUFFER_BYTES });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port, options.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', (error) => log.error({ err: error }, 'LwM2M socket error'));
  const bound = socket.address();
  const publicHost =
    options.publicHost ?? `${type === 'udp6' ? `[${bound.address}]` : bound.address}:${bound.port}`;

  const events = createPerDeviceQueue(log);
  const book: RegistrationBook = new RegistrationBook({
    onExpired(registration) {
      log.info({ deviceId: registration.endpoint }, 'registration lifetime expired: device offline');
      management.forget(registration.endpoint);
      markOffline(registration);
    },
  });
  const agent = new EndpointAgent({ socket });
  const management = new DeviceManagement({
    agent,
    book,
    sink,
    events,
    log,
    queueModeAwakeMs: options.queueModeAwakeMs ?? DEFAULT_QUEUE_MODE_AWAKE_MS,
    upgradeTrace: options.upgradeTrace,
  });
  const servePackageBlock = createPackageBlockHandler(options.packages, log, options.metrics);

  function location(registration: Registration): RegistrationLocation {
    const { id, address, port, queueMode, lifetimeSeconds } = registration;
    return { gatewayId, registrationId: id, address, port, queueMode, lifetimeSeconds };
  }

  function details(registration: Registration): KeptRegistrationDetails {
    const { lwm2mVersion, binding, pskIdentity, objectLinks, registeredAt } = registration;
    return { lwm2mVersion, binding, pskIdentity, objectLinks, registeredAt: registeredAt.toISOString() };
  }

  function markOnline(registration: Registration): void {
    const deviceId = registration.endpoint;
    const at = new Date();
    events.enqueue(deviceId, async () => {
      await registry.setPresence(deviceId, true, at);
      await registry.recordRegistration(deviceId, location(registration), details(registration));
      // A device registering during its upgrade (after its update's reboot) reports on it.
      await inUpgradeTrace(
        options.upgradeTrace,
        deviceId,
        'coap receive registration',
        COAP_REPORT_SPAN,
        () => sink.deviceOnline(deviceId),
      );
    });
  }

  function markOffline(registration: Pick<Registration, 'endpoint' | 'id'>): void {
    const deviceId = registration.endpoint;
    const at = new Date();
    events.enqueue(deviceId, async () => {
      // Registered again since, through this gateway or another: still online.
      if (await registry.clearRegistration(deviceId, registration.id)) {
        await registry.setPresence(deviceId, false, at);
      }
    });
  }

  function objectLinksOf(request: IncomingMessage): Parsed<Link[] | undefined> {
    if (request.payload.length === 0) return { ok: true, value: undefined };
    let format: number;
    try {
      format = contentFormatNumber(request.headers['Content-Format'] ?? ContentFormat.linkFormat);
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
    if (format !== ContentFormat.linkFormat)
      return { ok: false, error: `payload must be link format (40), not ${format}` };
    return parseObjectLinks(request.payload);
  }

  async function register(request: IncomingMessage, response: OutgoingMessage, query: string): Promise<void> {
    const parameters = parseRegisterQuery(query);
    if (!parameters.ok) return reply(response, '4.00', parameters.error);
    const links = objectLinksOf(request);
    if (!links.ok) return reply(response, '4.00', links.error);
    const { endpoint } = parameters.value;
    const from = `${request.rsinfo.address}:${request.rsinfo.port}`;
    const admission = await admit(endpoint);
    if (admission === 'busy') return reply(response, '5.03', 'too many registrations of unknown endpoints');
    if (admission === 'unknown endpoint') {
      log.warn({ endpoint, from }, 'registration refused: the endpoint is not a provisioned LwM2M device');
      return reply(response, '4.03', 'unknown endpoint');
    }
    const pskIdentity = pskIdentityOf(request.rsinfo);
    if (admission.pskIdentity !== pskIdentity) {
      const why =
        pskIdentity === null
          ? 'the endpoint is provisioned with a pre-shared key: register over DTLS'
          : 'the endpoint name does not match the DTLS identity';
      log.warn({ endpoint, pskIdentity, from }, `registration refused: ${why}`);
      return reply(response, '4.03', why);
    }
    const { registration, replaced } = book.register(
      parameters.value,
      links.value ?? [],
      request.rsinfo,
      pskIdentity,
    );
    if (replaced) management.endObservations(endpoint);
    log.info(
      {
        deviceId: endpoint,
        registrationId: registration.id,
        binding: registration.binding,
        queueMode: registration.queueMode,
      },
      'device registered',
    );
    response.code = '2.01';
    response.setOption('Location-Path', [Buffer.from('rd'), Buffer.from(registration.id)]);
    response.end();
    markOnline(registration);
    observeAgain(endpoint);
    management.deviceUplink(registration);
  }

  /**
   * This gateway restarted under its ID (a crash, a rolling restart): its devices are still registered
   * with it and reachable where they last were, so it takes their registrations up again with what is
   * left of their lifetimes, and observes again what was observed. Expired ones end as expiries do.
   */
  async function takeUpKeptRegistrations(): Promise<void> {
    const now = Date.now();
    for (const kept of await registry.keptRegistrations(gatewayId)) {
      const remainingMs = kept.updatedAt.getTime() + kept.lifetimeSeconds * 1000 - now;
      if (!kept.details || remainingMs <= 0) {
        markOffline({ endpoint: kept.deviceId, id: kept.registrationId });
        continue;
      }
      book.restore(keptRegistration(kept, kept.details as KeptRegistrationDetails), remainingMs);
      observeAgain(kept.deviceId);
    }
  }

  /**
   * A device that registers anew (after a gateway restart, through another gateway, or from a new
   * address) has dropped its observations: what the platform observes on it is observed again, and
   * the first answers are reported, since what changed meanwhile was notified to no one.
   */
  function observeAgain(deviceId: string): void {
    events.enqueue(deviceId, async () => {
      const paths = await registry.observedPaths(deviceId);
      if (paths.length > 0 && management.isRegistered(deviceId)) management.observe(deviceId, paths);
    });
  }

  function update(request: IncomingMessage, response: OutgoingMessage, id: string, query: string): void {
    const changes = parseUpdateQuery(query);
    if (!changes.ok) {
      reply(response, '4.00', changes.error);
      return;
    }
    const links = objectLinksOf(request);
    if (!links.ok) {
      reply(response, '4.00', links.error);
      return;
    }
    const held = book.get(id);
    if (!held) {
      reply(response, '4.04', 'no such registration');
      return;
    }
    if (!heldBySender(held, request)) {
      reply(response, '4.03', 'the registration belongs to another DTLS identity');
      return;
    }
    const registration = book.update(id, changes.value, links.value, request.rsinfo) as Registration;
    response.code = '2.04';
    response.end();
    markOnline(registration);
    management.deviceUplink(registration);
  }

  /**
   * A registration made over DTLS is changed only from a session of the same identity (a newer
   * session after a new handshake is fine), one made over plain CoAP only over plain CoAP.
   */
  function heldBySender(registration: Registration, request: IncomingMessage): boolean {
    const pskIdentity = pskIdentityOf(request.rsinfo);
    if (registration.pskIdentity === pskIdentity) return true;
    log.warn(
      {
        deviceId: registration.endpoint,
        pskIdentity,
        from: `${request.rsinfo.address}:${request.rsinfo.port}`,
      },
      'registration change refused: it was made under another DTLS identity',
    );
    return false;
  }

  function deregister(request: IncomingMessage, response: OutgoingMessage, id: string): void {
    const held = book.get(id);
    if (!held) {
      reply(response, '4.04', 'no such registration');
      return;
    }
    if (!heldBySender(held, request)) {
      reply(response, '4.03', 'the registration belongs to another DTLS identity');
      return;
    }
    const registration = book.remove(id) as Registration;
    log.info({ deviceId: registration.endpoint }, 'device deregistered');
    response.code = '2.02';
    response.end();
    management.forget(registration.endpoint);
    markOffline(registration);
  }

  async function handle(request: IncomingMessage, response: OutgoingMessage): Promise<void> {
    if (!plainCoap && pskIdentityOf(request.rsinfo) === null) {
      return reply(response, '4.03', 'this LwM2M server takes DTLS only');
    }
    const [path = '', query = ''] = request.url.split('?', 2);
    const segments = path.split('/').filter((segment) => segment !== '');
    if (segments[0] === 'rd') {
      if (segments.length === 1 && request.method === 'POST') return register(request, response, query);
      const id = segments[1];
      if (segments.length === 2 && id !== undefined) {
        if (request.method === 'POST') return update(request, response, id, query);
        if (request.method === 'DELETE') return deregister(request, response, id);
      }
      return reply(
        response,
        '4.05',
        'the registration interface takes POST /rd, POST /rd/<id>, DELETE /rd/<id>',
      );
    }
    const sender = book.findByAddress(request.rsinfo.address, request.rsinfo.port);
    if (sender) {
      book.touch(sender);
      management.deviceUplink(sender);
    }
    if (segments[0] === PACKAGE_PATH_PREFIX) return servePackageBlock(segments, request, response);
    return reply(response, '4.04', 'no such resource');
  }

  const server = createServer({
    type,
    piggybackReplyMs: PIGGYBACK_REPLY_MS,
    cacheSize: RESPONSE_CACHE_BYTES,
  });
  server.on('request', (request: IncomingMessage, response: OutgoingMessage) => {
    handle(request, response)
      .catch((error: unknown) => {
        log.error({ err: error, url: request.url }, 'LwM2M request failed');
        reply(response, '5.00', 'internal error');
      })
      .finally(() => options.metrics?.coapRequests.inc(requestLabels(request, response)));
  });
  await takeUpKeptRegistrations();
  server.listen(socket);
  log.info({ address: `${bound.address}:${bound.port}`, publicHost, gatewayId }, 'LwM2M gateway listening');

  const commands: Lwm2mGatewayCommands = {
    isRegistered: (deviceId) => management.isRegistered(deviceId),
    async sendBatch(deviceId, operations, batchOptions) {
      const pathsOf = (op: 'observe' | 'cancel-observation') =>
        operations.flatMap((operation) => (operation.op === op ? operation.paths : []));
      const [observed, cancelled] = [pathsOf('observe'), pathsOf('cancel-observation')];
      if (observed.length > 0) await registry.recordObservations(deviceId, observed);
      if (cancelled.length > 0) await registry.forgetObservations(deviceId, cancelled);
      return management.sendBatch(deviceId, operations, batchOptions);
    },
    read: (deviceId, paths) => management.read(deviceId, paths),
    write: (deviceId, path, value) => management.write(deviceId, path, value),
    execute: (deviceId, path) => management.execute(deviceId, path),
    observe: (deviceId, paths) => management.observe(deviceId, paths),
    cancelObservation: (deviceId, paths) => management.cancelObservation(deviceId, paths),
    packageUri(pkg, deviceId) {
      const registration = book.findByEndpoint(deviceId);
      const base =
        options.dtls && registration && registration.pskIdentity !== null
          ? `coaps://${options.dtls.publicHost()}`
          : `coap://${publicHost}`;
      return `${base}${packagePath(pkg.id, pkg.sha256)}`;
    },
  };

  return {
    gatewayId,
    address: bound.address,
    port: bound.port,
    commands,
    async stop() {
      management.close();
      // Registrations stay in the database for this gateway's next start under its ID (a rolling
      // restart); a device that comes to another gateway meanwhile registers again there.
      book.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.close();
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      await events.drain();
    },
  };
}

function keptRegistration(kept: KeptRegistration, details: KeptRegistrationDetails): Registration {
  return {
    id: kept.registrationId,
    endpoint: kept.deviceId,
    lifetimeSeconds: kept.lifetimeSeconds,
    lwm2mVersion: details.lwm2mVersion,
    binding: details.binding,
    queueMode: kept.queueMode,
    pskIdentity: details.pskIdentity,
    address: kept.address,
    port: kept.port,
    objectLinks: details.objectLinks,
    registeredAt: new Date(details.registeredAt),
    lastUplinkAt: kept.updatedAt,
  };
}

/** A request's metric labels: which interface it asked, how, and the class of the answer. */
function requestLabels(request: IncomingMessage, response: OutgoingMessage) {
  const first = request.url
    .split('?', 1)[0]
    ?.split('/')
    .find((segment) => segment !== '');
  const lwm2mInterface =
    first === 'rd' ? 'registration' : first === PACKAGE_PATH_PREFIX ? 'package' : 'other';
  return {
    interface: lwm2mInterface,
    method: request.method,
    code: `${String(response.code ?? '2.05')[0]}.xx`,
  };
}

function reply(response: OutgoingMessage, code: string, diagnostic: string): void {
  response.code = code;
  response.end(Buffer.from(diagnostic));
}
