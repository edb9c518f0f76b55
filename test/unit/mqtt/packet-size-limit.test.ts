import net from 'node:net';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCredentials } from '../../../src/mqtt/device-auth';
import type { EmbeddedBroker } from '../../../src/mqtt/embedded-broker';
import { eventsUpTopic } from '../../../src/mqtt/ota-protocol';
import { InMemoryRegistry, startLoopbackBroker } from './fakes';

const MiB = 1024 * 1024;
let broker: EmbeddedBroker;

beforeAll(async () => {
  const registry = new InMemoryRegistry();
  registry.secrets.set('dev-a', 'secret-a');
  broker = await startLoopbackBroker(registry);
});
afterAll(() => broker.stop());

/** The MQTT fixed header of a CONNECT (type 1) declaring `length` bytes to follow. */
function connectHeader(length: number): Buffer {
  const bytes = [0x10];
  let rest = length;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    bytes.push(byte);
  } while (rest > 0);
  return Buffer.from(bytes);
}

/** Sends `header` and then up to `total` bytes in 64 KiB writes; how many were written before the close. */
function sendUntilClosed(header: Buffer, total: number): Promise<{ written: number; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(broker.port, '127.0.0.1');
    let written = 0;
    let closed = false;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      resolve({ written, closed });
    });
    socket.on('connect', () => {
      socket.write(header);
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      const pump = () => {
        while (!closed && written < total) {
          written += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
        if (!closed) setTimeout(() => resolve({ written, closed }), 1_000);
      };
      pump();
    });
  });
}

describe('MQTT packet sizes on the embedded broker', () => {
  it('closes a 10 MiB unauthenticated CONNECT at its header, without buffering it', async () => {
    const before = process.memoryUsage().arrayBuffers;
    const { closed, written } = await sendUntilClosed(connectHeader(10 * MiB), 10 * MiB);
    expect(closed).toBe(true);
    expect(written).toBeLessThan(10 * MiB);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(2 * MiB);
  });

  it('closes a device that sends a packet over 1 MiB, and takes smaller ones', async () => {
    const device = await mqtt.connectAsync(broker.url, {
      ...deviceCredentials('dev-a', 'secret-a'),
      reconnectPeriod: 0,
    });
    await device.publishAsync(eventsUpTopic('dev-a'), Buffer.alloc(512 * 1024, 0x7b), { qos: 1 });
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.publish(eventsUpTopic('dev-a'), Buffer.alloc(2 * MiB, 0x7b), { qos: 1 });
    await closed;
    device.end(true);
  });
});
