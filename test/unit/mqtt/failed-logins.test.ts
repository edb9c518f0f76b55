import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCredentials } from '../../../src/mqtt/device-auth';
import { type EmbeddedBroker, FAILED_LOGINS_PER_ADDRESS_PER_MINUTE } from '../../../src/mqtt/embedded-broker';
import { InMemoryRegistry, startLoopbackBroker } from './fakes';

let broker: EmbeddedBroker;
let secretLookups = 0;

beforeAll(async () => {
  const registry = new InMemoryRegistry();
  registry.secrets.set('dev-a', 'secret-a');
  const getDeviceSecret = registry.getDeviceSecret.bind(registry);
  registry.getDeviceSecret = async (deviceId: string) => {
    secretLookups++;
    return getDeviceSecret(deviceId);
  };
  broker = await startLoopbackBroker(registry);
});
afterAll(() => broker.stop());

async function login(password: string): Promise<string> {
  const client = mqtt.connect(broker.url, {
    ...deviceCredentials('dev-a', 'secret-a'),
    password,
    reconnectPeriod: 0,
  });
  return new Promise<string>((resolve) => {
    client.once('connect', () => resolve('accepted'));
    client.once('error', (error) => resolve(error.message));
  }).finally(() => client.end(true));
}

describe('refused MQTT logins on the embedded broker', () => {
  it('stop costing a lookup once an address has too many in a minute', async () => {
    for (let i = 0; i < FAILED_LOGINS_PER_ADDRESS_PER_MINUTE; i++) {
      expect(await login(`wrong-${i}`)).toMatch(/Bad username or password/);
    }
    const lookupsBefore = secretLookups;
    expect(await login(deviceCredentials('dev-a', 'secret-a').password)).toMatch(/Server unavailable/);
    expect(await login('wrong-again')).toMatch(/Server unavailable/);
    expect(secretLookups).toBe(lookupsBefore);
  });
});
