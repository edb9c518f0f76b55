import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const composeText = readFileSync(path.join(__dirname, '../../../docker-compose.yml'), 'utf8');
// `<<:` merges the environment every otaflow process shares, as docker compose does.
const compose = parse(composeText, { merge: true }) as {
  services: Record<
    string,
    { ports?: string[]; environment?: Record<string, string>; healthcheck?: { test: string[] } }
  >;
};

describe('docker-compose.yml', () => {
  it('publishes only what devices and applications use; the Temporal UI on the host loopback only', () => {
    const published = Object.entries(compose.services).flatMap(([service, { ports = [] }]) =>
      ports.map((port) => `${service} ${port}`),
    );
    expect(published.sort()).toEqual([
      'mosquitto 8883:8883',
      'otaflow 8080:8080',
      'otaflow 8443:8443',
      'otaflow-gateways 5683:5683/udp',
      'otaflow-gateways 5684:5684/udp',
      'temporal-ui 127.0.0.1:8233:8080',
    ]);
  });

  it('offers devices MQTT over TLS only, and HTTPS downloads, on the certificate the tls volume holds', () => {
    const otaflow = compose.services.otaflow?.environment ?? {};
    expect(otaflow.OTAFLOW_PUBLIC_URL).toMatch(/^\$\{OTAFLOW_PUBLIC_URL:-https:\/\/localhost:8443\}$/);
    expect(otaflow.OTAFLOW_TLS_CERT_FILE).toBe('/var/lib/otaflow-tls/server.pem');
    const conf = readFileSync(path.join(__dirname, '../../../deploy/mosquitto/mosquitto.conf'), 'utf8');
    expect(conf).toMatch(/^listener 8883\ncertfile \/mosquitto\/run\/tls\/server\.pem$/m);
    expect(conf).not.toMatch(/^tls_version tlsv1(\.1)?$/m);
  });

  it('offers LwM2M over DTLS on 5684 with the terminator built into the image', () => {
    const otaflow = compose.services['otaflow-gateways']?.environment ?? {};
    expect(otaflow.LWM2M_DTLS_PORT).toBe(5684);
    expect(otaflow.LWM2M_DTLS_PUBLIC_HOST).toMatch(/^\$\{LWM2M_DTLS_PUBLIC_HOST:-localhost:5684\}$/);
    const dockerfile = readFileSync(path.join(__dirname, '../../../Dockerfile'), 'utf8');
    expect(dockerfile).toContain('COPY components/dtls-terminator/ ./');
    expect(dockerfile).toContain('OTAFLOW_DTLS_TERMINATOR_BIN=/usr/local/bin/dtls-terminator');
  });

  it('runs otaflow split by role, every process on the same stack and keys', () => {
    const roles = Object.fromEntries(
      Object.entries(compose.services)
        .filter(([, service]) => service.environment?.OTAFLOW_ROLES)
        .map(([name, service]) => [name, service.environment?.OTAFLOW_ROLES]),
    );
    expect(roles).toEqual({
      otaflow: 'api,webhooks',
      'otaflow-workers': 'upgrade-worker,task-worker',
      'otaflow-gateways': 'mqtt-gateway,lwm2m-gateway',
    });
    const shared = [
      'OTAFLOW_SECRET_KEY',
      'OTAFLOW_API_KEY',
      'DATABASE_URL',
      'TEMPORAL_ADDRESS',
      'MQTT_SERVICE_PASSWORD',
    ];
    const values = Object.keys(roles).map((name) =>
      shared.map((variable) => compose.services[name]?.environment?.[variable]),
    );
    for (const each of values) expect(each).toEqual(values[0]);
    expect(values[0]?.every(Boolean)).toBe(true);
  });

  it("checks each otaflow process's readiness on its own port (the API's, or the health port)", () => {
    const probes = Object.fromEntries(
      Object.entries(compose.services)
        .filter(([, service]) => service.environment?.OTAFLOW_ROLES)
        .map(([name, service]) => [name, service.healthcheck?.test.at(-1)?.match(/http:[^']+/)?.[0]]),
    );
    expect(probes).toEqual({
      otaflow: 'http://127.0.0.1:8080/readyz',
      'otaflow-workers': 'http://127.0.0.1:8081/readyz',
      'otaflow-gateways': 'http://127.0.0.1:8081/readyz',
    });
    expect(compose.services.otaflow?.environment?.OTAFLOW_API_PORT).toBe(8080);
  });

  it('runs the compiled build with node alone, production dependencies only, as a non-root user', () => {
    const dockerfile = readFileSync(path.join(__dirname, '../../../Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toContain('RUN npm ci --omit=dev');
    expect(runtime).toContain('COPY --from=build /app/dist/ dist/');
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^CMD \["node", "dist\/src\/cli\/start\.js"\]$/m);
    expect(runtime).not.toContain('tsx');
  });

  it('gives no secret a default: each is required from .env', () => {
    const interpolations = [...composeText.matchAll(/\$\{(\w+)(:?[-?])?([^}]*)\}/g)];
    const secrets = interpolations.filter(([, name]) => /PASSWORD|SECRET|TOKEN|API_KEY/.test(name ?? ''));
    expect(secrets.length).toBeGreaterThan(5);
    for (const [text, , operator] of secrets) {
      expect(operator, `${text} has a default`).toBe(':?');
    }
  });

  it('deploy/generate-env.sh writes every secret compose requires', () => {
    const env = execFileSync('sh', ['deploy/generate-env.sh'], { encoding: 'utf8' });
    const written = new Set(
      env
        .trim()
        .split('\n')
        .map((line) => line.split('=')[0]),
    );
    const required = new Set([...composeText.matchAll(/\$\{(\w+):\?/g)].map(([, name]) => name as string));
    expect(written).toEqual(required);
    for (const line of env.trim().split('\n')) expect(line).toMatch(/^\w+=[0-9a-f]{64}$/);
  });
});
