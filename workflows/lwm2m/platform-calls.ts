/** The platform's activities as the LwM2M flows call them, and the options of every device command. */
import {
  ActivityFailure,
  type ActivityOptions,
  ApplicationFailure,
  proxyLocalActivities,
} from '@temporalio/workflow';
import {
  DEVICE_NOT_ONLINE,
  type Lwm2mPlatformActivities,
  type PlatformActivities,
} from '../../activities/interfaces';

/** Registry, gateway and network hiccups are retried; an unregistered device is an answer, not a hiccup. */
export const commandOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: [DEVICE_NOT_ONLINE],
  },
};
/** Clean-up after the upgrade ended must not hold the result back for long. */
export const cleanupOptions: ActivityOptions = {
  ...commandOptions,
  retry: { ...commandOptions.retry, maximumAttempts: 3 },
};

/**
 * Cheap database reads and writes and the permit request, run by the workflow's own worker: those
 * of one workflow task are one action between them (docs/workflows.md, "Temporal actions").
 */
export const platform = proxyLocalActivities<PlatformActivities & Lwm2mPlatformActivities>({
  startToCloseTimeout: commandOptions.startToCloseTimeout,
  retry: commandOptions.retry,
});
export const cleanup = proxyLocalActivities<Lwm2mPlatformActivities>({
  startToCloseTimeout: cleanupOptions.startToCloseTimeout,
  retry: cleanupOptions.retry,
});

/** The device has no live registration: an answer, not a hiccup (never retried). */
export function isDeviceNotOnline(err: unknown): boolean {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure && failure.type === DEVICE_NOT_ONLINE;
}
