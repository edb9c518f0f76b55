/**
 * How the gateways' device events reach the device's operation workflow: signals addressed by the
 * device's workflow ID, never by a run ID. A device with no operation in progress has no workflow to
 * signal; that is the normal case, not an error.
 */
import type { Client } from '@temporalio/client';
import { type SignalDefinition, WorkflowNotFoundError } from '@temporalio/common';
import { deviceOperationWorkflowId } from '../../workflows/definitions';
import type { Logger } from '../logger';

export type SignalDeviceOperation = <Args extends unknown[]>(
  deviceId: string,
  signal: SignalDefinition<Args>,
  ...args: Args
) => Promise<void>;

export function signalDeviceOperation(client: Client, log: Logger): SignalDeviceOperation {
  return async (deviceId, signal, ...args) => {
    try {
      await client.workflow.getHandle(deviceOperationWorkflowId(deviceId)).signal(signal, ...args);
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      log.debug({ deviceId, signal: signal.name }, 'no operation in progress for the device; signal dropped');
    }
  };
}
