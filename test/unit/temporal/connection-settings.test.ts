import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config';

/** TEMPORAL_* read as the Temporal SDKs and CLI read them (src/temporal/connection-settings.ts). */
describe('Temporal connection settings', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-temporal-settings-'));
  const file = (name: string, content: string) => {
    const filePath = path.join(dir, name);
    writeFileSync(filePath, content);
    return filePath;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes an address, a namespace and an API key, which turns TLS on', () => {
    const { temporal } = loadConfig({
      TEMPORAL_ADDRESS: 'otaflow.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'otaflow.a1b2c',
      TEMPORAL_API_KEY: 'an-api-key',
    });
    expect(temporal).toEqual({
      address: 'otaflow.a1b2c.tmprl.cloud:7233',
      namespace: 'otaflow.a1b2c',
      connection: { apiKey: 'an-api-key', tls: true, metadata: undefined },
    });
  });

  it('reads mTLS files: the CA, the client certificate and key, and the server name', () => {
    const ca = file('ca.pem', 'CA PEM');
    const cert = file('client.pem', 'CLIENT PEM');
    const key = file('client-key.pem', 'KEY PEM');
    const { temporal } = loadConfig({
      TEMPORAL_ADDRESS: '10.0.0.5:7233',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    const bytes = (text: string) => new TextEncoder().encode(text);
    expect(temporal.connection.tls).toEqual({
      serverNameOverride: 'temporal.internal',
      serverRootCACertificate: bytes('CA PEM'),
      clientCertPair: { crt: bytes('CLIENT PEM'), key: bytes('KEY PEM') },
    });
  });

  it('takes a TOML profile, the environment overriding it', () => {
    const config = file(
      'temporal.toml',
      '[profile.production]\naddress = "temporal.prod:7233"\nnamespace = "fleet"\n[profile.production.tls]\n',
    );
    const fromProfile = loadConfig({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'production' }).temporal;
    expect(fromProfile).toMatchObject({ address: 'temporal.prod:7233', namespace: 'fleet' });
    expect(fromProfile.connection.tls).toBeTruthy();
    const overridden = loadConfig({
      TEMPORAL_CONFIG_FILE: config,
      TEMPORAL_PROFILE: 'production',
      TEMPORAL_NAMESPACE: 'fleet-eu',
    }).temporal;
    expect(overridden).toMatchObject({ address: 'temporal.prod:7233', namespace: 'fleet-eu' });
  });

  it('names what is wrong: a certificate that cannot be read, a missing profile, TLS without an address', () => {
    const missingCa = () =>
      loadConfig({
        TEMPORAL_ADDRESS: '10.0.0.5:7233',
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'no-such-ca.pem'),
      });
    expect(missingCa).toThrow(ConfigError);
    expect(missingCa).toThrow(/TEMPORAL_\*.*no-such-ca\.pem/);
    const config = file('other.toml', '[profile.default]\naddress = "temporal:7233"\n');
    expect(() => loadConfig({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'staging' })).toThrow(
      /TEMPORAL_\*.*staging/,
    );
    expect(() => loadConfig({ TEMPORAL_API_KEY: 'an-api-key' })).toThrow(
      /TEMPORAL_ADDRESS: TLS, an API key or gRPC metadata are set for Temporal, but no address/,
    );
  });
});
