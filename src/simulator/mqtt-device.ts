/**
 * A simulated MQTT device that behaves like one built with the seed platform's device SDK: it
 * connects with the HMAC credentials, sends no SUBSCRIBE (the platform subscribes it to its downlink
 * topics implicitly), answers `version_query` with `version_report`, and on an
 * upgrade event downloads the package (Bearer token, Range resume), checks its SHA-256, reports
 * progress and the result. Faults are injected through options so tests and the demo can show every
 * failure path for real.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import type { PackageKind } from '../../workflows/definitions';
import { MqttResultCode } from '../../workflows/failure-causes';
import { type Logger, logger } from '../logger';
import { deviceCredentials, type SignType } from '../mqtt/device-auth';
import {
  buildProgressReport,
  buildVersionReport,
  type EventEnvelope,
  eventsDownTopic,
  eventsUpTopic,
  type OtaDownlinkEvent,
  type ProgressReport,
  parseDownlink,
} from '../mqtt/ota-protocol';
import { downloadPackage } from './package-download';

export interface SimulatedDeviceBehaviour {
  /** Subscribes to its `sys/events/down` itself, as some firmwares do; the seed platform's SDKs never do. */
  subscribesToDownlinks?: boolean;
  /** Never answers version_query. */
  silent?: boolean;
  /** Does not connect on start(); call connect() to bring it online. */
  offline?: boolean;
  /** Refuses the upgrade with this result code (e.g. 5 not enough space) instead of downloading. */
  failWith?: { resultCode: number; description?: string };
  /** The downloaded bytes get corrupted: the device's integrity check fails (result code 7). */
  corruptDownload?: boolean;
  /** Reports success, but with the version it already ran. */
  reportWrongVersion?: boolean;
  /** Breaks the download connection once at this byte offset; the device resumes with Range. */
  dropConnectionOnceAt?: number;
  /** Waits this long after the upgrade event before downloading. */
  downloadDelayMs?: number;
  /** Downloads no faster than this (a slow radio link); unlimited when absent. */
  downloadBytesPerSecond?: number;
}

export interface SimulatedDeviceOptions extends SimulatedDeviceBehaviour {
  deviceId: string;
  secret: string;
  brokerUrl: string;
  /** The CA the device verifies the broker (an `mqtts:` URL) and HTTPS downloads against, as seed devices do. */
  ca?: Buffer;
  softwareVersion?: string;
  firmwareVersion?: string;
  signType?: SignType;
  /**
   * Signs every CONNECT with this hour instead of the current one (signType '0': the platform does not
   * check it). Lets a broker with static password files, such as Mosquitto in the integration tests,
   * accept the device across an hour boundary.
   */
  credentialsHour?: Date;
  log?: Logger;
}

export interface SimulatedDeviceEvents {
  connected: [];
  disconnected: [];
  'version-query': [];
  'upgrade-notified': [Extract<OtaDownlinkEvent, { type: 'firmware_upgrade' | 'software_upgrade' }>];
  uplink: [EventEnvelope];
  'download-resumed': [offset: number];
  upgraded: [{ kind: PackageKind; version: string }];
  'upgrade-failed': [{ resultCode: number; description: string }];
}

type UpgradeEvent = SimulatedDeviceEvents['upgrade-notified'][0];

export class SimulatedMqttDevice extends EventEmitter<SimulatedDeviceEvents> {
  readonly deviceId: string;
  softwareVersion: string;
  firmwareVersion: string;
  private client: MqttClient | undefined;
  private upgrading = false;
  private readonly log: Logger;

  constructor(private readonly options: SimulatedDeviceOptions) {
    super();
    this.deviceId = options.deviceId;
    this.softwareVersion = options.softwareVersion ?? '1.0.0';
    this.firmwareVersion = options.firmwareVersion ?? '1.0.0';
    this.log = (options.log ?? logger).child({ component: 'simulated-device', deviceId: options.deviceId });
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  async start(): Promise<void> {
    if (!this.options.offline) await this.connect();
  }

  async connect(): Promise<void> {
    if (this.client) return;
    const { credentialsHour } = this.options;
    const signType = this.options.signType ?? (credentialsHour ? '0' : '1');
    const sign = () => deviceCredentials(this.deviceId, this.options.secret, signType, credentialsHour);
    const credentials = sign();
    const client = await mqtt.connectAsync(this.options.brokerUrl, {
      ...credentials,
      ca: this.options.ca,
      clean: true,
      reconnectPeriod: 1000,
    });
    // The clientId and password carry the current hour: a reconnect must present fresh ones.
    client.on('reconnect', () => {
      Object.assign(client.options, sign());
    });
    client.on('connect', () => this.emit('connected'));
    client.on('close', () => this.emit('disconnected'));
    client.on('message', (_topic, payload) => this.handleDownlink(payload));
    this.client = client;
    if (this.options.subscribesToDownlinks) {
      await client.subscribeAsync(eventsDownTopic(this.deviceId), { qos: 1 });
    }
    this.emit('connected');
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.endAsync();
  }

  private handleDownlink(payload: Buffer): void {
    const parsed = parseDownlink(this.deviceId, payload);
    if (!parsed.ok) {
      this.log.warn({ problem: parsed.error }, 'device ignored an invalid downlink');
      return;
    }
    for (const event of parsed.value) {
      if (event.type === 'version_query') {
        this.emit('version-query');
        if (!this.options.silent) {
          void this.send(
            buildVersionReport(this.deviceId, {
              softwareVersion: this.softwareVersion,
              firmwareVersion: this.firmwareVersion,
            }),
          );
        }
        continue;
      }
      this.emit('upgrade-notified', event);
      void this.upgrade(event).catch((error: unknown) =>
        this.log.error({ err: error }, 'simulated upgrade crashed'),
      );
    }
  }

  private async upgrade(event: UpgradeEvent): Promise<void> {
    const kind: PackageKind = event.type === 'firmware_upgrade' ? 'firmware' : 'software';
    const currentVersion = kind === 'firmware' ? this.firmwareVersion : this.softwareVersion;
    if (this.upgrading) {
      await this.report({
        resultCode: MqttResultCode.busy,
        version: currentVersion,
        description: 'upgrade in progress',
      });
      return;
    }
    this.upgrading = true;
    try {
      if (this.options.failWith) {
        const { resultCode, description = `refused with result code ${resultCode}` } = this.options.failWith;
        await this.fail({ resultCode, version: currentVersion, description });
        return;
      }
      if (this.options.downloadDelayMs) await delay(this.options.downloadDelayMs);
      await this.report({
        resultCode: MqttResultCode.success,
        progress: 10,
        version: event.version,
        description: 'downloading',
      });
      let halfwayReported = false;
      const download = await downloadPackage({
        url: event.url,
        accessToken: event.accessToken,
        ca: this.options.ca,
        expectedSize: event.fileSize,
        sha256: event.sha256,
        corrupt: this.options.corruptDownload,
        dropConnectionOnceAt: this.options.dropConnectionOnceAt,
        bytesPerSecond: this.options.downloadBytesPerSecond,
        onResume: (offset) => this.emit('download-resumed', offset),
        onProgress: (received, total) => {
          if (!halfwayReported && received * 2 >= total) {
            halfwayReported = true;
            void this.report({
              resultCode: MqttResultCode.success,
              progress: 50,
              version: event.version,
              description: 'downloading',
            });
          }
        },
      });
      if (!download.ok) {
        await this.fail({
          resultCode: download.resultCode,
          version: currentVersion,
          description: download.description,
        });
        return;
      }
      const installedVersion = this.options.reportWrongVersion ? currentVersion : event.version;
      if (kind === 'firmware') this.firmwareVersion = installedVersion;
      else this.softwareVersion = installedVersion;
      await this.report({
        resultCode: MqttResultCode.success,
        progress: 100,
        version: installedVersion,
        description: 'upgrade success',
      });
      this.emit('upgraded', { kind, version: installedVersion });
    } finally {
      this.upgrading = false;
    }
  }

  private async fail(report: ProgressReport & { description: string }): Promise<void> {
    await this.report(report);
    this.emit('upgrade-failed', { resultCode: report.resultCode, description: report.description });
  }

  private report(report: ProgressReport): Promise<void> {
    return this.send(buildProgressReport(this.deviceId, report));
  }

  private async send(message: EventEnvelope): Promise<void> {
    const client = this.client;
    if (!client) return;
    await client.publishAsync(eventsUpTopic(this.deviceId), JSON.stringify(message), { qos: 1 });
    this.emit('uplink', message);
  }
}
