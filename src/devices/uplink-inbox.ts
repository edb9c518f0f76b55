/**
 * Where a gateway keeps a device's uplink from the moment it accepts it until it has been handled:
 * the broker's acknowledgement (MQTT PUBACK) waits for `record`, so a database or Temporal outage, or
 * a crash, between the acknowledgement and the workflow's signal loses no report.
 */
export interface RecordedUplink {
  id: string;
  deviceId: string;
  payload: Buffer;
  receivedAt: Date;
}

export interface UplinkInbox {
  /** `packetId`: the MQTT packet ID it came under, by which a redelivery of it is recognised. */
  record(uplink: Omit<RecordedUplink, 'id'>, packetId?: number): Promise<string>;
  /**
   * Whether this gateway recorded this message before: a redelivered uplink with the same packet ID
   * and payload, from the same device, received by this gateway within the last day (handled or not).
   * Its acknowledgement was lost (a crash or a dropped connection right after recording it).
   */
  recordedBefore(uplink: Omit<RecordedUplink, 'id' | 'receivedAt'>, packetId: number): Promise<boolean>;
  /** The uplink has been handled (kept a day, so that a late redelivery of it is recognised). */
  markHandled(id: string): Promise<void>;
  /** What this gateway recorded and has not handled, oldest first. */
  unfinished(): Promise<RecordedUplink[]>;
  /** This gateway is alive: gateways that say so no longer have their uplinks adopted. */
  heartbeat(): Promise<void>;
  /**
   * What gateways silent for `silentForMs` recorded and never handled, now this gateway's, oldest
   * first: with shared subscriptions any gateway can handle any device's uplink, so a gateway that
   * died (and whose ID never comes back, as a replaced pod's) loses none.
   */
  adoptFromSilentGateways(silentForMs: number): Promise<RecordedUplink[]>;
}
