/** How an LwM2M upgrade shows its progress: the API's steps, the Temporal UI's search attributes, the result. */
import { CancellationScope, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  type DeviceUpgradeResult,
  type DeviceUpgradeStatus,
  deviceUpgradeSearchAttributes,
  deviceUpgradeStatusQuery,
  OtaSearchAttributes,
  type UpgradeStep,
} from '../definitions';
import type { Lwm2mBatch } from './definitions';
import type { Ending } from './endings';
import { platform } from './platform-calls';
import type { Lwm2mUpgradeInput } from './upgrade-input';

export interface Progress {
  enter(step: UpgradeStep, details?: { fromVersion?: string }): Promise<void>;
  /** The step a batch of commands starts: the batch's activity records it. */
  startedBy(step: UpgradeStep, details?: { fromVersion?: string }): Lwm2mBatch['step'];
  /** Stamps the ending into a result, shows it and notifies the application (also after a cancellation). */
  end(ending: Ending): Promise<DeviceUpgradeResult>;
}

/**
 * Search attributes come with the start (a client that starts an upgrade without them gets them
 * upserted here); the one upsert of an upgrade is its final step and, for a failure, the seed's
 * message. The steps in between are the API's, recorded with the commands.
 */
export function trackProgress(input: Lwm2mUpgradeInput): Progress {
  const status: DeviceUpgradeStatus = { step: 'waiting-online' };
  setHandler(deviceUpgradeStatusQuery, () => status);
  if (workflowInfo().typedSearchAttributes.get(OtaSearchAttributes.taskId) === undefined) {
    upsertSearchAttributes(deviceUpgradeSearchAttributes(input));
  }
  return {
    async enter(step, details) {
      status.step = step;
      await platform.recordUpgradeStep(input.taskId, input.deviceId, step, details);
    },
    startedBy(step, details) {
      status.step = step;
      return { taskId: input.taskId, step, ...details };
    },
    async end(ending) {
      const result: DeviceUpgradeResult = {
        taskId: input.taskId,
        deviceId: input.deviceId,
        toVersion: input.package.version,
        ...ending,
      };
      const finalStep = ending.outcome === 'already-latest' ? 'succeeded' : ending.outcome;
      status.step = finalStep;
      upsertSearchAttributes([
        { key: OtaSearchAttributes.step, value: finalStep },
        ...(ending.outcome === 'failed' && ending.cause
          ? [{ key: OtaSearchAttributes.failureCause, value: ending.cause }]
          : []),
      ]);
      status.result = result;
      await CancellationScope.nonCancellable(() => platform.notifyDeviceResult(result, 'device'));
      return result;
    },
  };
}
