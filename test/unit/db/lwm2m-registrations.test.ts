import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/db/database';
import { insertDevice } from '../../../src/db/devices';
import { createLwm2mGatewayRegistry, findLwm2mGateway } from '../../../src/db/lwm2m-registrations';
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

const details = {
  lwm2mVersion: '1.1',
  binding: 'U',
  pskIdentity: null,
  objectLinks: [{ target: '/5/0', attributes: {} }],
  registeredAt: '2026-12-07T00:00:00.000Z',
};

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
    await registry.recordRegistration('nb-1', location('gw-a', 'r1'), details);
    expect(await findLwm2mGateway(db, 'nb-1')).toBe('gw-a');
    await registry.recordRegistration('nb-1', location('gw-b', 'r2'), details);
    expect(await findLwm2mGateway(db, 'nb-1')).toBe('gw-b');
  });

  it('lets an old registration expire without removing a newer one', async () => {
    const registry = createLwm2mGatewayRegistry(db);
    expect(await registry.clearRegistration('nb-1', 'r1')).toBe(false);
    expect(await findLwm2mGateway(db, 'nb-1')).toBe('gw-b');
    expect(await registry.clearRegistration('nb-1', 'r2')).toBe(true);
    expect(await findLwm2mGateway(db, 'nb-1')).toBeUndefined();
  });

  it('keeps a gateway’s registrations, with their details, for its next start', async () => {
    const registry = createLwm2mGatewayRegistry(db);
    await registry.recordRegistration('nb-1', location('gw-a', 'r3'), details);
    await registry.recordRegistration('nb-2', location('gw-b', 'r4'), details);
    const before = Date.now();

    const kept = await createLwm2mGatewayRegistry(db).keptRegistrations('gw-a');
    expect(kept).toEqual([
      { deviceId: 'nb-1', ...location('gw-a', 'r3'), updatedAt: expect.any(Date), details },
    ]);
    expect(Math.abs((kept[0]?.updatedAt.getTime() ?? 0) - before)).toBeLessThan(5_000);
    expect(await registry.keptRegistrations('gw-c')).toEqual([]);
  });

  it('keeps what is observed on a device beyond its registrations and its gateway', async () => {
    const registry = createLwm2mGatewayRegistry(db);
    await registry.recordObservations('nb-2', ['/5/0/3', '/5/0/5']);
    await registry.recordObservations('nb-2', ['/5/0/3']);
    expect(await registry.clearRegistration('nb-2', 'r4')).toBe(true);
    expect(await createLwm2mGatewayRegistry(db).observedPaths('nb-2')).toEqual(['/5/0/3', '/5/0/5']);

    await registry.forgetObservations('nb-2', ['/5/0/3', '/5/0/5']);
    expect(await registry.observedPaths('nb-2')).toEqual([]);
  });
});
