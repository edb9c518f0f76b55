/** The live connections of devices, where the process holds them (the embedded MQTT broker, DTLS sessions). */
export interface DeviceConnections {
  /** Closes every connection of the device: one disabled, or whose secret changed, logs in again or not at all. */
  disconnect(deviceId: string): void | Promise<void>;
}
