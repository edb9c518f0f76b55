import { type WorkflowClient, WorkflowNotFoundError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { exportCellPermitGauges } from '../../../src/metrics/cell-permit-gauges';
import { createMetrics } from '../../../src/metrics/metrics';
import { type CellLimiterState, cellLimiterWorkflowId } from '../../../workflows/lwm2m/definitions';

/** Cell limiters as Temporal would answer their state query: running ones by workflow ID. */
function limiters(running: CellLimiterState[]): { workflow: Pick<WorkflowClient, 'getHandle'> } {
  const byWorkflowId = new Map(running.map((state) => [cellLimiterWorkflowId(state.cellId), state]));
  const getHandle = (workflowId: string) => ({
    query: async () => {
      const state = byWorkflowId.get(workflowId);
      if (!state) throw new WorkflowNotFoundError('no such workflow', workflowId, undefined);
      return state;
    },
  });
  return { workflow: { getHandle } as unknown as Pick<WorkflowClient, 'getHandle'> };
}

const request = (deviceId: string) => ({
  requesterWorkflowId: `device-operation:${deviceId}`,
  deviceId,
  limit: 1,
});

describe('cell permit gauges', () => {
  it('show the permits held and queued in the listed cells only, a cell without a limiter at 0', async () => {
    const metrics = createMetrics();
    exportCellPermitGauges(
      metrics,
      limiters([
        { cellId: '303', holders: [request('a')], queue: [request('b'), request('c')] },
        { cellId: '404', holders: [request('d')], queue: [] },
      ]),
      ['303', '101'],
    );

    const text = await metrics.registry.getSingleMetricAsString('otaflow_cell_permits');
    const samples = text.split('\n').filter((line) => line.startsWith('otaflow_cell_permits{'));
    expect(samples.sort()).toEqual([
      'otaflow_cell_permits{cell="101",state="held"} 0',
      'otaflow_cell_permits{cell="101",state="queued"} 0',
      'otaflow_cell_permits{cell="303",state="held"} 1',
      'otaflow_cell_permits{cell="303",state="queued"} 2',
    ]);
  });
});
