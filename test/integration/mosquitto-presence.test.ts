import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCredentials } from '../../src/mqtt/device-auth';
import type { PresenceEvent } from '../../src/mqtt/embedded-broker';
import { type MosquittoPresence, startMosquittoPresence } from '../../src/mqtt/mosquitto-presence';
import { startTestMosquitto, type TestMosquitto } from '../support/stack/components';
import { eventually } from '../unit/mqtt/fakes';

/**
 * Device presence on Mosquitto comes from otaflow's plugin, which counts authenticated connections:
 * a failed CONNECT under a connected device's name must not mark it offline, and a device whose
 * hourly client ID change overlaps two connections stays online while either is up.
 */

const DEVICE_ID = 'presence-meter';
const OTHER_ID = 'presence-other';
const hour = new Date();
const credentials = deviceCredentials(DEVICE_ID, 'secret-of-presence-meter', '0', hour);
const otherCredentials = deviceCredentials(OTHER_ID, 'secret-of-presence-other', '0', hour);
/** The broker's loop ticks at least once a second; two leave room for a loaded machine. */
const QUIET_MS = 2_000;

let broker: TestMosquitto;
let presence: MosquittoPresence;
/** Each change as the gateway sees it, without its time (`times` keeps those). */
const events: Array<Omit<PresenceEvent, 'at'>> = [];
const times: Date[] = [];

beforeAll(async () => {
  broker = await startTestMosquitto([
    { username: DEVICE_ID, password: credentials.password },
    { username: OTHER_ID, password: otherCredentials.password },
  ]);
  presence = await startMosquittoPresence({
    brokerUrl: broker.url,
    ...broker.serviceAccount,
    clientId: 'presence-gateway',
    log: pino({ level: 'silent' }),
  });
  presence.onPresence(({ deviceId, online, at }) => {
    events.push({ deviceId, online });
    times.push(at);
  });
}, 60_000);

afterAll(async () => {
  await presence?.stop();
  await broker?.stop();
});

function connect(clientId: string, password = credentials.password, username = DEVICE_ID) {
  return mqtt.connectAsync(broker.url, { clientId, username, password, reconnectPeriod: 0 });
}

const quiet = () => new Promise((resolve) => setTimeout(resolve, QUIET_MS));

/** More than Mosquitto's default per-client queue (1,000 above 20 in flight) holds for each of two gateways. */
const FLEET_SIZE = 3_000;

describe('device presence on Mosquitto', () => {
  it('comes from authenticated connections only, counted per device, with the broker’s time', async () => {
    const connecting = Date.now();
    const first = await connect(credentials.clientId);
    await eventually(() => expect(events).toEqual([{ deviceId: DEVICE_ID, online: true }]));
    // The plugin notices a login at the broker's next tick (at most a second on).
    expect(times[0]?.getTime()).toBeGreaterThanOrEqual(connecting);
    expect(times[0]?.getTime()).toBeLessThanOrEqual(Date.now());

    // Someone without the device's secret tries its client ID (and a second one): refused, and no
    // presence change.
    await expect(connect(credentials.clientId, 'not-the-password')).rejects.toThrow(/not authorized/i);
    await expect(connect(`${DEVICE_ID}_0_1_${credentials.clientId.slice(-10)}`, 'wrong')).rejects.toThrow(
      /not authorized/i,
    );
    await quiet();
    expect(events).toEqual([{ deviceId: DEVICE_ID, online: true }]);
    expect(first.connected).toBe(true);

    // The hourly client-ID change: the new connection overlaps the old one.
    const second = await connect(`${DEVICE_ID}_0_1_${credentials.clientId.slice(-10)}`);
    await first.endAsync();
    await quiet();
    expect(events).toEqual([{ deviceId: DEVICE_ID, online: true }]);

    await second.endAsync();
    await eventually(() =>
      expect(events).toEqual([
        { deviceId: DEVICE_ID, online: true },
        { deviceId: DEVICE_ID, online: false },
      ]),
    );
  }, 30_000);

  it("does not let a device publish another's presence", async () => {
    events.length = 0;
    const other = await connect(otherCredentials.clientId, otherCredentials.password, OTHER_ID);
    await eventually(() => expect(events).toEqual([{ deviceId: OTHER_ID, online: true }]));
    await other.publishAsync(`otaflow/presence/${DEVICE_ID}`, '{"connections":0}', { qos: 0 });
    await other.publishAsync(`otaflow/presence/${DEVICE_ID}`, '{"connections":5}', { qos: 0 });
    await quiet();
    expect(events).toEqual([{ deviceId: OTHER_ID, online: true }]);
    await other.endAsync();
  }, 30_000);

  it('reaches the gateways for every device of a fleet that drops off at once', async () => {
    const fleet = Array.from({ length: FLEET_SIZE }, (_, index) =>
      deviceCredentials(`presence-fleet-${index}`, `secret-of-fleet-device-${index}`, '0', hour),
    );
    await broker.addDeviceAccounts(fleet.map(({ username, password }) => ({ username, password })));
    // Two gateways on the shared subscription, as a split deployment runs them.
    const gateways = await Promise.all(
      ['a', 'b'].map((name) =>
        startMosquittoPresence({
          brokerUrl: broker.url,
          ...broker.serviceAccount,
          sharedGroup: 'presence-test',
          clientId: `presence-gateway-${name}`,
          log: pino({ level: 'silent' }),
        }),
      ),
    );
    const offline = new Map<string, number>();
    const online = new Set<string>();
    for (const gateway of gateways) {
      gateway.onPresence(({ deviceId, online: isOnline }) => {
        if (isOnline) online.add(deviceId);
        else offline.set(deviceId, (offline.get(deviceId) ?? 0) + 1);
      });
    }
    try {
      const clients = [];
      for (let start = 0; start < fleet.length; start += 200) {
        clients.push(
          ...(await Promise.all(
            fleet
              .slice(start, start + 200)
              .map((device) => connect(device.clientId, device.password, device.username)),
          )),
        );
      }
      await eventually(() => expect(online.size).toBe(FLEET_SIZE), 30_000);

      // Every socket closes in the same moment (a cell tower going down): the broker publishes
      // FLEET_SIZE presence changes at once, faster than any gateway acknowledges them.
      for (const client of clients) client.stream.destroy();
      await eventually(() => expect(offline.size).toBe(FLEET_SIZE), 60_000);
      expect([...offline.values()].every((count) => count === 1)).toBe(true);
    } finally {
      await Promise.all(gateways.map((gateway) => gateway.stop()));
    }
  }, 180_000);
});
