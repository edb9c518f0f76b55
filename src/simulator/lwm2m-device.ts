/**
 * A simulated NB-IoT LwM2M client over real UDP: registers with the gateway, answers reads,
 * writes, executes and observations on objects 3, 4, 5 and 9 from the same socket, and updates its
 * firmware (object 5) or software (object 9) by downloading the package block-wise from the URI it
 * is given. Faults are injected through options so tests and the demo can show every failure path
 * for real: each update result code, and going silent at each step of the flow.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, createServer, type IncomingMessage, type OutgoingMessage } from 'coap';
import { Lwm2mPath, type ResourceValue } from '../../workflows/lwm2m/definitions';
import { type Logger, logger } from '../logger';
import { downloadBlockwise } from '../lwm2m/block-download';
import { ContentFormat, contentFormatNumber, decodeContent } from '../lwm2m/content-formats';
import { formatLinkFormat } from '../lwm2m/content-formats/link-format';
import { encodePlainText } from '../lwm2m/content-formats/plain-text';
import { encodeSenmlJson } from '../lwm2m/content-formats/senml-json';
import { encodeTlv, encodeTlvObject } from '../lwm2m/content-formats/tlv';
import { formatLwm2mPath, parseLwm2mPath } from '../lwm2m/lwm2m-path';

/** Where a device can go silent: it stops answering or stops advancing at that step. */
export type SilentStep =
  | 'version'
  | 'radio'
  | 'cell-id'
  | 'download-start'
  | 'download-finish'
  | 'update-start'
  | 'result';

/** Firmware Update Result codes a device can fail with (object 5 resource 5). */
export type FirmwareFailureCode = 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

export interface SimulatedLwm2mDeviceOptions {
  endpoint: string;
  /** The gateway, `coap://host:port`. */
  serverUri: string;
  /**
   * Where `coaps://` package URIs are fetched, `coap://host:port`: the device's DTLS tunnel
   * (src/simulator/dtls-tunnels.ts), the simulator itself speaking plain CoAP only.
   */
  coapsVia?: string;
  lifetimeSeconds?: number;
  lwm2mVersion?: '1.0' | '1.1';
  /** Binding UQ: asleep except right after its own uplinks; sends an Update every `updateIntervalMs`. */
  queueMode?: boolean;
  /** Registration Updates; default half the lifetime. */
  updateIntervalMs?: number;
  /** Queue mode: how long it listens after an uplink. */
  awakeMs?: number;
  cellId?: number;
  rsrp?: number;
  sinr?: number;
  firmwareVersion?: string;
  softwareVersion?: string;
  /** The version it runs after a successful update (default: the current one with `-updated`). */
  updatedVersion?: string;
  /** Download speed: a pause between blocks. */
  blockDelayMs?: number;
  /** Block size in bytes asked for (16–1024, a power of two). */
  blockSize?: number;
  updateDurationMs?: number;
  /** The format of read answers and notifications: TLV (LwM2M 1.0's), SenML JSON or plain text. */
  answerFormat?: AnswerFormat;
  /**
   * Content negotiation as clients built on Eclipse Wakaama do it (docs/interop.md): answers in the
   * format the Accept option names if it is one of these (plain text only for a single resource),
   * 4.06 for any other, and 5.00 to a read without Accept. Absent: Accept is ignored and every answer
   * is in `answerFormat`.
   */
  acceptOnly?: AnswerFormat[];
  /** Announced at registration on the root link, `</>;rt="oma.lwm2m";ct=…` (LwM2M 1.1). */
  announcedContentFormat?: number;
  failWith?: FirmwareFailureCode;
  silentAt?: SilentStep;
  /** The download's connection drops once at this block; the device resumes from it. */
  dropDownloadAtBlock?: number;
  /** The full SHA-256 the package must have, when the device was told; otherwise the URI's versionCheckCode is checked. */
  expectedSha256?: string;
  log?: Logger;
}

export interface SimulatedLwm2mDeviceEvents {
  registered: [{ location: string }];
  updated: [];
  deregistered: [];
  request: [{ method: string; path: string }];
  'request-while-asleep': [{ method: string; path: string }];
  'download-started': [{ endpoint: string; cellId: number; uri: string }];
  'download-resumed': [{ offset: number }];
  'download-finished': [{ endpoint: string; cellId: number; size: number; sha256: string }];
  'state-changed': [{ object: 5 | 9; state: number; result: number }];
  upgraded: [{ object: 5 | 9; version: string }];
  'upgrade-failed': [{ object: 5 | 9; result: number }];
}

/** Firmware Update (object 5) states and results, TS Core appendix E.6. */
const FirmwareState = { idle: 0, downloading: 1, downloaded: 2, updating: 3 } as const;
const FIRMWARE_SUCCESS = 1;
/** Software Management (object 9): Update State and the Update Result a firmware code maps to. */
const SoftwareState = { initial: 0, downloadStarted: 1, downloaded: 2, delivered: 3, installed: 4 } as const;
const SOFTWARE_INSTALLED = 2;
const SOFTWARE_DOWNLOADED = 3;
const softwareFailure: Record<FirmwareFailureCode, number> = {
  2: 50,
  3: 51,
  4: 52,
  5: 53,
  6: 54,
  7: 56,
  8: 58,
  9: 57,
};

export type AnswerFormat = 'tlv' | 'senml-json' | 'text';

const answerFormats: Record<number, AnswerFormat> = {
  [ContentFormat.plainText]: 'text',
  [ContentFormat.senmlJson]: 'senml-json',
  [ContentFormat.tlv]: 'tlv',
};

interface Observer {
  path: string;
  stream: OutgoingMessage;
  format: AnswerFormat;
}

export class SimulatedLwm2mDevice extends EventEmitter<SimulatedLwm2mDeviceEvents> {
  readonly endpoint: string;
  private readonly values = new Map<string, ResourceValue>();
  private readonly observers = new Set<Observer>();
  private readonly log: Logger;
  private socket: dgram.Socket | undefined;
  private agent: Agent | undefined;
  private server: ReturnType<typeof createServer> | undefined;
  private location: string | undefined;
  private awakeUntil = 0;
  private updateTimer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private downloaded: Buffer | undefined;

  constructor(private readonly options: SimulatedLwm2mDeviceOptions) {
    super();
    this.endpoint = options.endpoint;
    this.log = (options.log ?? logger).child({
      component: 'simulated-lwm2m-device',
      endpoint: options.endpoint,
    });
    const set = (path: string, value: ResourceValue) => this.values.set(path, value);
    set('/3/0/0', 'otaflow');
    set('/3/0/1', 'simulated NB-IoT device');
    set(Lwm2mPath.firmwareVersion, options.firmwareVersion ?? '1.0.0');
    set('/3/0/16', options.queueMode ? 'UQ' : 'U');
    set('/4/0/0', 7); // NB-IoT
    set(Lwm2mPath.radioSignalStrength, options.rsrp ?? -90);
    set(Lwm2mPath.cellId, options.cellId ?? 1);
    set(Lwm2mPath.signalSnr, options.sinr ?? 10);
    set(Lwm2mPath.firmwarePackageUri, '');
    set(Lwm2mPath.firmwareState, FirmwareState.idle);
    set(Lwm2mPath.firmwareUpdateResult, 0);
    set(Lwm2mPath.firmwareDeliveryMethod, 0); // pull only
    set(Lwm2mPath.softwareName, 'app');
    set(Lwm2mPath.softwareVersion, options.softwareVersion ?? '1.0.0');
    set(Lwm2mPath.softwarePackageUri, '');
    set(Lwm2mPath.softwareUpdateState, SoftwareState.initial);
    set(Lwm2mPath.softwareUpdateResult, 0);
  }

  get firmwareVersion(): string {
    return String(this.values.get(Lwm2mPath.firmwareVersion));
  }

  get softwareVersion(): string {
    return String(this.values.get(Lwm2mPath.softwareVersion));
  }

  get registered(): boolean {
    return this.location !== undefined;
  }

  /** Binds its socket and registers. */
  async start(): Promise<void> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.socket = socket;
    this.agent = new Agent({ socket });
    const server = createServer({ piggybackReplyMs: 200 });
    server.on('request', (request: IncomingMessage, response: OutgoingMessage) =>
      this.handle(request, response),
    );
    server.listen(socket);
    this.server = server;
    await this.register();
    const lifetimeMs = (this.options.lifetimeSeconds ?? 300) * 1000;
    this.updateTimer = setInterval(
      () => void this.sendUpdate().catch((error: unknown) => this.log.warn({ err: error }, 'update failed')),
      this.options.updateIntervalMs ?? lifetimeMs / 2,
    );
  }

  async stop(options: { deregister?: boolean } = {}): Promise<void> {
    clearInterval(this.updateTimer);
    this.abort.abort();
    if (options.deregister && this.location) await this.deregister().catch(() => undefined);
    for (const observer of this.observers) observer.stream.end();
    this.observers.clear();
    this.server?.close();
    this.agent?.close();
    await new Promise<void>((resolve) => (this.socket ? this.socket.close(() => resolve()) : resolve()));
    this.socket = undefined;
  }

  /** Goes quiet without deregistering, as a device that lost power: its registration will expire. */
  async powerOff(): Promise<void> {
    await this.stop();
  }

  async register(): Promise<void> {
    const { lifetimeSeconds = 300, lwm2mVersion = '1.1', queueMode } = this.options;
    const query = `ep=${encodeURIComponent(this.endpoint)}&lt=${lifetimeSeconds}&lwm2m=${lwm2mVersion}&b=${queueMode ? 'UQ' : 'U'}`;
    const { announcedContentFormat } = this.options;
    const root =
      announcedContentFormat === undefined
        ? []
        : [{ target: '/', attributes: { rt: 'oma.lwm2m', ct: String(announcedContentFormat) } }];
    const links = formatLinkFormat([
      ...root,
      ...['/1/0', '/3/0', '/4/0', '/5/0', '/9/0'].map((target) => ({ target, attributes: {} })),
    ]);
    const response = await this.request('POST', '/rd', query, Buffer.from(links), ContentFormat.linkFormat);
    if (response.code !== '2.01')
      throw new Error(`registration refused with ${response.code}: ${response.payload}`);
    const segments = (response._packet.options ?? [])
      .filter((option) => option.name === 'Location-Path')
      .map((option) => String(option.value));
    this.location = `/${segments.join('/')}`;
    this.emit('registered', { location: this.location });
  }

  /** A Registration Update (also how a queue-mode device says it is awake); registers again on 4.04. */
  async sendUpdate(): Promise<void> {
    if (!this.location) return this.register();
    const response = await this.request('POST', this.location);
    if (response.code === '4.04') {
      this.location = undefined;
      return this.register();
    }
    this.emit('updated');
  }

  async deregister(): Promise<void> {
    if (!this.location) return;
    await this.request('DELETE', this.location);
    this.location = undefined;
    this.emit('deregistered');
  }

  private request(
    method: 'POST' | 'DELETE',
    path: string,
    query = '',
    payload?: Buffer,
    contentFormat?: number,
  ): Promise<IncomingMessage> {
    const agent = this.agent;
    if (!agent) return Promise.reject(new Error('device not started'));
    const server = new URL(this.options.serverUri);
    this.wake();
    return new Promise((resolve, reject) => {
      const request = agent.request({
        hostname: server.hostname,
        port: Number(server.port || 5683),
        method,
        pathname: path,
        query,
        options: contentFormat === undefined ? undefined : { 'Content-Format': contentFormat },
      });
      request.on('response', resolve);
      request.on('error', reject);
      request.on('timeout', reject);
      request.end(payload);
    });
  }

  private wake(): void {
    this.awakeUntil = Date.now() + (this.options.awakeMs ?? 2_000);
  }

  private asleep(): boolean {
    return this.options.queueMode === true && Date.now() > this.awakeUntil;
  }

  // ---- the device's CoAP server: device management requests ----

  private handle(request: IncomingMessage, response: OutgoingMessage): void {
    const path = request.url.split('?')[0] ?? '/';
    const seen = { method: request.method, path };
    if (this.asleep()) {
      // Radio off: the request is lost (node-coap still ACKs it at the transport level).
      this.emit('request-while-asleep', seen);
      return;
    }
    this.emit('request', seen);
    let normalized: string;
    try {
      normalized = formatLwm2mPath(parseLwm2mPath(path));
    } catch {
      reply(response, '4.04');
      return;
    }
    if (request.method === 'GET') {
      this.read(normalized, request, response);
      return;
    }
    if (request.method === 'PUT') {
      this.write(normalized, request, response);
      return;
    }
    if (request.method === 'POST') {
      this.execute(normalized, response);
      return;
    }
    reply(response, '4.05');
  }

  private ignores(path: string): boolean {
    const { silentAt } = this.options;
    const under = (prefix: string) =>
      path === prefix || path.startsWith(`${prefix}/`) || prefix.startsWith(`${path}/`);
    if (silentAt === 'version') return under(Lwm2mPath.firmwareVersion) || under(Lwm2mPath.softwareVersion);
    if (silentAt === 'radio') return under(Lwm2mPath.radioSignalStrength) || under(Lwm2mPath.signalSnr);
    if (silentAt === 'cell-id') return under('/4');
    return false;
  }

  private valuesUnder(path: string): Record<string, ResourceValue> {
    const selected: Record<string, ResourceValue> = {};
    for (const [key, value] of this.values) {
      if (key === path || key.startsWith(`${path}/`)) selected[key] = value;
    }
    return selected;
  }

  private isSingleResource(path: string): boolean {
    const values = this.valuesUnder(path);
    return Object.keys(values).length === 1 && values[path] !== undefined;
  }

  /** The format to answer a read in, or the response code that refuses it. */
  private negotiate(path: string, request: IncomingMessage): AnswerFormat | '4.06' | '5.00' {
    const { acceptOnly, answerFormat = 'tlv' } = this.options;
    if (!acceptOnly) return answerFormat;
    if (request.headers.Accept === undefined) return '5.00';
    let accepted: AnswerFormat | undefined;
    try {
      accepted = answerFormats[contentFormatNumber(request.headers.Accept)];
    } catch {
      return '4.06';
    }
    if (accepted === undefined || !acceptOnly.includes(accepted)) return '4.06';
    if (accepted === 'text' && !this.isSingleResource(path)) return '4.06';
    return accepted;
  }

  private encode(path: string, format: AnswerFormat): { contentFormat: number; payload: Buffer } {
    const values = this.valuesUnder(path);
    const single = this.isSingleResource(path);
    if (format === 'text' && single)
      return { contentFormat: ContentFormat.plainText, payload: encodePlainText(values[path] ?? null) };
    if (format === 'senml-json')
      return { contentFormat: ContentFormat.senmlJson, payload: encodeSenmlJson(values) };
    const parsed = parseLwm2mPath(path);
    if (parsed.instanceId === undefined) {
      // A whole object: TLV wraps each instance's resources in an Object Instance element.
      return { contentFormat: ContentFormat.tlv, payload: encodeTlvObject(values) };
    }
    return { contentFormat: ContentFormat.tlv, payload: encodeTlv(values) };
  }

  private read(path: string, request: IncomingMessage, response: OutgoingMessage): void {
    if (Object.keys(this.valuesUnder(path)).length === 0) {
      reply(response, '4.04');
      return;
    }
    if (this.ignores(path)) return;
    const format = this.negotiate(path, request);
    if (format === '4.06' || format === '5.00') {
      reply(response, format);
      return;
    }
    const { contentFormat, payload } = this.encode(path, format);
    response.setOption('Content-Format', contentFormat);
    if (request.headers.Observe === 0) {
      const observer = { path, stream: response, format };
      this.observers.add(observer);
      response.on('finish', () => this.observers.delete(observer));
      response.on('error', () => this.observers.delete(observer));
      response.write(payload);
      return;
    }
    if (request.headers.Observe === 1) {
      for (const observer of this.observers) {
        if (observer.path === path) {
          this.observers.delete(observer);
          observer.stream.end();
        }
      }
    }
    response.end(payload);
  }

  private write(path: string, request: IncomingMessage, response: OutgoingMessage): void {
    if (path !== Lwm2mPath.firmwarePackageUri && path !== Lwm2mPath.softwarePackageUri) {
      reply(response, '4.05');
      return;
    }
    let uri: ResourceValue | undefined;
    try {
      uri = decodeContent(contentFormatNumber(request.headers['Content-Format']), request.payload, path)[
        path
      ];
    } catch {
      reply(response, '4.00');
      return;
    }
    reply(response, '2.04');
    this.set(path, String(uri ?? ''));
    const object = path === Lwm2mPath.firmwarePackageUri ? 5 : 9;
    if (uri === '' || uri === undefined) {
      this.setState(object, 0, 0);
      return;
    }
    void this.download(object, String(uri)).catch((error: unknown) =>
      this.log.error({ err: error }, 'simulated download crashed'),
    );
  }

  private execute(path: string, response: OutgoingMessage): void {
    if (path === Lwm2mPath.firmwareUpdate || path === Lwm2mPath.softwareInstall) {
      const object = path === Lwm2mPath.firmwareUpdate ? 5 : 9;
      const ready = object === 5 ? FirmwareState.downloaded : SoftwareState.delivered;
      if (this.state(object) !== ready || !this.downloaded) {
        reply(response, '4.05');
        return;
      }
      reply(response, '2.04');
      void this.update(object);
      return;
    }
    if (path === '/3/0/4') {
      reply(response, '2.04');
      return;
    }
    reply(response, '4.05');
  }

  // ---- the update flow ----

  private state(object: 5 | 9): number {
    return Number(this.values.get(object === 5 ? Lwm2mPath.firmwareState : Lwm2mPath.softwareUpdateState));
  }

  private set(path: string, value: ResourceValue): void {
    this.values.set(path, value);
    for (const observer of this.observers) {
      if (path === observer.path || path.startsWith(`${observer.path}/`)) {
        const { contentFormat, payload } = this.encode(observer.path, observer.format);
        observer.stream.setOption('Content-Format', contentFormat);
        observer.stream.write(payload);
      }
    }
  }

  /** Result last, so an observer of both sees the state first and then why it changed. */
  private setState(object: 5 | 9, state: number, result: number): void {
    if (object === 5) {
      this.set(Lwm2mPath.firmwareState, state);
      this.set(Lwm2mPath.firmwareUpdateResult, result);
    } else {
      this.set(Lwm2mPath.softwareUpdateState, state);
      this.set(Lwm2mPath.softwareUpdateResult, result);
    }
    this.wake();
    this.emit('state-changed', { object, state, result });
  }

  private fail(object: 5 | 9, code: FirmwareFailureCode): void {
    const result = object === 5 ? code : softwareFailure[code];
    this.setState(object, 0, result);
    this.emit('upgrade-failed', { object, result });
  }

  private async download(object: 5 | 9, uri: string): Promise<void> {
    const { failWith, silentAt } = this.options;
    if (silentAt === 'download-start') return;
    if (failWith !== undefined && failWith !== 4 && failWith !== 5 && failWith !== 8)
      return this.fail(object, failWith);
    this.downloaded = undefined;
    this.setState(
      object,
      object === 5 ? FirmwareState.downloading : SoftwareState.downloadStarted,
      object === 5 ? 0 : 1,
    );
    const cellId = Number(this.values.get(Lwm2mPath.cellId));
    this.emit('download-started', { endpoint: this.endpoint, cellId, uri });
    const blockSize = this.options.blockSize ?? 512;
    const result = await downloadBlockwise({
      uri: this.options.coapsVia ? uri.replace(/^coaps:\/\/[^/]+/, this.options.coapsVia) : uri,
      szx: Math.max(0, Math.min(6, Math.log2(blockSize) - 4)),
      delayPerBlockMs: this.options.blockDelayMs,
      dropAtBlock: this.options.dropDownloadAtBlock ?? (failWith === 4 ? 1 : undefined),
      maxResumes: failWith === 4 ? 0 : 3,
      stallAtBlock: silentAt === 'download-finish' ? 1 : undefined,
      corrupt: failWith === 5,
      signal: this.abort.signal,
      onResume: (offset) => this.emit('download-resumed', { offset }),
    });
    if (this.abort.signal.aborted) return;
    if (!result.ok) {
      this.log.info({ result }, 'download failed');
      return this.fail(object, result.reason === 'refused' ? 7 : 4);
    }
    this.emit('download-finished', {
      endpoint: this.endpoint,
      cellId,
      size: result.bytes.length,
      sha256: result.sha256,
    });
    const code = /\/([0-9a-f]{16})$/i.exec(new URL(uri).pathname)?.[1]?.toLowerCase();
    const expected = this.options.expectedSha256?.toLowerCase();
    if ((expected && result.sha256 !== expected) || (code && !result.sha256.startsWith(code))) {
      return this.fail(object, 5);
    }
    this.downloaded = result.bytes;
    if (object === 5) this.setState(5, FirmwareState.downloaded, 0);
    else {
      this.setState(9, SoftwareState.downloaded, SOFTWARE_DOWNLOADED);
      this.setState(9, SoftwareState.delivered, SOFTWARE_DOWNLOADED);
    }
  }

  private async update(object: 5 | 9): Promise<void> {
    const { silentAt, failWith } = this.options;
    if (silentAt === 'update-start') return;
    if (object === 5) this.setState(5, FirmwareState.updating, 0);
    await delay(this.options.updateDurationMs ?? 50);
    if (silentAt === 'result' || this.abort.signal.aborted) return;
    if (failWith === 8) return this.fail(object, 8);
    const versionPath = object === 5 ? Lwm2mPath.firmwareVersion : Lwm2mPath.softwareVersion;
    const version = this.options.updatedVersion ?? `${String(this.values.get(versionPath))}-updated`;
    this.set(versionPath, version);
    this.downloaded = undefined;
    if (object === 5) this.setState(5, FirmwareState.idle, FIRMWARE_SUCCESS);
    else this.setState(9, SoftwareState.installed, SOFTWARE_INSTALLED);
    this.emit('upgraded', { object, version });
    // Back from the reboot the new firmware needs: the server hears from the device again.
    await this.sendUpdate().catch((error: unknown) =>
      this.log.warn({ err: error }, 'update after reboot failed'),
    );
  }
}

function reply(response: OutgoingMessage, code: string): void {
  response.code = code;
  response.end();
}
