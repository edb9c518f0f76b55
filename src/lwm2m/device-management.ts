/**
 * The Device Management & Service Enablement interface (TS Core §6.3–6.4): Read, Write, Execute,
 * Observe and Cancel Observation, sent to the address the device registered from, through the
 * gateway's own UDP socket (a NAT in front of the device only lets that address in). Answers come
 * back as `resourcesReported` / `deviceCommandFailed` events. A queue-mode device listens only for a
 * while after each of its uplinks; commands for it wait for the next one.
 */
import type { Agent, IncomingMessage, ObserveReadStream, OutgoingMessage } from 'coap';
import type { DeviceCommandFailure, ResourceValue } from '../../workflows/lwm2m-definitions';
import type { PerDeviceQueue } from '../devices/per-device-queue';
import type { Logger } from '../logger';
import { contentFormatNumber, decodeContent, encodeResourceWrite } from './content-formats';
import type { Lwm2mEventSink } from './lwm2m-event-sink';
import { formatLwm2mPath, parseLwm2mPath } from './lwm2m-path';
import type { Registration, RegistrationBook } from './registration';

export class DeviceNotRegisteredError extends Error {
  override name = 'DeviceNotRegisteredError';
  constructor(readonly deviceId: string) {
    super(`device ${deviceId} has no live LwM2M registration on this gateway`);
  }
}

export interface Lwm2mCommands {
  isRegistered(deviceId: string): boolean;
  read(deviceId: string, paths: string[]): void;
  write(deviceId: string, path: string, value: ResourceValue): void;
  execute(deviceId: string, path: string): void;
  observe(deviceId: string, paths: string[]): void;
  cancelObservation(deviceId: string, paths: string[]): void;
}

export interface DeviceManagementOptions {
  agent: Agent;
  book: RegistrationBook;
  sink: Lwm2mEventSink;
  events: PerDeviceQueue;
  log: Logger;
  /** How long a queue-mode device listens after an uplink (TS 1.1 §6.5: MAX_TRANSMIT_WAIT, 93 s, by default). */
  queueModeAwakeMs: number;
  now?: () => number;
}

type Operation = DeviceCommandFailure['operation'];
type Send = (registration: Registration) => void;

/** Codes otaflow reports when there is no CoAP response code to pass on. */
export const NO_ANSWER = 'timeout';
export const UNDECODABLE_ANSWER = 'bad-content';

export class DeviceManagement implements Lwm2mCommands {
  private readonly held = new Map<string, Send[]>();
  private readonly observations = new Map<string, Map<string, ObserveReadStream>>();
  private readonly inFlight = new Set<OutgoingMessage>();
  private readonly now: () => number;

  constructor(private readonly options: DeviceManagementOptions) {
    this.now = options.now ?? Date.now;
  }

  isRegistered(deviceId: string): boolean {
    return this.options.book.findByEndpoint(deviceId) !== undefined;
  }

  read(deviceId: string, paths: string[]): void {
    const normalized = paths.map(normalize);
    this.dispatch(deviceId, (registration) => {
      for (const path of normalized) {
        this.send(registration, 'read', path, { method: 'GET' }, (response) =>
          this.reportPayload(deviceId, 'read', path, response.headers['Content-Format'], response.payload),
        );
      }
    });
  }

  write(deviceId: string, path: string, value: ResourceValue): void {
    const target = normalize(path);
    const { lwm2mVersion } = this.requireRegistration(deviceId);
    const { contentFormat, payload } = encodeResourceWrite(target, value, lwm2mVersion);
    this.dispatch(deviceId, (registration) => {
      this.send(registration, 'write', target, { method: 'PUT', contentFormat, payload }, () => undefined);
    });
  }

  execute(deviceId: string, path: string): void {
    const target = normalize(path);
    this.dispatch(deviceId, (registration) => {
      this.send(registration, 'execute', target, { method: 'POST' }, () => undefined);
    });
  }

  observe(deviceId: string, paths: string[]): void {
    const normalized = paths.map(normalize);
    this.dispatch(deviceId, (registration) => {
      for (const path of normalized) {
        this.send(registration, 'observe', path, { method: 'GET', observe: true }, (response) => {
          const stream = response as ObserveReadStream;
          const observed = this.observationsOf(deviceId);
          observed.get(path)?.close();
          observed.set(path, stream);
          stream.on('data', (payload: Buffer) => {
            if (observed.get(path) !== stream) return;
            this.reportPayload(deviceId, 'observe', path, stream.headers['Content-Format'], payload);
          });
          stream.on('error', () => undefined);
        });
      }
    });
  }

  cancelObservation(deviceId: string, paths: string[]): void {
    const normalized = paths.map(normalize);
    this.requireRegistration(deviceId);
    const observed = this.observationsOf(deviceId);
    const streams = normalized.flatMap((path) => {
      const stream = observed.get(path);
      observed.delete(path);
      return stream ? [stream] : [];
    });
    // Active cancel (GET with Observe 1 on the same token); a notification that still arrives is
    // answered with RST, which cancels too.
    this.dispatch(deviceId, () => {
      for (const stream of streams) stream.close(true);
    });
  }

  /** The device sent something: it is awake, so what waited for it leaves now. */
  deviceUplink(registration: Registration): void {
    const waiting = this.held.get(registration.endpoint);
    if (!waiting) return;
    this.held.delete(registration.endpoint);
    this.options.log.debug(
      { deviceId: registration.endpoint, commands: waiting.length },
      'sending held commands',
    );
    for (const send of waiting) send(registration);
  }

  /** A new registration starts without observations (TS Core §6.2.1); held commands still go out. */
  endObservations(deviceId: string): void {
    for (const stream of this.observations.get(deviceId)?.values() ?? []) stream.close();
    this.observations.delete(deviceId);
  }

  /** The registration ended: its observations and held commands end with it. */
  forget(deviceId: string): void {
    this.held.delete(deviceId);
    this.endObservations(deviceId);
  }

  close(): void {
    for (const deviceId of [...this.observations.keys()]) this.forget(deviceId);
    this.held.clear();
    for (const request of this.inFlight) this.options.agent.abort(request);
    this.inFlight.clear();
  }

  private requireRegistration(deviceId: string): Registration {
    const registration = this.options.book.findByEndpoint(deviceId);
    if (!registration) throw new DeviceNotRegisteredError(deviceId);
    return registration;
  }

  private dispatch(deviceId: string, send: Send): void {
    const registration = this.requireRegistration(deviceId);
    const awake = this.now() - registration.lastUplinkAt.getTime() < this.options.queueModeAwakeMs;
    if (!registration.queueMode || awake) {
      send(registration);
      return;
    }
    const waiting = this.held.get(deviceId) ?? [];
    waiting.push(send);
    this.held.set(deviceId, waiting);
  }

  private observationsOf(deviceId: string): Map<string, ObserveReadStream> {
    let observed = this.observations.get(deviceId);
    if (!observed) {
      observed = new Map();
      this.observations.set(deviceId, observed);
    }
    return observed;
  }

  private send(
    registration: Registration,
    operation: Operation,
    path: string,
    message: { method: 'GET' | 'PUT' | 'POST'; observe?: boolean; contentFormat?: number; payload?: Buffer },
    onSuccess: (response: IncomingMessage) => void,
  ): void {
    const deviceId = registration.endpoint;
    const request = this.options.agent.request({
      hostname: registration.address,
      port: registration.port,
      method: message.method,
      pathname: path,
      observe: message.observe ? true : undefined,
      options: message.contentFormat === undefined ? undefined : { 'Content-Format': message.contentFormat },
    });
    this.inFlight.add(request);
    let settled = false;
    const fail = (code: string) => {
      if (settled) return;
      settled = true;
      this.inFlight.delete(request);
      this.options.log.info({ deviceId, operation, path, code }, 'device command failed');
      this.options.events.enqueue(deviceId, () =>
        this.options.sink.deviceCommandFailed(deviceId, { operation, paths: [path], code }),
      );
    };
    request.on('response', (response: IncomingMessage) => {
      if (settled) return;
      if (!response.code.startsWith('2.')) {
        fail(response.code);
        return;
      }
      settled = true;
      this.inFlight.delete(request);
      onSuccess(response);
    });
    request.on('timeout', () => fail(NO_ANSWER));
    request.on('error', (error: Error) => {
      this.options.log.debug({ err: error, deviceId, path }, 'CoAP request error');
      fail(NO_ANSWER);
    });
    request.end(message.payload);
  }

  private reportPayload(
    deviceId: string,
    operation: Operation,
    path: string,
    contentFormat: unknown,
    payload: Buffer,
  ): void {
    const { sink, events, log } = this.options;
    let values: Record<string, ResourceValue>;
    try {
      values = decodeContent(contentFormatNumber(contentFormat), payload, path);
    } catch (error) {
      log.warn({ deviceId, path, problem: (error as Error).message }, 'device answer not decodable');
      events.enqueue(deviceId, () =>
        sink.deviceCommandFailed(deviceId, { operation, paths: [path], code: UNDECODABLE_ANSWER }),
      );
      return;
    }
    events.enqueue(deviceId, () => sink.resourcesReported(deviceId, { values }));
  }
}

function normalize(path: string): string {
  return formatLwm2mPath(parseLwm2mPath(path));
}
