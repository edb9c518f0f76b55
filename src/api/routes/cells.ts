import { Router } from 'express';
import { cellLimiterState, listCellStates } from '../../temporal/cell-limiter-state';
import { CellListQuery, CellParams } from '../schemas';
import { parseInput } from '../validate';
import type { TaskWorkflows } from './tasks';

/** The NB-IoT cells' permit holders and queues, from their limiter workflows. */
export function cellsRouter(deps: { temporal: TaskWorkflows }): Router {
  const router = Router({ caseSensitive: true });
  router.get('/', async (req, res) => {
    res.json(await listCellStates(deps.temporal, parseInput(CellListQuery, req.query, 'query')));
  });
  router.get('/:cellId', async (req, res) => {
    const { cellId } = parseInput(CellParams, req.params, 'params');
    res.json(await cellLimiterState(deps.temporal, cellId));
  });
  return router;
}
