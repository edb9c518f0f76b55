import { Readable } from 'node:stream';
import type { Lwm2mEventSink } from '../../../src/devices/device-event-sinks';
import type {
  KeptRegistration,
  Lwm2mGatewayRegistry,
  RegistrationDetails,
  RegistrationLocation,
} from '../../../src/devices/lwm2m-registry';
import type { DeliverablePackage, PackageSource } from '../../../src/lwm2m/package-source';
import type { DeviceCommandFailure, ResourcesReport } from '../../../workflows/lwm2m/definitions';

/** Devices by ID with their protocol, and what the gateway told the registry. */
export class FakeLwm2mRegistry implements Lwm2mGatewayRegistry {
  readonly protocols = new Map<string, 'mqtt' | 'lwm2m'>();
  readonly online = new Map<string, boolean>();
  readonly locations = new Map<string, RegistrationLocation>();
  /** PSK identities of the devices provisioned with a key. */
  readonly pskIdentities = new Map<string, string>();

  async lwm2mDevice(deviceId: string) {
    if (this.protocols.get(deviceId) !== 'lwm2m') return undefined;
    return { pskIdentity: this.pskIdentities.get(deviceId) ?? null };
  }
  async setPresence(deviceId: string, online: boolean) {
    this.online.set(deviceId, online);
  }
  /** The details and time of each location, as the database keeps them for a restarted gateway. */
  readonly kept = new Map<string, { details: RegistrationDetails; updatedAt: Date }>();
  async recordRegistration(deviceId: string, location: RegistrationLocation, details: RegistrationDetails) {
    this.locations.set(deviceId, location);
    this.kept.set(deviceId, { details, updatedAt: new Date() });
  }
  async keptRegistrations(gatewayId: string): Promise<KeptRegistration[]> {
    return [...this.locations].flatMap(([deviceId, location]) => {
      const kept = this.kept.get(deviceId);
      return location.gatewayId === gatewayId && kept ? [{ ...location, ...kept, deviceId }] : [];
    });
  }
  async clearRegistration(deviceId: string, registrationId: string) {
    if (this.locations.get(deviceId)?.registrationId !== registrationId) return false;
    this.locations.delete(deviceId);
    return true;
  }
  /** Observed paths by device, as the database keeps them across registrations and gateways. */
  readonly observations = new Map<string, Set<string>>();
  async observedPaths(deviceId: string) {
    return [...(this.observations.get(deviceId) ?? [])].sort();
  }
  async recordObservations(deviceId: string, paths: string[]) {
    const observed = this.observations.get(deviceId) ?? new Set();
    for (const path of paths) observed.add(path);
    this.observations.set(deviceId, observed);
  }
  async forgetObservations(deviceId: string, paths: string[]) {
    for (const path of paths) this.observations.get(deviceId)?.delete(path);
  }
}

export type Lwm2mSinkCall =
  | { signal: 'deviceOnline'; deviceId: string }
  | { signal: 'resourcesReported'; deviceId: string; report: ResourcesReport }
  | { signal: 'deviceCommandFailed'; deviceId: string; failure: DeviceCommandFailure };

export class RecordingLwm2mSink implements Lwm2mEventSink {
  readonly calls: Lwm2mSinkCall[] = [];
  async deviceOnline(deviceId: string) {
    this.calls.push({ signal: 'deviceOnline', deviceId });
  }
  async resourcesReported(deviceId: string, report: ResourcesReport) {
    this.calls.push({ signal: 'resourcesReported', deviceId, report });
  }
  async deviceCommandFailed(deviceId: string, failure: DeviceCommandFailure) {
    this.calls.push({ signal: 'deviceCommandFailed', deviceId, failure });
  }
  /** The last reported value of each path, in arrival order. */
  reported(deviceId: string): Record<string, unknown> {
    const values: Record<string, unknown> = {};
    for (const call of this.calls) {
      if (call.signal === 'resourcesReported' && call.deviceId === deviceId)
        Object.assign(values, call.report.values);
    }
    return values;
  }
  failures(deviceId: string): DeviceCommandFailure[] {
    return this.calls.flatMap((call) =>
      call.signal === 'deviceCommandFailed' && call.deviceId === deviceId ? [call.failure] : [],
    );
  }
}

/** Packages held in memory; counts the ranges read so tests can check only blocks are fetched. */
export class InMemoryPackages implements PackageSource {
  readonly objects = new Map<string, Buffer>();
  readonly packages = new Map<string, DeliverablePackage>();
  readonly rangesRead: Array<{ offset: number; length?: number }> = [];
  readonly cacheBytes = 1024 * 1024;
  readonly store = {
    openRange: async (objectKey: string, offset: number, length?: number) => {
      this.rangesRead.push({ offset, length });
      const bytes = this.objects.get(objectKey) ?? Buffer.alloc(0);
      return Readable.from([bytes.subarray(offset, length === undefined ? undefined : offset + length)]);
    },
  };
  async lookup(packageId: string) {
    return this.packages.get(packageId);
  }
}

export { eventually } from '../mqtt/fakes';
