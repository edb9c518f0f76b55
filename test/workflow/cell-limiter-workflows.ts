/**
 * The workflows the cell limiter tests run: otaflow's own, and `permitHolder`, a requester that
 * does nothing but ask its cell for a permit, hold it until told to let go, and release it.
 */
import {
  condition,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Lwm2mPlatformActivities } from '../../activities/interfaces';
import { TaskQueue } from '../../workflows/definitions';
import {
  cellLimiterWorkflowId,
  permitGrantedSignal,
  releasePermitSignal,
} from '../../workflows/lwm2m/definitions';

export * from '../../workflows/index';

export const letGoSignal = defineSignal('letGo');
export const holdsPermitQuery = defineQuery<boolean>('holdsPermit');

const { requestCellPermit } = proxyActivities<Lwm2mPlatformActivities>({
  taskQueue: TaskQueue.platform,
  startToCloseTimeout: '30 seconds',
});

export async function permitHolder(cellId: string, limit: number): Promise<void> {
  let granted = false;
  let letGo = false;
  setHandler(permitGrantedSignal, () => {
    granted = true;
  });
  setHandler(letGoSignal, () => {
    letGo = true;
  });
  setHandler(holdsPermitQuery, () => granted && !letGo);
  const requesterWorkflowId = workflowInfo().workflowId;
  await requestCellPermit(cellId, { requesterWorkflowId, deviceId: requesterWorkflowId, limit });
  await condition(() => granted);
  await condition(() => letGo);
  await getExternalWorkflowHandle(cellLimiterWorkflowId(cellId)).signal(releasePermitSignal, {
    requesterWorkflowId,
  });
}
