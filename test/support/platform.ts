import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type ApiClient, createApiClient } from '../../src/cli/api-client';
import { type Config, loadConfig } from '../../src/config';
import { type Logger, logger } from '../../src/logger';
import { type Platform, startPlatform } from '../../src/platform';
import { freePort } from '../../src/stack/free-port';
import { type RealStack, stackEnvironment } from './stack/real-stack';

export interface TestPlatform extends Platform {
  /** It runs every role: each address is there. */
  addresses: Platform['addresses'] & { api: string; mqtt: string; lwm2m: string };
  apiKey: string;
  /** What it was started with (ports included). */
  config: Config;
  api: ApiClient;
  /** Headers that authenticate a request (for calls beyond `api`, e.g. a CSV download). */
  apiHeaders: Record<string, string>;
}

/**
 * otaflow itself, started the way `npm start` starts it, but pointed at the given real stack.
 * `embeddedBroker` swaps Mosquitto for otaflow's own aedes broker (the one that checks device HMACs).
 * `tls` turns on what `npm start` turns on by default (MQTT over TLS, HTTPS downloads on a local CA);
 * off, the tests that are not about transports keep their devices on plain MQTT and HTTP.
 * `plainMqtt: false` switches the embedded broker's plain listener off for devices (MQTT_PLAIN=off).
 */
export async function startTestPlatform(
  stack: RealStack,
  options: {
    embeddedBroker?: boolean;
    tls?: boolean;
    plainMqtt?: boolean;
    /** LwM2M over DTLS on an ephemeral port; off by default, like TLS. */
    dtls?: boolean;
    plainCoap?: boolean;
    /** LWM2M_QUEUE_MODE_AWAKE_S, to keep queue-mode tests short. */
    queueModeAwakeSeconds?: number;
    /** TEMPORAL_* settings instead of the stack's plain dev server address. */
    temporal?: Record<string, string>;
    /** Serve otaflow's and the Temporal SDK's `/metrics` (on free ports). */
    metrics?: boolean;
    /** Tracing on, its spans ending here (a test's in-memory exporter). */
    spanProcessors?: SpanProcessor[];
    /** Instead of the test logger. */
    log?: Logger;
  } = {},
): Promise<TestPlatform> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-test-platform-'));
  const apiPort = await freePort();
  const config = loadConfig({
    ...stackEnvironment(stack, apiPort),
    OTAFLOW_DATA_DIR: dataDir,
    OTAFLOW_TLS: options.tls ? 'on' : 'off',
    OTAFLOW_API_TLS_PORT: String(await freePort()),
    MQTT_TLS_PORT: String(await freePort()),
    MQTT_PLAIN: options.plainMqtt === false ? 'off' : 'on',
    MQTT_URL: options.embeddedBroker ? '' : stack.mqtt.url,
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: options.embeddedBroker ? String(await freePort()) : '1883',
    LWM2M_HOST: '127.0.0.1',
    LWM2M_PORT: '0',
    LWM2M_DTLS: options.dtls ? 'on' : 'off',
    LWM2M_DTLS_PORT: '0',
    LWM2M_PLAIN: options.plainCoap === false ? 'off' : 'on',
    LWM2M_QUEUE_MODE_AWAKE_S: options.queueModeAwakeSeconds?.toString(),
    OTAFLOW_METRICS_PORT: options.metrics ? '0' : undefined,
    OTAFLOW_TEMPORAL_METRICS_PORT: options.metrics ? String(await freePort()) : undefined,
    ...options.temporal,
  });
  const platform = await startPlatform(config, options.log ?? logger.child({ test: 'platform' }), {
    spanProcessors: options.spanProcessors,
  });
  const { api, mqtt, lwm2m } = platform.addresses;
  if (!api || !mqtt || !lwm2m || !platform.apiKey) throw new Error('the test platform runs every role');
  return {
    ...platform,
    addresses: { ...platform.addresses, api, mqtt, lwm2m },
    apiKey: platform.apiKey,
    config,
    api: createApiClient(api, platform.apiKey),
    apiHeaders: { authorization: `Bearer ${platform.apiKey}` },
    stop: async () => {
      await platform.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
