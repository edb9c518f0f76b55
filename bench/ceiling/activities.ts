import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ceilingAnswerSignalName, ceilingDeviceEndedSignalName } from './shape';

export interface CeilingActivities {
  noop(): Promise<void>;
  /** What a device's answer does in the real flow: a signal to the calling workflow from outside it. */
  answerWithSignal(): Promise<void>;
  /** What `notifyDeviceResult` does for the task: the device's end, signalled to its task workflow. */
  reportToTask(taskWorkflowId: string): Promise<void>;
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
      await client.workflow.getHandle(taskWorkflowId).signal(ceilingDeviceEndedSignalName);
    },
  };
}
