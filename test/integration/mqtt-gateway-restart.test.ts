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

  function startGateway(sink: RecordingSink, inbox = new InMemoryUplinkInbox()): Promise<MqttGateway> {
    return startMqttGateway({
      brokerUrl: broker.url,
      clientId: CLIENT_ID,
      ...broker.serviceAccount,
      registry: new InMemoryRegistry(),
      sink,
      inbox,
      log,
    });
  }

  async function publishResult(resultCode: number): Promise<void> {
    const device = await mqtt.connectAsync(broker.url, {
      ...deviceCredentials(DEVICE_ID, SECRET, '0', credentialsHour),
      reconnectPeriod: 0,
    });
    try {
      const report = buildProgressReport(DEVICE_ID, {
        resultCode,
        version: '1.0.0',
        description: `failed with ${resultCode}`,
      });
      await device.publishAsync(eventsUpTopic(DEVICE_ID), JSON.stringify(report), { qos: 1 });
    } finally {
      await device.endAsync();
    }
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

    const resultCodes = [5, 6, 7];
    for (const resultCode of resultCodes) await publishResult(resultCode);

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

  it('signals once a report recorded by a gateway that died before acknowledging it', async () => {
    // The database the gateways share; the first gateway dies right after recording (its acknowledgement
    // never sent), so Mosquitto redelivers the report, marked DUP, when the gateway is back.
    const inbox = new InboxDyingAfterRecord();
    const first = await startGateway(new RecordingSink(), inbox);
    await publishResult(9);
    await eventually(() => expect(inbox.kept.size).toBe(1));
    await first.stop();

    inbox.dying = false;
    const sink = new RecordingSink();
    const second = await startGateway(sink, inbox);
    try {
      const results = () => sink.calls.filter((call) => call.signal === 'upgradeResultReported');
      await eventually(() => expect(results()).toHaveLength(1));
      await eventually(() => expect(inbox.redeliveriesSeen).toBe(1));
      // The redelivery has been acknowledged without a second recording or signal.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(results()).toHaveLength(1);
      expect(inbox.kept.size).toBe(0);
    } finally {
      await second.stop();
    }
  });
});

/** Records, then never answers: the gateway dies before it acknowledges the uplink to the broker. */
class InboxDyingAfterRecord extends InMemoryUplinkInbox {
  dying = true;
  redeliveriesSeen = 0;
  override async record(...args: Parameters<InMemoryUplinkInbox['record']>): Promise<string> {
    const id = await super.record(...args);
    if (this.dying) return new Promise<string>(() => undefined);
    return id;
  }
  override async recordedBefore(
    ...args: Parameters<InMemoryUplinkInbox['recordedBefore']>
  ): Promise<boolean> {
    const recorded = await super.recordedBefore(...args);
    if (recorded) this.redeliveriesSeen++;
    return recorded;
  }
}
