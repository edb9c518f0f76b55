/**
 * Whether otaflow traces, and where its spans go, read from OpenTelemetry's standard variables. Off by
 * default: tracing is on when OTEL_TRACES_EXPORTER names an exporter, or when an OTLP endpoint is set
 * (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and OTEL_TRACES_EXPORTER is unset;
 * OTEL_SDK_DISABLED=true switches it off whatever else is set. The exporters read the rest themselves
 * (endpoint, headers, timeout, compression, OTEL_BSP_* batching, OTEL_TRACES_SAMPLER, OTEL_PROPAGATORS,
 * OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES): docs/observability.md.
 */

export const traceExporters = ['otlp', 'console'] as const;
export type TraceExporter = (typeof traceExporters)[number];

export const otlpProtocols = ['http/protobuf', 'http/json', 'grpc'] as const;
export type OtlpProtocol = (typeof otlpProtocols)[number];

export interface TracingSettings {
  exporters: TraceExporter[];
  /** How the `otlp` exporter sends: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL. */
  otlpProtocol: OtlpProtocol;
}

const set = (value: string | undefined): string | undefined => value?.trim() || undefined;

/** Undefined when tracing is off; throws an Error naming the variable at fault. */
export function loadTracingSettings(env: NodeJS.ProcessEnv): TracingSettings | undefined {
  const disabled = set(env.OTEL_SDK_DISABLED)?.toLowerCase();
  if (disabled !== undefined && disabled !== 'true' && disabled !== 'false') {
    throw new Error(`OTEL_SDK_DISABLED: "${disabled}" is neither true nor false`);
  }
  const exporters = exportersOf(env);
  const protocolVariable = set(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = set(env[protocolVariable]) ?? 'http/protobuf';
  if (!(otlpProtocols as readonly string[]).includes(protocol)) {
    throw new Error(`${protocolVariable}: "${protocol}" is not one of ${otlpProtocols.join(', ')}`);
  }
  if (disabled === 'true' || exporters.length === 0) return undefined;
  return { exporters, otlpProtocol: protocol as OtlpProtocol };
}

function exportersOf(env: NodeJS.ProcessEnv): TraceExporter[] {
  const named = set(env.OTEL_TRACES_EXPORTER);
  if (named === undefined) {
    const endpoint = set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ?? set(env.OTEL_EXPORTER_OTLP_ENDPOINT);
    return endpoint ? ['otlp'] : [];
  }
  const names = named.split(',').map((name) => name.trim());
  if (names.includes('none')) {
    if (names.length > 1)
      throw new Error('OTEL_TRACES_EXPORTER: "none" cannot be listed with other exporters');
    return [];
  }
  for (const name of names) {
    if (!(traceExporters as readonly string[]).includes(name)) {
      throw new Error(
        `OTEL_TRACES_EXPORTER: "${name}" is not an exporter otaflow has: ${[...traceExporters, 'none'].join(', ')}`,
      );
    }
  }
  return [...new Set(names)] as TraceExporter[];
}
