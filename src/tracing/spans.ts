/**
 * otaflow's own spans, at the edges the Temporal interceptors do not see: HTTP requests, MQTT and CoAP
 * messages, the signals the gateways send. They go through `@opentelemetry/api`: with tracing off (no
 * provider registered) every call here is a no-op.
 *
 * A device does not carry trace context, so its report joins its upgrade's trace through the context
 * recorded with the upgrade's latest step (`activeTraceContext`, kept in `task_devices.trace_context`).
 */
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanOptions,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import packageJson from '../../package.json';

const tracer = trace.getTracer('otaflow', packageJson.version);

/**
 * Runs `work` in a new span, child of `parent` (else of the active span), ended with its outcome: an
 * error thrown marks it failed and is rethrown.
 */
export function inSpan<T>(
  name: string,
  options: SpanOptions & { parent?: Context },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const { parent, ...spanOptions } = options;
  return tracer.startActiveSpan(name, spanOptions, parent ?? context.active(), async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * `inSpan` inside a trace, else `work` alone: what happens outside any traced operation (a device
 * connecting with no upgrade in progress) would otherwise make a trace of one span each time.
 */
export function inChildSpan<T>(
  name: string,
  options: SpanOptions,
  work: (span?: Span) => Promise<T>,
): Promise<T> {
  return trace.getSpan(context.active())?.isRecording() ? inSpan(name, options, work) : work();
}

/** A span the caller ends, child of the active one; undefined outside a trace (see `inChildSpan`). */
export function startChildSpan(name: string, options: SpanOptions): Span | undefined {
  return trace.getSpan(context.active())?.isRecording() ? tracer.startSpan(name, options) : undefined;
}

/** Starts a span the caller ends (one that outlives a call, like an HTTP request's). */
export function startSpan(name: string, options: SpanOptions, parent: Context): Span {
  return tracer.startSpan(name, options, parent);
}

/**
 * The trace a device's message continues: its upgrade's, when one is in progress and traced. Given to
 * the gateways only with tracing on: it costs a database read per message.
 */
export type UpgradeTraceLookup = (deviceId: string) => Promise<Context | undefined>;

/**
 * Runs `work` in a span of the device's upgrade trace when `lookup` finds one, else alone: a device's
 * message outside any traced upgrade would otherwise make a trace of one span.
 */
export async function inUpgradeTrace<T>(
  lookup: UpgradeTraceLookup | undefined,
  deviceId: string,
  name: string,
  options: SpanOptions,
  work: () => Promise<T>,
): Promise<T> {
  const parent = await lookup?.(deviceId);
  if (!parent) return work();
  const attributes = { ...options.attributes, 'otaflow.device_id': deviceId };
  return inSpan(name, { ...options, attributes, parent }, work);
}

/** The active span's context as the configured propagator writes it; undefined when it is not traced. */
export function activeTraceContext(): Record<string, string> | undefined {
  if (!trace.getSpan(context.active())?.isRecording()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** The context a propagator wrote into `carrier` (HTTP headers, a recorded step); the root when none. */
export function traceContextFrom(
  carrier: Record<string, string | string[] | undefined> | undefined,
): Context {
  return carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
}

/** The trace and span IDs of the active span, for log lines; empty outside a traced span. */
export function traceIdsForLogs(): { trace_id?: string; span_id?: string; trace_flags?: string } {
  const span = trace.getSpan(context.active());
  if (!span?.isRecording()) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: `0${traceFlags.toString(16)}` };
}
