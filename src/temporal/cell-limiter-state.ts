import { type WorkflowClient, WorkflowNotFoundError } from '@temporalio/client';
import {
  CELL_LIMITER_WORKFLOW_TYPE,
  type CellLimiterState,
  cellLimiterStateQuery,
  cellLimiterWorkflowId,
} from '../../workflows/lwm2m/definitions';
import { quoted, runsByStartTime } from './runs-by-start-time';

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

/**
 * The cells whose limiter runs (a cell whose permits are all back and whose queue is empty has
 * none), newest limiter run first, each with its holders and queue. The cursor is the last run's
 * start time: Temporal lists running workflows newest first.
 */
export async function listCellStates(
  temporal: { workflow: Pick<WorkflowClient, 'getHandle' | 'list'> },
  page: { limit: number; cursor?: string },
): Promise<{ items: CellLimiterState[]; nextCursor?: string }> {
  const { runs, nextCursor } = await runsByStartTime(
    temporal,
    [`WorkflowType = ${quoted(CELL_LIMITER_WORKFLOW_TYPE)}`, 'ExecutionStatus = "Running"'],
    page,
  );
  const prefix = cellLimiterWorkflowId('');
  const items = await Promise.all(
    runs.map((run) => cellLimiterState(temporal, run.workflowId.slice(prefix.length))),
  );
  return { items, nextCursor };
}
