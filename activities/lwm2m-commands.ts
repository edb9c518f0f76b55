/**
 * The LwM2M device commands, in batches, run on the task queue of the gateway holding the device's
 * registration (`lwm2mGatewayTaskQueue`). A batch returns once its commands have left (or are held
 * for a sleeping queue-mode device), with the read answers that came quickly; later answers arrive as
 * signals. A device with no registration here cannot be reached, and retrying would not change that.
 */
import { ApplicationFailure } from '@temporalio/common';
import { type Logger, logger } from '../src/logger';
import { Lwm2mContentError } from '../src/lwm2m/content-formats';
import type { GatewayOperation } from '../src/lwm2m/device-management';
import { DeviceNotRegisteredError } from '../src/lwm2m/device-management';
import type { Lwm2mGatewayCommands } from '../src/lwm2m/gateway';
import { InvalidLwm2mPathError } from '../src/lwm2m/lwm2m-path';
import { deviceOperationWorkflowId } from '../workflows/definitions';
import { DEVICE_NOT_ONLINE, type Lwm2mBatchActivities, type PlatformActivities } from './interfaces';

export interface Lwm2mCommandDependencies {
  gateway: { commands: Lwm2mGatewayCommands };
  /** Records the step a batch starts, so the API shows it without an activity of its own. */
  steps: Pick<PlatformActivities, 'recordUpgradeStep'>;
  /** Where each batch sent is logged, one line each (docs/observability.md). */
  log?: Logger;
}

export const INVALID_LWM2M_COMMAND = 'InvalidLwm2mCommand';

/**
 * How long a batch waits for its read answers: an awake NB-IoT device answers within seconds, and
 * an answer returned costs no signal (nor a timer in the workflow). The seed's 3 minutes for an
 * answer count from the activity's end, so they are never shortened.
 */
export const BATCH_ANSWER_WITHIN_MS = 5_000;

export function createLwm2mCommandActivities({
  gateway,
  steps,
  log = logger.child({ component: 'device-commands' }),
}: Lwm2mCommandDependencies): Lwm2mBatchActivities {
  const { commands } = gateway;
  async function run<T>(command: () => T | Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      if (error instanceof DeviceNotRegisteredError) {
        throw ApplicationFailure.nonRetryable(error.message, DEVICE_NOT_ONLINE);
      }
      if (error instanceof InvalidLwm2mPathError || error instanceof Lwm2mContentError) {
        throw ApplicationFailure.nonRetryable(error.message, INVALID_LWM2M_COMMAND);
      }
      throw error;
    }
  }
  return {
    async lwm2mSend(deviceId, { operations, quiet, step }) {
      if (!commands.isRegistered(deviceId)) {
        throw ApplicationFailure.nonRetryable(
          `device ${deviceId} has no live LwM2M registration`,
          DEVICE_NOT_ONLINE,
        );
      }
      if (step) {
        const details = step.fromVersion === undefined ? undefined : { fromVersion: step.fromVersion };
        await steps.recordUpgradeStep(step.taskId, deviceId, step.step, details);
      }
      const sent: GatewayOperation[] = operations.map((operation) =>
        operation.op === 'write-package-uri'
          ? { op: 'write', path: operation.path, value: commands.packageUri(operation.package, deviceId) }
          : operation,
      );
      const answer = await run(() =>
        commands.sendBatch(deviceId, sent, { quiet, answerWithinMs: BATCH_ANSWER_WITHIN_MS }),
      );
      log.info(
        {
          deviceId,
          workflowId: deviceOperationWorkflowId(deviceId),
          command: operations.map((operation) => operation.op).join(','),
        },
        'device command sent',
      );
      return answer;
    },
  };
}
