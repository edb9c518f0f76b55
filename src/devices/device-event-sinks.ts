/**
 * How the gateways' device events reach the device's operation workflow: signals addressed by the
 * device's workflow ID, never by a run ID. A device with no operation in progress has no workflow to
 * signal; that is the normal case, not an error. One sink per gateway, for the events its protocol has.
 *
 * A report that came in an uplink recorded in the gateway's inbox is signalled with a request ID made
 * from that uplink, which Temporal deduplicates: a gateway that restarts after signalling it but before
 * forgetting it handles it again, and the workflow still sees it once. The SDK's `signal` picks a random
 * request ID, so the sink sends the request itself (the default payload converter: otaflow sets none),
 * and with tracing on, the trace context header the SDK's OpenTelemetry interceptors read.
 */
import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type SignalDefinition } from '@temporalio/common';
import { headersWithContext } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import {
  deviceOnlineSignal,
  deviceOperationWorkflowId,
  type UpgradeResultReport,
  upgradeResultReportedSignal,
  type VersionReport,
  versionReportedSignal,
} from '../../workflows/definitions';
import {
  type DeviceCommandFailure,
  deviceCommandFailedSignal,
  type ResourcesReport,
  resourcesReportedSignal,
} from '../../workflows/lwm2m/definitions';
import { type Logger, logger } from '../logger';
import { inChildSpan } from '../tracing/spans';

/** What the MQTT gateway tells device workflows; `uplinkId`: the recorded uplink the report came in. */
export interface DeviceEventSink {
  deviceOnline(deviceId: string): Promise<void>;
  versionReported(deviceId: string, report: VersionReport, uplinkId?: string): Promise<void>;
  upgradeResultReported(deviceId: string, report: UpgradeResultReport, uplinkId?: string): Promise<void>;
}

/** What the LwM2M gateway tells device workflows. */
export interface Lwm2mEventSink {
  deviceOnline(deviceId: string): Promise<void>;
  resourcesReported(deviceId: string, report: ResourcesReport): Promise<void>;
  deviceCommandFailed(deviceId: string, failure: DeviceCommandFailure): Promise<void>;
}

/** gRPC's NOT_FOUND: the device has no operation workflow running. */
const NOT_FOUND = 5;

type SignalDeviceOperation = <Args extends unknown[]>(
  deviceId: string,
  signal: SignalDefinition<Args>,
  once: { uplinkId?: string },
  ...args: Args
) => Promise<void>;

function signalDeviceOperation(client: Client, log: Logger): SignalDeviceOperation {
  return async (deviceId, signal, once, ...args) => {
    const workflowId = deviceOperationWorkflowId(deviceId);
    // Named and linked as the Temporal client interceptor names its own signals' spans.
    const spanName = `SignalWorkflow:${signal.name}`;
    await inChildSpan(
      spanName,
      { kind: SpanKind.CLIENT, attributes: { temporalWorkflowId: workflowId } },
      async (span) => {
        try {
          await client.workflowService.signalWorkflowExecution({
            namespace: client.options.namespace,
            workflowExecution: { workflowId },
            signalName: signal.name,
            input: { payloads: args.map((arg) => defaultPayloadConverter.toPayload(arg)) },
            header: span && { fields: headersWithContext({}) },
            identity: client.options.identity,
            requestId: once.uplinkId === undefined ? randomUUID() : `uplink-${once.uplinkId}-${signal.name}`,
          });
        } catch (error) {
          if ((error as { code?: number }).code !== NOT_FOUND) throw error;
          span?.setAttribute('otaflow.signal.dropped', 'no operation in progress');
          log.debug(
            { deviceId, signal: signal.name },
            'no operation in progress for the device; signal dropped',
          );
          return;
        }
        // One line per device report that reached its upgrade (docs/observability.md).
        log.info(
          { deviceId, workflowId, signal: signal.name, uplinkId: once.uplinkId },
          'device report signalled',
        );
      },
    );
  };
}

export function createTemporalDeviceEventSink(client: Client, log: Logger = logger): DeviceEventSink {
  const signal = signalDeviceOperation(client, log);
  return {
    deviceOnline: (deviceId) => signal(deviceId, deviceOnlineSignal, {}),
    versionReported: (deviceId, report, uplinkId) =>
      signal(deviceId, versionReportedSignal, { uplinkId }, report),
    upgradeResultReported: (deviceId, report, uplinkId) =>
      signal(deviceId, upgradeResultReportedSignal, { uplinkId }, report),
  };
}

export function createTemporalLwm2mEventSink(client: Client, log: Logger = logger): Lwm2mEventSink {
  const signal = signalDeviceOperation(client, log);
  return {
    deviceOnline: (deviceId) => signal(deviceId, deviceOnlineSignal, {}),
    resourcesReported: (deviceId, report) => signal(deviceId, resourcesReportedSignal, {}, report),
    deviceCommandFailed: (deviceId, failure) => signal(deviceId, deviceCommandFailedSignal, {}, failure),
  };
}
