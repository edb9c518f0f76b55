/**
 * The process's OpenTelemetry tracer provider, registered globally so that every span otaflow makes
 * (HTTP, MQTT, CoAP, the Temporal interceptors) finds it through `@opentelemetry/api`. Without it, the
 * API's tracers are no-ops and spans cost nothing.
 *
 * The provider stays on OpenTelemetry JS 1.x: `@temporalio/interceptors-opentelemetry` builds the
 * workflows' spans with it, and the exporters must read the spans it builds.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpGrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResourcesSync, envDetectorSync, Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import packageJson from '../../package.json';
import type { OtlpProtocol, TraceExporter, TracingSettings } from './tracing-settings';

export interface Tracing {
  resource: Resource;
  /** Where every span ends, the workflows' included (they reach it through the workers' sink). */
  spanProcessor: SpanProcessor;
  /** Exports what is left and unregisters the provider. */
  stop(): Promise<void>;
}

/**
 * `settings`: the configured exporters, each behind a batching processor. `spanProcessors`: more places
 * spans end (a test's in-memory exporter). `attributes`: what tells this process from the others in a
 * split deployment (its instance ID, its roles).
 */
export function startTracing(options: {
  settings?: TracingSettings;
  spanProcessors?: SpanProcessor[];
  attributes?: Record<string, string>;
}): Tracing {
  const configured = (options.settings?.exporters ?? []).map(
    (exporter) =>
      new BatchSpanProcessor(createExporter(exporter, options.settings?.otlpProtocol ?? 'http/protobuf')),
  );
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override otaflow's own name and version.
  const resource = new Resource({
    [ATTR_SERVICE_NAME]: 'otaflow',
    [ATTR_SERVICE_VERSION]: packageJson.version,
    ...options.attributes,
  }).merge(detectResourcesSync({ detectors: [envDetectorSync] }));
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [...configured, ...(options.spanProcessors ?? [])],
  });
  // An AsyncLocalStorage context manager and the OTEL_PROPAGATORS propagators (W3C trace context and
  // baggage unless set).
  provider.register();
  return {
    resource: provider.resource,
    spanProcessor: provider.getActiveSpanProcessor(),
    async stop() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

function createExporter(exporter: TraceExporter, protocol: OtlpProtocol): SpanExporter {
  if (exporter === 'console') return new ConsoleSpanExporter();
  if (protocol === 'grpc') return new OtlpGrpcExporter();
  if (protocol === 'http/json') return new OtlpJsonExporter();
  return new OtlpProtobufExporter();
}
