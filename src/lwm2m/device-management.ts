/**
 * The Device Management & Service Enablement interface (TS Core §6.3–6.4): Read, Write, Execute,
 * Observe and Cancel Observation, sent to the address the device registered from, through the
 * gateway's own UDP socket (a NAT in front of the device only lets that address in). Answers come
 * back as `resourcesReported` / `deviceCommandFailed` events. A queue-mode device listens only for a
 * while after each of its uplinks; commands for it wait for the next one. Reads and observations
 * carry an Accept option and are retried once in another format after a 4.06 or 5.00
 * (./content-negotiation.ts); a refusal names what the device answered to which request.
 */
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Agent, IncomingMessage, ObserveReadStream, OutgoingMessage } from 'coap';
import type {
  DeviceCommandFailure,
  Lwm2mBatchAnswer,
  QuietValues,
  ResourceValue,
} from '../../workflows/lwm2m/definitions';
import type { Lwm2mEventSink } from '../devices/device-event-sinks';
import type { PerDeviceQueue } from '../devices/per-device-queue';
import type { Logger } from '../logger';
import { inUpgradeTrace, startChildSpan, type UpgradeTraceLookup } from '../tracing/spans';
import { contentFormatNumber, decodeContent, encodeResourceWrite } from './content-formats';
import { acceptFormats, describeFormat, RENEGOTIABLE_CODES } from './content-negotiation';
import { formatLwm2mPath, parseLwm2mPath } from './lwm2m-path';
import type { Registration, RegistrationBook } from './registration';

export class DeviceNotRegisteredError extends Error {
  override name = 'DeviceNotRegisteredError';
  constructor(readonly deviceId: string) {
    super(`device ${deviceId} has no live LwM2M registration on this gateway`);
  }
}

/** A batch's operation as the gateway sends it (the package URI already resolved). */
export type GatewayOperation =
  | { op: 'read'; paths: string[] }
  | { op: 'observe'; paths: string[] }
  | { op: 'write'; path: string; value: ResourceValue }
  | { op: 'execute'; path: string }
  | { op: 'cancel-observation'; paths: string[] };

export interface BatchOptions {
  /** Replaces the device's quiet values before the operations go out; absent keeps them. */
  quiet?: QuietValues;
  /** How long to wait for the batch's read answers before leaving them to signals. */
  answerWithinMs: number;
}

export interface Lwm2mCommands {
  isRegistered(deviceId: string): boolean;
  /**
   * Sends the operations in order. Read answers that come within `answerWithinMs` are returned
   * instead of reported; later ones are reported as `read` reports them. An observation's first
   * answer is not reported, and its notifications made only of quiet values are kept.
   */
  sendBatch(
    deviceId: string,
    operations: GatewayOperation[],
    options: BatchOptions,
  ): Promise<Lwm2mBatchAnswer>;
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
  /** With tracing on: a report from a device being upgraded is a span in its upgrade's trace. */
  upgradeTrace?: UpgradeTraceLookup;
  now?: () => number;
}

type Operation = DeviceCommandFailure['operation'];

/** OpenTelemetry has no CoAP conventions yet: the protocol named as its messaging and RPC ones name theirs. */
export const COAP_SPAN_ATTRIBUTES = { 'network.protocol.name': 'coap' };
/** A device's CoAP message that reports on its upgrade. */
export const COAP_REPORT_SPAN = { kind: SpanKind.CONSUMER, attributes: COAP_SPAN_ATTRIBUTES };
type Send = (registration: Registration) => void;
type Values = Record<string, ResourceValue>;
type Decoded = { values: Values } | { problem: string };

/** A device's quiet values and the notifications kept under them, oldest first. */
interface Quiet {
  values: QuietValues;
  kept: Record<string, ResourceValue[]>;
}

/** Codes otaflow reports when there is no CoAP response code to pass on. */
export const NO_ANSWER = 'timeout';
export const UNDECODABLE_ANSWER = 'bad-content';

export class DeviceManagement implements Lwm2mCommands {
  private readonly held = new Map<string, Send[]>();
  private readonly observations = new Map<string, Map<string, ObserveReadStream>>();
  private readonly inFlight = new Set<OutgoingMessage>();
  private readonly quiet = new Map<string, Quiet>();
  private readonly now: () => number;

  constructor(private readonly options: DeviceManagementOptions) {
    this.now = options.now ?? Date.now;
  }

  isRegistered(deviceId: string): boolean {
    return this.options.book.findByEndpoint(deviceId) !== undefined;
  }

  async sendBatch(
    deviceId: string,
    operations: GatewayOperation[],
    options: BatchOptions,
  ): Promise<Lwm2mBatchAnswer> {
    this.requireRegistration(deviceId);
    const quiet = this.quiet.get(deviceId);
    const kept = quiet?.kept ?? {};
    if (options.quiet) this.quiet.set(deviceId, { values: options.quiet, kept: {} });
    else if (quiet) quiet.kept = {};
    const answers = new BatchAnswers(
      operations,
      (report) => this.report(deviceId, report),
      (failure) => this.reportFailure(deviceId, failure),
    );
    for (const operation of operations) {
      if (operation.op === 'read') {
        const paths = operation.paths.map(normalize);
        this.dispatch(deviceId, (registration) => {
          for (const path of paths) {
            this.send(
              registration,
              'read',
              path,
              { method: 'GET' },
              (response) => {
                const decoded = this.decode(deviceId, path, response);
                if ('values' in decoded) answers.answered(decoded.values);
                else answers.refused(undecodable('read', path, decoded.problem));
              },
              (failure) => answers.refused(failure),
            );
          }
        });
      } else if (operation.op === 'observe') this.startObservations(deviceId, operation.paths, false);
      else if (operation.op === 'write') this.write(deviceId, operation.path, operation.value);
      else if (operation.op === 'execute') this.execute(deviceId, operation.path);
      else this.cancelObservation(deviceId, operation.paths);
    }
    return { ...(await answers.settle(options.answerWithinMs)), kept };
  }

  read(deviceId: string, paths: string[]): void {
    const normalized = paths.map(normalize);
    this.dispatch(deviceId, (registration) => {
      for (const path of normalized) {
        this.send(registration, 'read', path, { method: 'GET' }, (response) => {
          const decoded = this.decode(deviceId, path, response);
          if ('values' in decoded) this.report(deviceId, { values: decoded.values });
          else this.reportFailure(deviceId, undecodable('read', path, decoded.problem));
        });
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
    this.startObservations(deviceId, paths, true);
  }

  cancelObservation(deviceId: string, paths: string[]): void {
    const normalized = paths.map(normalize);
    this.requireRegistration(deviceId);
    this.quiet.delete(deviceId);
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
    this.quiet.delete(deviceId);
    this.endObservations(deviceId);
  }

  close(): void {
    for (const deviceId of [...this.observations.keys()]) this.forget(deviceId);
    this.held.clear();
    for (const request of this.inFlight) this.options.agent.abort(request);
    this.inFlight.clear();
  }

  private startObservations(deviceId: string, paths: string[], reportFirstAnswer: boolean): void {
    const normalized = paths.map(normalize);
    this.dispatch(deviceId, (registration) => {
      for (const path of normalized) {
        this.send(registration, 'observe', path, { method: 'GET', observe: true }, (response) => {
          const stream = response as ObserveReadStream;
          const observed = this.observationsOf(deviceId);
          observed.get(path)?.close();
          observed.set(path, stream);
          // The stream also emits the first answer's payload; a batch's observation skips it.
          let skipFirst = !reportFirstAnswer;
          stream.on('data', (payload: Buffer) => {
            if (observed.get(path) !== stream) return;
            if (skipFirst) {
              skipFirst = false;
              return;
            }
            const decoded = this.decode(deviceId, path, { headers: stream.headers, payload });
            if ('values' in decoded) this.notify(deviceId, decoded.values);
            else this.reportFailure(deviceId, undecodable('observe', path, decoded.problem));
          });
          stream.on('error', () => undefined);
        });
      }
    });
  }

  /** An observation's notification: kept when all its values are quiet, otherwise reported with what was kept. */
  private notify(deviceId: string, values: Values): void {
    const quiet = this.quiet.get(deviceId);
    if (!quiet) {
      this.report(deviceId, { values });
      return;
    }
    const isQuiet = Object.entries(values).every(
      ([path, value]) => quiet.values[path]?.includes(Number(value)) ?? false,
    );
    if (isQuiet) {
      for (const [path, value] of Object.entries(values))
        quiet.kept[path] = [...(quiet.kept[path] ?? []), value];
      return;
    }
    const earlier = quiet.kept;
    quiet.kept = {};
    this.report(deviceId, Object.keys(earlier).length > 0 ? { values, earlier } : { values });
  }

  private report(
    deviceId: string,
    report: { values: Values; earlier?: Record<string, ResourceValue[]> },
  ): void {
    this.options.events.enqueue(deviceId, () =>
      inUpgradeTrace(this.options.upgradeTrace, deviceId, 'coap receive report', COAP_REPORT_SPAN, () =>
        this.options.sink.resourcesReported(deviceId, report),
      ),
    );
  }

  private reportFailure(deviceId: string, failure: DeviceCommandFailure): void {
    this.options.events.enqueue(deviceId, () =>
      inUpgradeTrace(this.options.upgradeTrace, deviceId, 'coap receive failure', COAP_REPORT_SPAN, () =>
        this.options.sink.deviceCommandFailed(deviceId, failure),
      ),
    );
  }

  private decode(
    deviceId: string,
    path: string,
    answer: { headers: IncomingMessage['headers']; payload: Buffer },
  ): Decoded {
    try {
      return {
        values: decodeContent(contentFormatNumber(answer.headers['Content-Format']), answer.payload, path),
      };
    } catch (error) {
      const problem = (error as Error).message;
      this.options.log.warn({ deviceId, path, problem }, 'device answer not decodable');
      return { problem };
    }
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
    // Sent at the device's next uplink, in the trace of the command that queued it.
    waiting.push(context.bind(context.active(), send));
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

  /**
   * One request to the device; a GET asks for the formats `acceptFormats` gives, the next one only
   * after a 4.06 or 5.00. A failure is reported with what the device answered to which request.
   */
  private send(
    registration: Registration,
    operation: Operation,
    path: string,
    message: { method: 'GET' | 'PUT' | 'POST'; observe?: boolean; contentFormat?: number; payload?: Buffer },
    onSuccess: (response: IncomingMessage) => void,
    onFailure?: (failure: DeviceCommandFailure) => void,
  ): void {
    const deviceId = registration.endpoint;
    const request = `${message.method} ${path}`;
    const answers: string[] = [];
    const span = startChildSpan(`coap ${message.method}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        ...COAP_SPAN_ATTRIBUTES,
        'otaflow.device_id': deviceId,
        'otaflow.lwm2m.operation': operation,
        'url.path': path,
      },
    });
    const attempt = (formats: readonly number[]) => {
      const [accept, ...others] = formats;
      const outgoing = this.options.agent.request({
        hostname: registration.address,
        port: registration.port,
        method: message.method,
        pathname: path,
        observe: message.observe ? true : undefined,
        options: {
          ...(message.contentFormat === undefined ? {} : { 'Content-Format': message.contentFormat }),
          ...(accept === undefined ? {} : { Accept: accept }),
        },
      });
      this.inFlight.add(outgoing);
      let settled = false;
      const settle = () => {
        if (settled) return false;
        settled = true;
        this.inFlight.delete(outgoing);
        return true;
      };
      const fail = (code: string, detail: string) => {
        if (!settle()) return;
        span?.setAttribute('coap.response_code', code);
        span?.setStatus({ code: SpanStatusCode.ERROR, message: detail });
        span?.end();
        this.options.log.info({ deviceId, operation, path, code, detail }, 'device command failed');
        const failure: DeviceCommandFailure = { operation, paths: [path], code, detail };
        if (onFailure) onFailure(failure);
        else this.reportFailure(deviceId, failure);
      };
      outgoing.on('response', (response: IncomingMessage) => {
        if (settled) return;
        if (response.code.startsWith('2.')) {
          settle();
          span?.setAttribute('coap.response_code', response.code);
          span?.end();
          onSuccess(response);
          return;
        }
        const withAccept = accept === undefined ? '' : ` with Accept ${describeFormat(accept)}`;
        answers.push(
          answers.length === 0
            ? `${response.code} to ${request}${withAccept}`
            : `${response.code}${withAccept}`,
        );
        if (others.length > 0 && RENEGOTIABLE_CODES.has(response.code)) {
          settle();
          attempt(others);
          return;
        }
        fail(response.code, `device answered ${answers.join(', and ')}`);
      });
      outgoing.on('timeout', () => fail(NO_ANSWER, `device did not answer ${request}`));
      outgoing.on('error', (error: Error) => {
        this.options.log.debug({ err: error, deviceId, path }, 'CoAP request error');
        fail(NO_ANSWER, `device did not answer ${request}`);
      });
      outgoing.end(message.payload);
    };
    attempt(message.method === 'GET' ? acceptFormats(registration, path) : []);
  }
}

/**
 * A batch's read answers: returned if all come within the wait, otherwise those that came are
 * returned and the rest reported one by one as they come, as `read` reports them.
 */
class BatchAnswers {
  private readonly values: Values = {};
  private readonly failures: DeviceCommandFailure[] = [];
  private outstanding: number;
  private settled = false;
  private allIn?: () => void;

  constructor(
    operations: GatewayOperation[],
    private readonly reportLate: (report: { values: Values }) => void,
    private readonly reportLateFailure: (failure: DeviceCommandFailure) => void,
  ) {
    this.outstanding = operations.reduce((sum, op) => sum + (op.op === 'read' ? op.paths.length : 0), 0);
  }

  answered(values: Values): void {
    if (this.settled) this.reportLate({ values });
    else Object.assign(this.values, values);
    this.done();
  }

  refused(failure: DeviceCommandFailure): void {
    if (this.settled) this.reportLateFailure(failure);
    else this.failures.push(failure);
    this.done();
  }

  async settle(waitMs: number): Promise<Pick<Lwm2mBatchAnswer, 'values' | 'refused'>> {
    if (this.outstanding > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.allIn = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.settled = true;
    return { values: { ...this.values }, refused: [...this.failures] };
  }

  private done(): void {
    this.outstanding--;
    if (this.outstanding <= 0) this.allIn?.();
  }
}

function undecodable(operation: Operation, path: string, problem: string): DeviceCommandFailure {
  return {
    operation,
    paths: [path],
    code: UNDECODABLE_ANSWER,
    detail: `device's answer to GET ${path} could not be decoded: ${problem}`,
  };
}

function normalize(path: string): string {
  return formatLwm2mPath(parseLwm2mPath(path));
}
