import { Router } from 'express';
import { cellLimiterState } from '../../temporal/cell-limiter-state';
import { CellParams } from '../schemas';
import { parseInput } from '../validate';
import type { TaskWorkflows } from './tasks';

/** `GET /v1/cells/:cellId`: the NB-IoT cell's permit holders and queue, from its limiter workflow. */
export function cellsRouter(deps: { temporal: TaskWorkflows }): Router {
  const router = Router({ caseSensitive: true });
  router.get('/:cellId', async (req, res) => {
    const { cellId } = parseInput(CellParams, req.params, 'params');
    res.json(await cellLimiterState(deps.temporal, cellId));
  });
  return router;
}
