/**
 * What the LwM2M gateway needs from the device registry: which endpoints are LwM2M devices, and where
 * each is registered. Implemented over the database in src/db/lwm2m-registrations.ts.
 */

/** Where a device is registered: what the platform needs to route its commands. */
export interface RegistrationLocation {
  gatewayId: string;
  registrationId: string;
  address: string;
  port: number;
  queueMode: boolean;
  lifetimeSeconds: number;
}

/**
 * The rest of a registration as its gateway wrote it (JSON), kept with its location so that the
 * gateway restarted under the same ID takes it up again (src/lwm2m/gateway.ts).
 */
export type RegistrationDetails = object;

/** A registration as the database keeps it; `details` is absent for one recorded before they were kept. */
export interface KeptRegistration extends RegistrationLocation {
  deviceId: string;
  /** The device's last Register or Update: its lifetime runs from there. */
  updatedAt: Date;
  details?: RegistrationDetails;
}

/** How a device proves who it is when it registers. */
export interface Lwm2mDeviceSecurity {
  /** The DTLS PSK identity its registrations must come under; null: plain CoAP. */
  pskIdentity: string | null;
}

export interface Lwm2mGatewayRegistry {
  /** A provisioned, enabled device (endpoint name = device ID) whose protocol is 'lwm2m'; else undefined. */
  lwm2mDevice(deviceId: string): Promise<Lwm2mDeviceSecurity | undefined>;
  setPresence(deviceId: string, online: boolean, at: Date): Promise<void>;
  recordRegistration(
    deviceId: string,
    location: RegistrationLocation,
    details: RegistrationDetails,
  ): Promise<void>;
  /** The registrations the gateway held, to take up again at its start. */
  keptRegistrations(gatewayId: string): Promise<KeptRegistration[]>;
  /**
   * Clears the location only if it is still this registration, and says whether it was: the device
   * may have registered again since, here or through another gateway, and is then not gone.
   */
  clearRegistration(deviceId: string, registrationId: string): Promise<boolean>;
  /**
   * The paths the platform observes on the device, kept beyond its registration: a new registration
   * starts without observations (TS Core §6.2.1), so the gateway it comes to observes them again.
   */
  observedPaths(deviceId: string): Promise<string[]>;
  recordObservations(deviceId: string, paths: string[]): Promise<void>;
  forgetObservations(deviceId: string, paths: string[]): Promise<void>;
}
