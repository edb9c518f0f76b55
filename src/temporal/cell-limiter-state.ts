import { type WorkflowClient, WorkflowNotFoundError } from '@temporalio/client';
import {
  type CellLimiterState,
  cellLimiterStateQuery,
  cellLimiterWorkflowId,
} from '../../workflows/lwm2m/definitions';

/**
 * The NB-IoT cell's permit holders and queue, from its limiter workflow. A cell whose limiter has
 * ended (or never started) has none of either.
 */
export async function cellLimiterState(
  temporal: { workflow: Pick<WorkflowClient, 'getHandle'> },
  cellId: string,
): Promise<CellLimiterState> {
  try {
    return await temporal.workflow.getHandle(cellLimiterWorkflowId(cellId)).query(cellLimiterStateQuery);
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return { cellId, holders: [], queue: [] };
    throw error;
  }
}
