import pino from 'pino';
import { UPLINK_DELIVERY_BOUND_MS } from '../../../src/db/devices';
import type { DeviceEventSink } from '../../../src/devices/device-event-sinks';
import type { DeviceRegistry } from '../../../src/devices/registry';
import type { RecordedUplink, UplinkInbox } from '../../../src/devices/uplink-inbox';
import { createDeviceAuthenticator } from '../../../src/mqtt/device-auth';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../../src/mqtt/embedded-broker';
import type { UpgradeResultReport, VersionReport } from '../../../workflows/definitions';

/** An in-memory registry that records what the gateway told it. */
export class InMemoryRegistry implements DeviceRegistry {
  readonly secrets = new Map<string, string>();
  readonly online = new Map<string, boolean>();
  readonly lastSeen = new Map<string, Date>();
  readonly versions = new Map<string, VersionReport>();
  readonly progress: Array<{ deviceId: string; progress: number; description?: string }> = [];

  async getDeviceSecret(deviceId: string) {
    return this.secrets.get(deviceId);
  }
  /** When the broker last reported on each device (src/db/devices.ts). */
  readonly presenceAt = new Map<string, Date>();

  async setPresence(deviceId: string, online: boolean, at: Date) {
    const last = this.presenceAt.get(deviceId);
    if (last !== undefined && last > at) return;
    this.online.set(deviceId, online);
    this.presenceAt.set(deviceId, at);
    this.lastSeen.set(deviceId, at);
  }
  async isOnline(deviceId: string) {
    return this.online.get(deviceId) === true;
  }
  async markSeen(deviceId: string, at: Date) {
    const presenceAt = this.presenceAt.get(deviceId);
    const cameOnline =
      this.online.get(deviceId) !== true &&
      (presenceAt === undefined || presenceAt.getTime() < at.getTime() - UPLINK_DELIVERY_BOUND_MS);
    if (cameOnline) this.online.set(deviceId, true);
    this.lastSeen.set(deviceId, at);
    return { cameOnline };
  }
  async recordReportedVersions(deviceId: string, report: VersionReport) {
    this.versions.set(deviceId, { ...this.versions.get(deviceId), ...report });
  }
  async recordUpgradeProgress(deviceId: string, progress: number, description: string | undefined) {
    this.progress.push({ deviceId, progress, description });
  }
}

export type SinkCall =
  | { signal: 'deviceOnline'; deviceId: string }
  | { signal: 'versionReported'; deviceId: string; report: VersionReport }
  | { signal: 'upgradeResultReported'; deviceId: string; report: UpgradeResultReport };

/** Records the signals the gateway would send to device workflows. */
export class RecordingSink implements DeviceEventSink {
  readonly calls: SinkCall[] = [];
  async deviceOnline(deviceId: string) {
    this.calls.push({ signal: 'deviceOnline', deviceId });
  }
  async versionReported(deviceId: string, report: VersionReport) {
    this.calls.push({ signal: 'versionReported', deviceId, report });
  }
  async upgradeResultReported(deviceId: string, report: UpgradeResultReport) {
    this.calls.push({ signal: 'upgradeResultReported', deviceId, report });
  }
}

/** An inbox in memory; `failing` makes `record` throw, as a database that is down would. */
export class InMemoryUplinkInbox implements UplinkInbox {
  readonly kept = new Map<string, RecordedUplink>();
  failing = false;
  private nextId = 1;
  /** Every delivery recorded, handled or not, by packet ID. */
  readonly deliveries = new Map<number, Omit<RecordedUplink, 'id' | 'receivedAt'>>();
  async record(uplink: Omit<RecordedUplink, 'id'>, packetId?: number) {
    if (this.failing) throw new Error('database unavailable');
    const id = String(this.nextId++);
    this.kept.set(id, { id, ...uplink });
    if (packetId !== undefined) this.deliveries.set(packetId, uplink);
    return id;
  }
  async recordedBefore(uplink: Omit<RecordedUplink, 'id' | 'receivedAt'>, packetId: number) {
    const earlier = this.deliveries.get(packetId);
    return earlier?.deviceId === uplink.deviceId && earlier.payload.equals(uplink.payload);
  }
  async markHandled(id: string) {
    this.kept.delete(id);
  }
  async unfinished() {
    return [...this.kept.values()];
  }
  heartbeats = 0;
  async heartbeat() {
    this.heartbeats++;
  }
  /** Uplinks a silent gateway left, handed over at the next adoption. */
  readonly orphans: RecordedUplink[] = [];
  async adoptFromSilentGateways() {
    const adopted = this.orphans.splice(0);
    for (const uplink of adopted) this.kept.set(uplink.id, uplink);
    return adopted;
  }
}

/** Polls until the check passes (events cross sockets); fails after `timeoutMs`. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** The embedded broker on a free loopback port, checking logins against `registry`. */
export function startLoopbackBroker(registry: InMemoryRegistry): Promise<EmbeddedBroker> {
  return startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    authenticate: createDeviceAuthenticator({
      registry,
      serviceAccount: { username: 'otaflow-gateway', password: 'service-password' },
    }),
    log: pino({ level: 'silent' }),
  });
}
