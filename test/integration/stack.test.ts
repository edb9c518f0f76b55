import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startChildServer, tcpProbe } from '../../src/stack/child-process';
import { freePort } from '../../src/stack/free-port';
import { otaSearchAttributeNames } from '../../workflows/definitions';
import {
  startTestMinio,
  startTestMosquitto,
  startTestPostgres,
  startTestTemporal,
} from '../support/stack/components';
import { timeSkippingEnv } from '../support/stack/time-skipping';

describe('the real local stack', () => {
  it('serves the default namespace with otaflow search attributes, and keeps workflows across restarts', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-stack-test-'));
    onTestFinished(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = await startTestTemporal({ dataDir });
    const workflowId = `stack-test-${Date.now()}`;
    try {
      const connection = await Connection.connect({ address: first.address });
      try {
        const namespace = await connection.workflowService.describeNamespace({ namespace: 'default' });
        expect(namespace.namespaceInfo?.name).toBe('default');
        const { customAttributes } = await connection.operatorService.listSearchAttributes({
          namespace: 'default',
        });
        expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(otaSearchAttributeNames));
        // No worker polls this queue: the workflow just stays open, which is all a restart must preserve.
        await new Client({ connection }).workflow.start('noWorkerWorkflow', {
          taskQueue: 'stack-test',
          workflowId,
        });
      } finally {
        await connection.close();
      }
    } finally {
      await first.stop();
    }

    const port = Number(first.address.split(':')[1]);
    const second = await startTestTemporal({ dataDir, port });
    try {
      const connection = await Connection.connect({ address: second.address });
      try {
        const description = await new Client({ connection }).workflow.getHandle(workflowId).describe();
        expect(description.status.name).toBe('RUNNING');
      } finally {
        await connection.close();
      }
    } finally {
      await second.stop();
    }
  });

  it('runs the time-skipping test server, which skips a day in about no time', async () => {
    const env = await timeSkippingEnv();
    try {
      const before = await env.currentTimeMs();
      await env.sleep('25 hours');
      expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(25 * 3600_000);
    } finally {
      await env.teardown();
    }
  });

  it('reports a server that dies while starting, quoting its log', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-stack-test-'));
    onTestFinished(() => rmSync(dataDir, { recursive: true, force: true }));
    const start = startChildServer({
      name: 'Broken server',
      command: 'sh',
      args: ['-c', 'echo "config line 3: unknown option" >&2; exit 3'],
      logFile: path.join(dataDir, 'broken.log'),
      isReady: tcpProbe('127.0.0.1', await freePort()),
    });
    await expect(start).rejects.toThrow(
      /Broken server exited before it was ready \(exit code 3.*unknown option/s,
    );
  });

  it('serves MinIO', async () => {
    const minio = await startTestMinio();
    try {
      const response = await fetch(`${minio.endpoint}/minio/health/live`);
      expect(response.status).toBe(200);
    } finally {
      await minio.stop();
    }
  });

  it('lets a Mosquitto device account use its own topics only, and the gateway all devices', async () => {
    const deviceA = { username: 'device-a', password: 'device-a-password' };
    const deviceB = { username: 'device-b', password: 'device-b-password' };
    const broker = await startTestMosquitto([deviceA, deviceB]);
    const clients: MqttClient[] = [];
    const connect = async (options: mqtt.IClientOptions) => {
      const client = await mqtt.connectAsync(broker.url, {
        protocolVersion: 5,
        reconnectPeriod: 0,
        ...options,
      });
      clients.push(client);
      return client;
    };
    try {
      await expect(connect({})).rejects.toThrow(/not authorized|bad user name or password/i);
      await expect(connect({ ...deviceA, password: 'wrong-password' })).rejects.toThrow(
        /not authorized|bad user name or password/i,
      );

      const gateway = await connect(broker.serviceAccount);
      const gatewayReceived = collectTopics(gateway);
      // otaflow's plugin moves event uplinks where shared subscriptions can carry them.
      await gateway.subscribeAsync('otaflow/uplinks/+', { qos: 1 });
      const device = await connect(deviceA);
      const deviceReceived = collectTopics(device);
      await device.subscribeAsync(
        ['$oc/devices/device-a/sys/events/down', '$oc/devices/device-b/sys/events/down'],
        {
          qos: 1,
        },
      );

      await device.publishAsync('$oc/devices/device-a/sys/events/up', 'own report', { qos: 1 });
      await expect(
        device.publishAsync('$oc/devices/device-b/sys/events/up', 'forged report', { qos: 1 }),
      ).rejects.toThrow(/not authorized/i);
      await expect.poll(() => gatewayReceived).toEqual(['otaflow/uplinks/device-a']);

      // Mosquitto grants the subscription to another device's topic but never delivers on it. The
      // gateway's messages arrive in order, so once the second one is in, the first was withheld.
      await gateway.publishAsync('$oc/devices/device-b/sys/events/down', 'for device-b only', { qos: 1 });
      await gateway.publishAsync('$oc/devices/device-a/sys/events/down', 'for device-a', { qos: 1 });
      await expect.poll(() => deviceReceived).toEqual(['$oc/devices/device-a/sys/events/down']);
    } finally {
      await Promise.all(clients.map((client) => client.endAsync()));
      await broker.stop();
    }
  });

  it('takes device accounts added while Mosquitto runs, keeping the earlier ones', async () => {
    const early = { username: 'device-early', password: 'device-early-password' };
    const late = { username: 'device-late', password: 'device-late-password' };
    const broker = await startTestMosquitto([early]);
    const connect = (account: { username: string; password: string }) =>
      mqtt.connectAsync(broker.url, { ...account, reconnectPeriod: 0 });
    try {
      await expect(connect(late)).rejects.toThrow(/not authorized|bad user name or password/i);
      await broker.addDeviceAccounts([late]);
      for (const account of [early, late, broker.serviceAccount]) await (await connect(account)).endAsync();
      await expect(connect({ ...late, password: 'wrong-password' })).rejects.toThrow(
        /not authorized|bad user name or password/i,
      );
    } finally {
      await broker.stop();
    }
  });

  it("delivers a device's downlink system topics without a SUBSCRIBE from it, once, and to it only (otaflow's plugin)", async () => {
    const deviceA = { username: 'device-a', password: 'device-a-password' };
    const deviceB = { username: 'device-b', password: 'device-b-password' };
    const broker = await startTestMosquitto([deviceA, deviceB]);
    const clients: MqttClient[] = [];
    const connect = async (options: mqtt.IClientOptions) => {
      const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, ...options });
      clients.push(client);
      return client;
    };
    try {
      const gateway = await connect(broker.serviceAccount);
      // Two connections of one device (the seed protocol's client ID changes every hour), neither subscribed.
      const firstA = collectTopics(await connect({ ...deviceA, clientId: 'device-a_0_0_2026120601' }));
      const secondA = collectTopics(await connect({ ...deviceA, clientId: 'device-a_0_0_2026120602' }));
      const subscribedB = await connect({ ...deviceB, clientId: 'device-b_0_0_2026120601' });
      const receivedB = collectTopics(subscribedB);
      await subscribedB.subscribeAsync('$oc/devices/device-b/sys/#', { qos: 1 });
      // A refused login under device-a's name gets nothing either.
      await expect(connect({ ...deviceA, password: 'wrong-password', clientId: 'intruder' })).rejects.toThrow(
        /not authorized|bad user name or password/i,
      );

      for (const topic of [
        '$oc/devices/device-a/sys/events/down',
        '$oc/devices/device-a/sys/commands/request_id=1',
        '$oc/devices/device-a/sys/events/up',
        '$oc/devices/device-b/sys/events/down',
      ]) {
        await gateway.publishAsync(topic, 'downlink', { qos: 1 });
      }
      await gateway.publishAsync('$oc/devices/device-b/sys/messages/down', 'last', { qos: 1 });
      await expect.poll(() => receivedB.at(-1)).toBe('$oc/devices/device-b/sys/messages/down');
      const implicit = [
        '$oc/devices/device-a/sys/events/down',
        '$oc/devices/device-a/sys/commands/request_id=1',
      ];
      expect(firstA).toEqual(implicit);
      expect(secondA).toEqual(implicit);
      expect(receivedB).toEqual([
        '$oc/devices/device-b/sys/events/down',
        '$oc/devices/device-b/sys/messages/down',
      ]);
    } finally {
      await Promise.all(clients.map((client) => client.endAsync()));
      await broker.stop();
    }
  });

  it('serves a throwaway PostgreSQL database', async () => {
    const postgres = await startTestPostgres();
    try {
      const client = new pg.Client({ connectionString: postgres.url });
      await client.connect();
      try {
        const { rows } = await client.query('select 1 as one, current_database() as database');
        expect(rows).toEqual([{ one: 1, database: 'otaflow' }]);
      } finally {
        await client.end();
      }
    } finally {
      await postgres.stop();
    }
  });
});

function collectTopics(client: MqttClient): string[] {
  const topics: string[] = [];
  client.on('message', (topic) => topics.push(topic));
  return topics;
}
