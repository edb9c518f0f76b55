import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/db/database';
import { findDevice, insertDevice, setPresence } from '../../../src/db/devices';
import {
  createLwm2mGatewayRegistry,
  findLwm2mGateway,
  forgetGatewayRegistrations,
} from '../../../src/db/lwm2m-registrations';
import { openTempDatabase } from './temp-database';

let db: Database;
let dispose: () => Promise<void>;

beforeAll(async () => {
  ({ db, dispose } = await openTempDatabase());
  for (const [id, protocol] of [
    ['nb-1', 'lwm2m'],
    ['nb-2', 'lwm2m'],
    ['mqtt-1', 'mqtt'],
  ] as const) {
    await insertDevice(db, { id, protocol, product: 'meter', model: 'nb', secretCiphertext: 'unused' });
  }
});

afterAll(() => dispose());

const location = (gatewayId: string, registrationId: string) => ({
  gatewayId,
  registrationId,
  address: '10.0.0.7',
  port: 56830,
  queueMode: true,
  lifetimeSeconds: 300,
});

describe('LwM2M registrations', () => {
  it('knows which provisioned devices speak LwM2M', async () => {
    const registry = createLwm2mGatewayRegistry(db);
    expect(await registry.lwm2mDevice('nb-1')).toEqual({ pskIdentity: null });
    expect(await registry.lwm2mDevice('mqtt-1')).toBeUndefined();
    expect(await registry.lwm2mDevice('unknown')).toBeUndefined();
  });

  it('routes a device to the gateway of its latest registration', async () => {
    const registry = createLwm2mGatewayRegistry(db);
    await registry.recordRegistration('nb-1', location('gw-a', 'r1'));
    expect(await findLwm2mGateway(db, 'nb-1')).toBe('gw-a');
    await registry.recordRegistration('nb-1', location('gw-b', 'r2'));
    expect(await findLwm2mGateway(db, 'nb-1')).toBe('gw-b');
  });

  it('lets an old registration expire without removing a newer one', async () => {
    const registry = createLwm2mGatewayRegistry(db);
    expect(await registry.clearRegistration('nb-1', 'r1')).toBe(false);
    expect(await findLwm2mGateway(db, 'nb-1')).toBe('gw-b');
    expect(await registry.clearRegistration('nb-1', 'r2')).toBe(true);
    expect(await findLwm2mGateway(db, 'nb-1')).toBeUndefined();
  });

  it('forgets a restarted gateway’s registrations and marks its devices offline', async () => {
    const registry = createLwm2mGatewayRegistry(db);
    await registry.recordRegistration('nb-1', location('gw-a', 'r3'));
    await registry.recordRegistration('nb-2', location('gw-b', 'r4'));
    await setPresence(db, 'nb-1', true, new Date());
    await setPresence(db, 'nb-2', true, new Date());

    await forgetGatewayRegistrations(db, 'gw-a');

    expect(await findLwm2mGateway(db, 'nb-1')).toBeUndefined();
    expect((await findDevice(db, 'nb-1'))?.online).toBe(false);
    expect(await findLwm2mGateway(db, 'nb-2')).toBe('gw-b');
    expect((await findDevice(db, 'nb-2'))?.online).toBe(true);
  });

  it('keeps what is observed on a device beyond its registrations and its gateway', async () => {
    const registry = createLwm2mGatewayRegistry(db);
    await registry.recordObservations('nb-2', ['/5/0/3', '/5/0/5']);
    await registry.recordObservations('nb-2', ['/5/0/3']);
    await forgetGatewayRegistrations(db, 'gw-b');
    expect(await createLwm2mGatewayRegistry(db).observedPaths('nb-2')).toEqual(['/5/0/3', '/5/0/5']);

    await registry.forgetObservations('nb-2', ['/5/0/3', '/5/0/5']);
    expect(await registry.observedPaths('nb-2')).toEqual([]);
  });
});
