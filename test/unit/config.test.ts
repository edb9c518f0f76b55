import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, gatewayIdOfHost, loadConfig } from '../../src/config';
import { publicBaseUrl } from '../../src/packages/download';

describe('configuration', () => {
  it('starts every embedded component when no address is given', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: '', MQTT_URL: '  ' });
    expect(config.temporal).toEqual({ address: undefined, namespace: 'default', connection: {} });
    expect(config.MQTT_URL).toBeUndefined();
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.OTAFLOW_PUBLIC_URL).toBeUndefined();
    expect(config.OTAFLOW_API_PORT).toBe(8080);
  });

  it('uses the components it is given', () => {
    const config = loadConfig({
      TEMPORAL_ADDRESS: 'temporal:7233',
      DATABASE_URL: 'postgres://otaflow@db/otaflow',
      MQTT_URL: 'mqtt://mosquitto:1883',
      OTAFLOW_PUBLIC_URL: 'https://ota.example.com',
    });
    expect(config).toMatchObject({
      temporal: { address: 'temporal:7233', namespace: 'default' },
      DATABASE_URL: 'postgres://otaflow@db/otaflow',
      MQTT_URL: 'mqtt://mosquitto:1883',
      OTAFLOW_PUBLIC_URL: 'https://ota.example.com',
    });
  });

  it('refuses bad values, naming each variable at fault', () => {
    const attempt = () =>
      loadConfig({ OTAFLOW_API_PORT: '70000', MQTT_URL: 'not a url', MINIO_SECRET_KEY: 'short' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/OTAFLOW_API_PORT/);
    expect(attempt).toThrow(/MQTT_URL/);
    expect(attempt).toThrow(/MINIO_SECRET_KEY/);
  });

  it('has no secret by default: the unset ones are generated into the data dir at start', () => {
    const config = loadConfig({});
    expect(config.MQTT_SERVICE_PASSWORD).toBeUndefined();
    expect(config.MINIO_SECRET_KEY).toBeUndefined();
    expect(config.OTAFLOW_API_KEY).toBeUndefined();
    expect(config.OTAFLOW_SECRET_KEY).toBeUndefined();
  });

  it('requires the MinIO password with a MinIO address', () => {
    expect(() => loadConfig({ MINIO_ENDPOINT: 'http://minio:9000' })).toThrow(
      /MINIO_SECRET_KEY: required with MINIO_ENDPOINT/,
    );
    expect(
      loadConfig({ MINIO_ENDPOINT: 'http://minio:9000', MINIO_SECRET_KEY: 'x'.repeat(40) }),
    ).toMatchObject({
      MINIO_SECRET_KEY: 'x'.repeat(40),
    });
  });

  it('refuses a published development secret on a listener beyond loopback, naming variable and listener', () => {
    const open = () =>
      loadConfig({
        MQTT_SERVICE_PASSWORD: 'otaflow-gateway-dev-password',
        OTAFLOW_API_HOST: '0.0.0.0',
        MQTT_AUTH_HTTP_TOKEN: 'otaflow-mqtt-auth-dev-token',
        MINIO_ENDPOINT: 'http://minio:9000',
        MINIO_SECRET_KEY: 'minioadmin',
      });
    expect(open).toThrow(ConfigError);
    expect(open).toThrow(
      /MQTT_SERVICE_PASSWORD: a published development default, refused while the MQTT broker listens on 0\.0\.0\.0/,
    );
    expect(open).toThrow(/MQTT_AUTH_HTTP_TOKEN: .* the API listens on 0\.0\.0\.0/);
    expect(open).toThrow(/MINIO_SECRET_KEY: .* MinIO listens on minio/);
    expect(() =>
      loadConfig({
        MQTT_URL: 'mqtt://broker.example.com',
        MQTT_SERVICE_PASSWORD: 'otaflow-gateway-dev-password',
      }),
    ).toThrow(/MQTT_SERVICE_PASSWORD: .* listens on broker\.example\.com/);
    // Loopback only: the development stack on one machine keeps working.
    expect(
      loadConfig({
        MQTT_HOST: '127.0.0.1',
        MQTT_SERVICE_PASSWORD: 'otaflow-gateway-dev-password',
        MQTT_AUTH_HTTP_TOKEN: 'otaflow-mqtt-auth-dev-token',
        MINIO_ENDPOINT: 'http://[::1]:9000',
        MINIO_SECRET_KEY: 'minioadmin',
      }).MQTT_SERVICE_PASSWORD,
    ).toBe('otaflow-gateway-dev-password');
  });

  it('bounds the workflow cache by default and takes a size from 2 to 100,000', () => {
    expect(loadConfig({}).OTAFLOW_WORKFLOW_CACHE_SIZE).toBe(500);
    expect(loadConfig({ OTAFLOW_WORKFLOW_CACHE_SIZE: ' ' }).OTAFLOW_WORKFLOW_CACHE_SIZE).toBe(500);
    expect(loadConfig({ OTAFLOW_WORKFLOW_CACHE_SIZE: '2000' }).OTAFLOW_WORKFLOW_CACHE_SIZE).toBe(2000);
    for (const bad of ['0', '1', '2.5', 'many', '100001']) {
      expect(() => loadConfig({ OTAFLOW_WORKFLOW_CACHE_SIZE: bad })).toThrow(
        /OTAFLOW_WORKFLOW_CACHE_SIZE: an integer from 2 to 100000/,
      );
    }
  });

  it('bounds heap growth at 50 % by default and takes 0 (V8 decides) to 300 %', () => {
    expect(loadConfig({}).OTAFLOW_HEAP_GROWTH_PERCENT).toBe(50);
    expect(loadConfig({ OTAFLOW_HEAP_GROWTH_PERCENT: ' ' }).OTAFLOW_HEAP_GROWTH_PERCENT).toBe(50);
    expect(loadConfig({ OTAFLOW_HEAP_GROWTH_PERCENT: '0' }).OTAFLOW_HEAP_GROWTH_PERCENT).toBe(0);
    expect(loadConfig({ OTAFLOW_HEAP_GROWTH_PERCENT: '300' }).OTAFLOW_HEAP_GROWTH_PERCENT).toBe(300);
    for (const bad of ['-1', '12.5', 'half', '301']) {
      expect(() => loadConfig({ OTAFLOW_HEAP_GROWTH_PERCENT: bad })).toThrow(
        /OTAFLOW_HEAP_GROWTH_PERCENT: an integer percent from 0 to 300/,
      );
    }
  });

  it('keeps 32 MiB of package blocks by default, also when blank, and names a bad size', () => {
    expect(loadConfig({ LWM2M_PACKAGE_CACHE_MB: ' ' }).LWM2M_PACKAGE_CACHE_MB).toBe(32);
    expect(loadConfig({ LWM2M_PACKAGE_CACHE_MB: '4096' }).LWM2M_PACKAGE_CACHE_MB).toBe(4096);
    for (const bad of ['0', '1.5', 'lots', '4097']) {
      expect(() => loadConfig({ LWM2M_PACKAGE_CACHE_MB: bad })).toThrow(
        /LWM2M_PACKAGE_CACHE_MB: an integer number of MiB from 1 to 4096/,
      );
    }
  });

  it('runs every role by default, or the ones OTAFLOW_ROLES lists, naming a role it does not know', () => {
    expect([...loadConfig({}).roles]).toEqual([
      'api',
      'upgrade-worker',
      'task-worker',
      'mqtt-gateway',
      'lwm2m-gateway',
      'webhooks',
    ]);
    expect(loadConfig({ OTAFLOW_ROLES: ' all ' }).roles.size).toBe(6);
    const shared = {
      TEMPORAL_ADDRESS: 'temporal:7233',
      DATABASE_URL: 'postgres://otaflow@db/otaflow',
      MINIO_ENDPOINT: 'http://minio:9000',
      MINIO_SECRET_KEY: 'a-minio-secret',
      OTAFLOW_SECRET_KEY: 'a'.repeat(64),
    };
    expect([...loadConfig({ ...shared, OTAFLOW_ROLES: 'task-worker, upgrade-worker' }).roles]).toEqual([
      'task-worker',
      'upgrade-worker',
    ]);
    expect(() => loadConfig({ ...shared, OTAFLOW_ROLES: 'api,gateway' })).toThrow(
      /OTAFLOW_ROLES\.1: "gateway" is not a role: all, or a comma-separated list of api, upgrade-worker, task-worker, mqtt-gateway, lwm2m-gateway, webhooks/,
    );
    expect(() => loadConfig({ OTAFLOW_ROLES: ',' })).toThrow(/OTAFLOW_ROLES: all, or a comma-separated list/);
  });

  it('refuses a process running only some roles on anything embedded or generated for itself', () => {
    expect(() => loadConfig({ OTAFLOW_ROLES: 'task-worker' })).toThrow(
      /OTAFLOW_ROLES: task-worker runs part of otaflow.*set TEMPORAL_ADDRESS, DATABASE_URL, MINIO_ENDPOINT, OTAFLOW_SECRET_KEY$/m,
    );
    expect(() =>
      loadConfig({
        OTAFLOW_ROLES: 'api,mqtt-gateway',
        TEMPORAL_ADDRESS: 'temporal:7233',
        DATABASE_URL: 'postgres://otaflow@db/otaflow',
        MINIO_ENDPOINT: 'http://minio:9000',
        MINIO_SECRET_KEY: 'a-minio-secret',
        OTAFLOW_SECRET_KEY: 'a'.repeat(64),
      }),
    ).toThrow(/set MQTT_URL, MQTT_SERVICE_PASSWORD, OTAFLOW_API_KEY$/m);
  });

  it('names each gateway after its host by default, so replicas never share an ID', () => {
    expect(gatewayIdOfHost('otaflow-gateway-7d9c8-x2kq4')).toBe('otaflow-gateway-7d9c8-x2kq4');
    expect(gatewayIdOfHost('ip-10-0-0-5.eu-west-1.compute.internal')).toBe('ip-10-0-0-5');
    expect(gatewayIdOfHost('')).toBe('local');
    expect(loadConfig({}).OTAFLOW_GATEWAY_ID).toBe(gatewayIdOfHost(os.hostname()));
    expect(loadConfig({ OTAFLOW_GATEWAY_ID: 'gateway-1' }).OTAFLOW_GATEWAY_ID).toBe('gateway-1');
    expect(() => loadConfig({ OTAFLOW_GATEWAY_ID: 'gateway/1' })).toThrow(
      /OTAFLOW_GATEWAY_ID: letters, digits/,
    );
  });

  it('takes uplinks through the shared subscription of otaflow-gateways unless told off', () => {
    expect(loadConfig({}).MQTT_SHARED_SUBSCRIPTION_GROUP).toBe('otaflow-gateways');
    expect(loadConfig({ MQTT_SHARED_SUBSCRIPTION_GROUP: 'off' }).MQTT_SHARED_SUBSCRIPTION_GROUP).toBe('off');
    expect(() => loadConfig({ MQTT_SHARED_SUBSCRIPTION_GROUP: 'a/b' })).toThrow(
      /MQTT_SHARED_SUBSCRIPTION_GROUP: off, or letters, digits/,
    );
  });

  it('lets a queue-mode device listen 93 s after each uplink by default, and names a bad duration', () => {
    expect(loadConfig({}).LWM2M_QUEUE_MODE_AWAKE_S).toBe(93);
    expect(loadConfig({ LWM2M_QUEUE_MODE_AWAKE_S: '20' }).LWM2M_QUEUE_MODE_AWAKE_S).toBe(20);
    for (const bad of ['0', '2.5', 'briefly', '86401']) {
      expect(() => loadConfig({ LWM2M_QUEUE_MODE_AWAKE_S: bad })).toThrow(
        /LWM2M_QUEUE_MODE_AWAKE_S: an integer number of seconds from 1 to 86400/,
      );
    }
  });

  it('takes an API key of 32+ printable characters, and none when blank', () => {
    expect(loadConfig({ OTAFLOW_API_KEY: 'k'.repeat(32) }).OTAFLOW_API_KEY).toBe('k'.repeat(32));
    expect(loadConfig({ OTAFLOW_API_KEY: ' ' }).OTAFLOW_API_KEY).toBeUndefined();
    expect(() => loadConfig({ OTAFLOW_API_KEY: 'too-short' })).toThrow(/OTAFLOW_API_KEY/);
    expect(() => loadConfig({ OTAFLOW_API_KEY: `${'k'.repeat(32)} with spaces` })).toThrow(/OTAFLOW_API_KEY/);
  });

  it('offers TLS by default: MQTT on 8883 next to 1883, the API over HTTPS on 8443, the download URL https', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      OTAFLOW_TLS: 'on',
      MQTT_TLS_PORT: 8883,
      MQTT_PLAIN: 'on',
      MQTT_PORT: 1883,
      LWM2M_DTLS: 'on',
      LWM2M_DTLS_PORT: 5684,
      LWM2M_PLAIN: 'on',
      LWM2M_PORT: 5683,
    });
    expect(publicBaseUrl(config)).toBe('https://127.0.0.1:8443');
    expect(publicBaseUrl(loadConfig({ OTAFLOW_TLS: 'off' }))).toBe('http://127.0.0.1:8080');
  });

  it('takes a certificate only with its key, and no plain MQTT only with TLS', () => {
    expect(() => loadConfig({ OTAFLOW_TLS_CERT_FILE: '/etc/otaflow/server.pem' })).toThrow(
      /OTAFLOW_TLS_KEY_FILE: required with OTAFLOW_TLS_CERT_FILE/,
    );
    expect(() => loadConfig({ OTAFLOW_TLS_KEY_FILE: '/etc/otaflow/server-key.pem' })).toThrow(
      /OTAFLOW_TLS_CERT_FILE: required with OTAFLOW_TLS_KEY_FILE/,
    );
    expect(() => loadConfig({ MQTT_PLAIN: 'off', OTAFLOW_TLS: 'off' })).toThrow(
      /MQTT_PLAIN: off, but OTAFLOW_TLS is off/,
    );
    expect(() => loadConfig({ LWM2M_PLAIN: 'off', LWM2M_DTLS: 'off' })).toThrow(
      /LWM2M_PLAIN: off, but LWM2M_DTLS is off/,
    );
    expect(() => loadConfig({ LWM2M_DTLS: 'psk' })).toThrow(/LWM2M_DTLS/);
    expect(() => loadConfig({ LWM2M_DTLS_PORT: '70000' })).toThrow(/LWM2M_DTLS_PORT/);
    expect(() => loadConfig({ OTAFLOW_TLS: 'yes' })).toThrow(/OTAFLOW_TLS/);
    expect(() => loadConfig({ OTAFLOW_TLS_HOSTNAMES: 'ota.example.com, bad name' })).toThrow(
      /OTAFLOW_TLS_HOSTNAMES/,
    );
  });

  it('traces nowhere by default, and turns tracing on the way OpenTelemetry SDKs read OTEL_*', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing).toEqual({
      exporters: ['otlp'],
      otlpProtocol: 'http/protobuf',
    });
    expect(
      loadConfig({ OTEL_TRACES_EXPORTER: 'otlp,console', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).tracing,
    ).toEqual({ exporters: ['otlp', 'console'], otlpProtocol: 'grpc' });
    expect(
      loadConfig({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      }).tracing?.otlpProtocol,
    ).toBe('http/json');
    expect(
      loadConfig({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing,
    ).toBeUndefined();
  });

  it('names a tracing setting it cannot take', () => {
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(
      /OTEL_TRACES_EXPORTER: "jaeger" is not an exporter otaflow has: otlp, console, none/,
    );
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'none,otlp' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'udp' })).toThrow(
      /OTEL_EXPORTER_OTLP_PROTOCOL: "udp" is not one of http\/protobuf, http\/json, grpc/,
    );
    expect(() => loadConfig({ OTEL_SDK_DISABLED: 'yes' })).toThrow(/OTEL_SDK_DISABLED/);
  });

  it('shows the permits of no cell unless told which, at most 100', () => {
    expect(loadConfig({}).OTAFLOW_METRICS_CELLS).toEqual([]);
    expect(loadConfig({ OTAFLOW_METRICS_CELLS: ' 303, 404 ' }).OTAFLOW_METRICS_CELLS).toEqual(['303', '404']);
    const tooMany = Array.from({ length: 101 }, (_, cell) => String(cell)).join(',');
    expect(() => loadConfig({ OTAFLOW_METRICS_CELLS: tooMany })).toThrow(
      /OTAFLOW_METRICS_CELLS: at most 100 cells/,
    );
  });
});
