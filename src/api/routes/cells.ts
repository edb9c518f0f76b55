import { WorkflowNotFoundError } from '@temporalio/client';
import { Router } from 'express';
import {
  type CellLimiterState,
  cellLimiterStateQuery,
  cellLimiterWorkflowId,
} from '../../../workflows/lwm2m/definitions';
import { CellParams } from '../schemas';
import { parseInput } from '../validate';
import type { TaskWorkflows } from './tasks';

/**
 * `GET /v1/cells/:cellId`: the NB-IoT cell's permit holders and queue, from its limiter workflow. A
 * cell whose limiter has ended (or never started) has none of either.
 */
export function cellsRouter(deps: { temporal: TaskWorkflows }): Router {
  const router = Router({ caseSensitive: true });
  router.get('/:cellId', async (req, res) => {
    const { cellId } = parseInput(CellParams, req.params, 'params');
    res.json(await cellState(deps.temporal, cellId));
  });
  return router;
}

async function cellState(temporal: TaskWorkflows, cellId: string): Promise<CellLimiterState> {
  try {
    return await temporal.workflow.getHandle(cellLimiterWorkflowId(cellId)).query(cellLimiterStateQuery);
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return { cellId, holders: [], queue: [] };
    throw error;
  }
}
