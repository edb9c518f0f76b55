import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

export interface RecordedSignal {
  namespace: string;
  workflowId: string;
  signal: string;
  args: unknown[];
  requestId: string;
}

/**
 * A stand-in for the Temporal client of the device event sinks: records each SignalWorkflowExecution
 * request (its arguments decoded), or fails as told (`code` as gRPC's: 5 is NOT_FOUND).
 */
export function signalRecordingClient(fail?: Error & { code?: number }) {
  const sent: RecordedSignal[] = [];
  const client = {
    options: { namespace: 'fleet', identity: 'gateway-test' },
    workflowService: {
      signalWorkflowExecution: async (
        request: temporal.api.workflowservice.v1.ISignalWorkflowExecutionRequest,
      ) => {
        if (fail) throw fail;
        sent.push({
          namespace: request.namespace ?? '',
          workflowId: request.workflowExecution?.workflowId ?? '',
          signal: request.signalName ?? '',
          args: (request.input?.payloads ?? []).map((payload) =>
            defaultPayloadConverter.fromPayload(payload),
          ),
          requestId: request.requestId ?? '',
        });
        return {};
      },
    },
  } as unknown as Client;
  return { client, sent };
}

export const notFound = () => Object.assign(new Error('workflow not found'), { code: 5 });
