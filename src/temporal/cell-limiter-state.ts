import { type WorkflowClient, WorkflowNotFoundError } from '@temporalio/client';
import {
  CELL_LIMITER_WORKFLOW_TYPE,
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

/**
 * The cells whose limiter runs (a cell whose permits are all back and whose queue is empty has
 * none), newest limiter run first, each with its holders and queue. The cursor is the last run's
 * start time: Temporal lists running workflows newest first.
 */
export async function listCellStates(
  temporal: { workflow: Pick<WorkflowClient, 'getHandle' | 'list'> },
  page: { limit: number; cursor?: string },
): Promise<{ items: CellLimiterState[]; nextCursor?: string }> {
  const conditions = [`WorkflowType = "${CELL_LIMITER_WORKFLOW_TYPE}"`, `ExecutionStatus = "Running"`];
  if (page.cursor) conditions.push(`StartTime < "${page.cursor}"`);
  const runs: { cellId: string; startedAt: string }[] = [];
  for await (const info of temporal.workflow.list({
    query: conditions.join(' AND '),
    pageSize: page.limit + 1,
  })) {
    runs.push({
      cellId: info.workflowId.slice(cellLimiterWorkflowId('').length),
      startedAt: info.startTime.toISOString(),
    });
    if (runs.length > page.limit) break;
  }
  const shown = runs.slice(0, page.limit);
  const items = await Promise.all(shown.map((run) => cellLimiterState(temporal, run.cellId)));
  return { items, nextCursor: runs.length > page.limit ? shown.at(-1)?.startedAt : undefined };
}
