/** Timeouts of the seed flows, named after the step they bound. Seed 001: MQTT devices. */
export const MqttTimeouts = {
  /** Step 3: "The timeout interval for the device to go online is within 25 hours." */
  deviceOnline: '25 hours',
  /** Steps 4–5: "The timeout interval for step 5 is 3 minutes." */
  versionReport: '3 minutes',
  /** Steps 6–7: "The timeout interval for package download and upgrade status reporting is 24 hours." */
  downloadAndResult: '24 hours',
  /** Steps 6–7: "The token is valid for 24 hours." */
  downloadToken: '24 hours',
} as const;

/** Seed 000: NB-IoT devices on LwM2M over CoAP (software and firmware flows). */
export const Lwm2mTimeouts = {
  /** Step 3: "The timeout interval is 24 hours." */
  deviceOnline: '24 hours',
  /** Step 4: "the timeout interval for the device to report the … version is 3 minutes." */
  versionReport: '3 minutes',
  /** "The timeout interval for the reporting of the radio coverage level and cell ID is about 3 minutes." */
  radioCoverageReport: '3 minutes',
  /** Download: "The timeout interval for step 11 is 60 minutes." */
  download: '60 minutes',
  /** "The timeout interval for the device to report the upgrade result and status is 30 minutes." */
  upgradeResult: '30 minutes',
} as const;
