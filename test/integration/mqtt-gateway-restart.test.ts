import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCredentials } from '../../src/mqtt/device-auth';
import { type MqttGateway, startMqttGateway } from '../../src/mqtt/gateway';
import { buildProgressReport, eventsUpTopic } from '../../src/mqtt/ota-protocol';
import { startTestMosquitto, type TestMosquitto } from '../support/stack/components';
import { eventually, InMemoryRegistry, InMemoryUplinkInbox, RecordingSink } from '../unit/mqtt/fakes';

/**
 * The gateway's broker session outlives the gateway: device results published to Mosquitto while no
 * gateway runs (otaflow crashed or restarting) reach the workflows once a gateway is back.
 */

const DEVICE_ID = 'restart-meter';
const SECRET = 'secret-of-restart-meter';
const CLIENT_ID = 'otaflow-gateway-restart-test';
const log = pino({ level: 'silent' });

describe('the MQTT gateway on Mosquitto, restarted', () => {
  let broker: TestMosquitto;
  const credentialsHour = new Date();

  beforeAll(async () => {
    broker = await startTestMosquitto([deviceCredentials(DEVICE_ID, SECRET, '0', credentialsHour)]);
  });

  afterAll(async () => {
    await broker?.stop();
  });

  function startGateway(sink: RecordingSink): Promise<MqttGateway> {
    return startMqttGateway({
      brokerUrl: broker.url,
      clientId: CLIENT_ID,
      ...broker.serviceAccount,
      registry: new InMemoryRegistry(),
      sink,
      inbox: new InMemoryUplinkInbox(),
      log,
    });
  }

  it("does not start on the broker's refusal of its account, and says why", async () => {
    await expect(
      startMqttGateway({
        brokerUrl: broker.url,
        clientId: CLIENT_ID,
        username: broker.serviceAccount.username,
        password: 'not-the-password',
        registry: new InMemoryRegistry(),
        sink: new RecordingSink(),
        inbox: new InMemoryUplinkInbox(),
        log,
      }),
    ).rejects.toThrow(/not authorized/i);
  });

  it('handles every result a device reported while no gateway was running', async () => {
    const first = await startGateway(new RecordingSink());
    await first.stop();

    const device = await mqtt.connectAsync(broker.url, {
      ...deviceCredentials(DEVICE_ID, SECRET, '0', credentialsHour),
      reconnectPeriod: 0,
    });
    const resultCodes = [5, 6, 7];
    try {
      for (const resultCode of resultCodes) {
        const report = buildProgressReport(DEVICE_ID, {
          resultCode,
          version: '1.0.0',
          description: `failed with ${resultCode}`,
        });
        await device.publishAsync(eventsUpTopic(DEVICE_ID), JSON.stringify(report), { qos: 1 });
      }
    } finally {
      await device.endAsync();
    }

    const sink = new RecordingSink();
    const second = await startGateway(sink);
    try {
      await eventually(() =>
        expect(sink.calls.filter((call) => call.signal === 'upgradeResultReported')).toEqual(
          resultCodes.map((resultCode) => ({
            signal: 'upgradeResultReported',
            deviceId: DEVICE_ID,
            report: {
              resultCode,
              version: '1.0.0',
              description: `failed with ${resultCode}`,
              receivedAt: expect.any(String),
            },
          })),
        ),
      );
    } finally {
      await second.stop();
    }
  });
});
