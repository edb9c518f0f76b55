/**
 * The workflow interceptors of the traced bundle (src/temporal/workflow-bundle.ts), run in the
 * workflows' sandbox: OpenTelemetry's, which give each workflow run, activity, child workflow and
 * signal a span and carry the trace context in their headers, and two rules of otaflow's own.
 *
 * A signal sent from outside any trace (a device coming online when no span was open) has no trace
 * context; OpenTelemetry's interceptor would make its handling a trace of its own. It is handled as
 * part of the run it arrives in instead.
 *
 * The cell limiter is a coordinator: one run serves many upgrades for up to thousands of events. Left
 * to OpenTelemetry's defaults, its run would be part of the trace of whichever upgrade happened to start
 * it, and every grant it sends would be too. So its run starts a trace of its own, and each grant is
 * sent in the context of the permit request it answers: the grant is in the requester's trace.
 */
import { type Context, context } from '@opentelemetry/api';
import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import {
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
  workflowInfo,
} from '@temporalio/workflow';
import {
  CELL_LIMITER_WORKFLOW_TYPE,
  type PermitRequest,
  permitGrantedSignal,
  releasePermitSignal,
  requestPermitSignal,
} from '../../workflows/lwm2m/definitions';

export const interceptors: WorkflowInterceptorsFactory = () => {
  const limiter = workflowInfo().workflowType === CELL_LIMITER_WORKFLOW_TYPE;
  /** The run's span, once it runs. */
  let run: Context | undefined;
  /** The cell limiter's waiting requesters: the context each one's request was handled in. */
  const requests = new Map<string, Context>();

  // The first interceptor of a list is the outermost: it runs before (around) the next.
  const beforeOpenTelemetry: WorkflowInboundCallsInterceptor = {
    execute: (input, next) => {
      if (!limiter) return next(input);
      const { [TRACE_HEADER]: _startedBy, ...headers } = input.headers;
      return next({ ...input, headers });
    },
    handleSignal: (input, next) =>
      input.headers[TRACE_HEADER] || !run ? next(input) : context.with(run, () => next(input)),
  };
  const insideOpenTelemetry: WorkflowInboundCallsInterceptor = {
    execute: (input, next) => {
      run = context.active();
      return next(input);
    },
    handleSignal: (input, next) => {
      const { requesterWorkflowId } = (input.args[0] ?? {}) as Partial<PermitRequest>;
      if (limiter && typeof requesterWorkflowId === 'string') {
        if (input.signalName === requestPermitSignal.name)
          requests.set(requesterWorkflowId, context.active());
        if (input.signalName === releasePermitSignal.name) requests.delete(requesterWorkflowId);
      }
      return next(input);
    },
  };
  const grantsInRequestersTrace: WorkflowOutboundCallsInterceptor = {
    signalWorkflow: (input, next) => {
      if (input.signalName !== permitGrantedSignal.name || input.target.type !== 'external')
        return next(input);
      const requesterWorkflowId = input.target.workflowExecution.workflowId ?? '';
      const requested = requests.get(requesterWorkflowId);
      requests.delete(requesterWorkflowId);
      return requested ? context.with(requested, () => next(input)) : next(input);
    },
  };
  return {
    inbound: [beforeOpenTelemetry, new OpenTelemetryInboundInterceptor(), insideOpenTelemetry],
    outbound: [grantsInRequestersTrace, new OpenTelemetryOutboundInterceptor()],
    internals: [new OpenTelemetryInternalsInterceptor()],
  };
};
