/**
 * A version query's answer, awaited briefly by the command that asked for it.
 *
 * An online MQTT device answers a version query within a second. When the query's activity completes
 * only after the gateway has signalled that answer to the upgrade workflow, the one workflow task that
 * sees the query sent also sees the answer: the workflow starts no timeout timer for it and needs no
 * further workflow task (one billed action and one workflow task less per upgrade). Only timing
 * depends on this: the workflow itself still waits for the answer, with the seed's timeout.
 *
 * The upgrade result is not awaited so: it follows a download and a reboot, minutes later.
 */
import type { DeviceEventSink } from '../devices/device-event-sinks';

export interface VersionAnswers {
  /** Starts listening for the device's next version report; call it before sending the query. */
  listen(deviceId: string): PendingAnswer;
  /** The gateway has signalled a version report from the device to its workflow. */
  signalled(deviceId: string): void;
}

export interface PendingAnswer {
  /** True once the answer has been signalled, false after `ms` without it; stops listening either way. */
  within(ms: number): Promise<boolean>;
  /** Stops listening (the query was not sent). */
  stop(): void;
}

export function createVersionAnswers(): VersionAnswers {
  const listeners = new Map<string, Set<() => void>>();
  return {
    listen(deviceId) {
      let answered = false;
      let wake = () => {};
      const listener = () => {
        answered = true;
        wake();
      };
      const stop = () => {
        const forDevice = listeners.get(deviceId);
        forDevice?.delete(listener);
        if (forDevice?.size === 0) listeners.delete(deviceId);
      };
      const forDevice = listeners.get(deviceId) ?? new Set();
      forDevice.add(listener);
      listeners.set(deviceId, forDevice);
      return {
        async within(ms) {
          if (!answered) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, ms);
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
          }
          stop();
          return answered;
        },
        stop,
      };
    },
    signalled(deviceId) {
      for (const listener of listeners.get(deviceId) ?? []) listener();
    },
  };
}

/** The sink, telling `answers` once each version report has been signalled. */
export function signallingVersionAnswers(sink: DeviceEventSink, answers: VersionAnswers): DeviceEventSink {
  return {
    deviceOnline: (deviceId) => sink.deviceOnline(deviceId),
    async versionReported(deviceId, report, uplinkId) {
      await sink.versionReported(deviceId, report, uplinkId);
      answers.signalled(deviceId);
    },
    upgradeResultReported: (deviceId, report, uplinkId) =>
      sink.upgradeResultReported(deviceId, report, uplinkId),
  };
}
