/**
 * `Lwm2mPlatformActivities`: where an LwM2M device's commands go, and the cell limiter's side
 * effects (delivering a permit request, starting the cell's limiter on demand; delivering a release;
 * finding holders that ended without releasing).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { cellLimiter } from '../workflows/cell-limiter/cell-limiter';
import { isValidPermitRequest } from '../workflows/cell-limiter/permit-book';
import { TaskQueue } from '../workflows/definitions';
import {
  CELL_LIMITER_WORKFLOW_TYPE,
  cellLimiterWorkflowId,
  lwm2mGatewayTaskQueue,
  releasePermitSignal,
  requestPermitSignal,
} from '../workflows/lwm2m/definitions';
import type { Lwm2mPlatformActivities } from './interfaces';

export interface CellPermitActivityDeps {
  client: Client;
  /** The ID of the LwM2M gateway holding the device's live registration, if any. */
  gatewayOf(deviceId: string): Promise<string | undefined>;
}

export function createLwm2mPlatformActivities(deps: CellPermitActivityDeps): Lwm2mPlatformActivities {
  return {
    async locateLwm2mDevice(deviceId) {
      const gatewayId = await deps.gatewayOf(deviceId);
      return gatewayId === undefined ? undefined : { taskQueue: lwm2mGatewayTaskQueue(gatewayId) };
    },

    async requestCellPermit(cellId, request) {
      if (cellId === '' || !isValidPermitRequest(request)) {
        throw ApplicationFailure.nonRetryable(
          `invalid permit request for cell "${cellId}": needs a cell ID, a requester workflow ID, a device ID and an integer limit ≥ 1; got ${JSON.stringify(request)}`,
          'InvalidPermitRequest',
        );
      }
      await deps.client.workflow.signalWithStart<typeof cellLimiter, [typeof request]>(
        CELL_LIMITER_WORKFLOW_TYPE,
        {
          workflowId: cellLimiterWorkflowId(cellId),
          taskQueue: TaskQueue.platform,
          args: [{ cellId, holders: [], queue: [] }],
          signal: requestPermitSignal,
          signalArgs: [request],
        },
      );
    },

    async releaseCellPermit(cellId, release) {
      try {
        await deps.client.workflow
          .getHandle(cellLimiterWorkflowId(cellId))
          .signal(releasePermitSignal, release);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    },

    async findEndedWorkflows(workflowIds) {
      const ended = await Promise.all(
        workflowIds.map(async (workflowId) =>
          (await isRunning(deps.client, workflowId)) ? [] : [workflowId],
        ),
      );
      return ended.flat();
    },
  };
}

async function isRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    const { status } = await client.workflow.getHandle(workflowId).describe();
    return status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
