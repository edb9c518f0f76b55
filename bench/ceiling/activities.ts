import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import {
  CEILING_TASK_QUEUE,
  ceilingAnswerSignalName,
  ceilingCellWorkflowId,
  ceilingDeviceEndedSignalName,
  ceilingPermitReleaseSignalName,
  ceilingPermitRequestSignalName,
} from './shape';

export interface CeilingActivities {
  noop(): Promise<void>;
  /** What a device's answer does in the real flow: a signal to the calling workflow from outside it. */
  answerWithSignal(): Promise<void>;
  /** What `notifyDeviceResult` does for the task: the device's end, signalled to its task workflow. */
  reportToTask(taskWorkflowId: string): Promise<void>;
  /** What `requestCellPermit` does: signal-with-start of the cell's workflow with the request. */
  requestPermit(cellId: string, requesterWorkflowId: string): Promise<void>;
  /** What `releaseCellPermit` does: the release, signalled to the cell's workflow. */
  releasePermit(cellId: string, requesterWorkflowId: string): Promise<void>;
}

export function createCeilingActivities(client: Client): CeilingActivities {
  return {
    async noop() {},
    async answerWithSignal() {
      const { workflowId } = Context.current().info.workflowExecution ?? {};
      if (!workflowId) throw new Error('answerWithSignal must be called from a workflow');
      await client.workflow.getHandle(workflowId).signal(ceilingAnswerSignalName);
    },
    async reportToTask(taskWorkflowId) {
      const { workflowId } = Context.current().info.workflowExecution ?? {};
      if (!workflowId) throw new Error('reportToTask must be called from a workflow');
      await client.workflow.getHandle(taskWorkflowId).signal(ceilingDeviceEndedSignalName, workflowId);
    },
    async requestPermit(cellId, requesterWorkflowId) {
      await client.workflow.signalWithStart('ceilingCell', {
        workflowId: ceilingCellWorkflowId(cellId),
        taskQueue: CEILING_TASK_QUEUE,
        args: [],
        signal: ceilingPermitRequestSignalName,
        signalArgs: [requesterWorkflowId],
      });
    },
    async releasePermit(cellId, requesterWorkflowId) {
      await client.workflow
        .getHandle(ceilingCellWorkflowId(cellId))
        .signal(ceilingPermitReleaseSignalName, requesterWorkflowId);
    },
  };
}
