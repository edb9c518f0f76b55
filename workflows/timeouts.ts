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
