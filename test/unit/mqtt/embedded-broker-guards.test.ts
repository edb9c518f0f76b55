import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceCredentials, REFUSED_LOGINS_PER_DEVICE_PER_MINUTE } from '../../../src/mqtt/device-auth';
import { type EmbeddedBroker, FAILED_LOGINS_PER_ADDRESS_PER_MINUTE } from '../../../src/mqtt/embedded-broker';
import { InMemoryRegistry, startLoopbackBroker } from './fakes';

let broker: EmbeddedBroker | undefined;
let secretLookups = 0;

async function startBroker(): Promise<EmbeddedBroker> {
  const registry = new InMemoryRegistry();
  registry.secrets.set('dev-a', 'secret-a');
  registry.secrets.set('dev-b', 'secret-b');
  const getDeviceSecret = registry.getDeviceSecret.bind(registry);
  registry.getDeviceSecret = async (deviceId: string) => {
    secretLookups++;
    return getDeviceSecret(deviceId);
  };
  broker = await startLoopbackBroker(registry);
  return broker;
}
afterEach(async () => {
  await broker?.stop();
  broker = undefined;
});

function connect(url: string, credentials: { clientId: string; username: string; password: string }) {
  const client = mqtt.connect(url, { ...credentials, reconnectPeriod: 0 });
  return new Promise<{ answer: string; client: mqtt.MqttClient }>((resolve) => {
    client.once('connect', () => resolve({ answer: 'accepted', client }));
    client.once('error', (error) => resolve({ answer: error.message, client }));
  });
}

async function login(url: string, credentials: { clientId: string; username: string; password: string }) {
  const { answer, client } = await connect(url, credentials);
  client.end(true);
  return answer;
}

describe('refused MQTT logins on the embedded broker', () => {
  it('stop costing a lookup once an address has too many in a minute', async () => {
    const { url } = await startBroker();
    for (let i = 0; i < FAILED_LOGINS_PER_ADDRESS_PER_MINUTE; i++) {
      expect(await login(url, deviceCredentials(`guess-${i}`, 'nothing'))).toMatch(
        /Bad username or password/,
      );
    }
    const lookupsBefore = secretLookups;
    expect(await login(url, deviceCredentials('dev-a', 'secret-a'))).toMatch(/Server unavailable/);
    expect(await login(url, deviceCredentials('dev-b', 'wrong'))).toMatch(/Server unavailable/);
    expect(secretLookups).toBe(lookupsBefore);
  });

  it('lock a device ID whose secret is being guessed, and no other', async () => {
    const { url } = await startBroker();
    for (let i = 0; i < REFUSED_LOGINS_PER_DEVICE_PER_MINUTE; i++) {
      expect(await login(url, deviceCredentials('dev-a', `guess-${i}`))).toMatch(/Bad username or password/);
    }
    const lookupsBefore = secretLookups;
    expect(await login(url, deviceCredentials('dev-a', 'secret-a'))).toMatch(/Bad username or password/);
    expect(secretLookups).toBe(lookupsBefore);
    expect(await login(url, deviceCredentials('dev-b', 'secret-b'))).toBe('accepted');
  });
});

describe("a device's connections", () => {
  it('are closed on request, and no other device is touched', async () => {
    const { url } = await startBroker();
    const a = await connect(url, deviceCredentials('dev-a', 'secret-a'));
    const b = await connect(url, deviceCredentials('dev-b', 'secret-b'));
    expect([a.answer, b.answer]).toEqual(['accepted', 'accepted']);
    const closed = new Promise<void>((resolve) => a.client.once('close', () => resolve()));
    broker?.disconnect('dev-a');
    await closed;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(b.client.connected).toBe(true);
    a.client.end(true);
    b.client.end(true);
  });
});
