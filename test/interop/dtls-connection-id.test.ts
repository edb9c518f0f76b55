/**
 * DTLS Connection ID (RFC 9146) with Eclipse Californium 3's Scandium, a DTLS stack otaflow's
 * authors did not write: an NB-IoT device behind a carrier NAT comes back from sleep on a new
 * address, and its next Update must reach its registration through the same DTLS session, with no
 * new handshake. A UDP relay on loopback plays the NAT and moves the device's outside port.
 * Needs Java and the client scripts/provision.sh builds (test/interop/californium-dtls/).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { javaClientClasspath } from '../support/java-clients';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

async function boundSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

/** A NAT: the device talks to `port`; the server sees the outside port, which `rebind` moves. */
async function startNat(server: { host: string; port: number }) {
  const inside = await boundSocket();
  let device: dgram.RemoteInfo | undefined;
  let outside = await boundSocket();
  const backToDevice = (socket: dgram.Socket) =>
    socket.on('message', (message) => {
      if (device) inside.send(message, device.port, device.address);
    });
  backToDevice(outside);
  inside.on('message', (message, from) => {
    device = from;
    outside.send(message, server.port, server.host);
  });
  return {
    port: inside.address().port,
    outsidePort: () => outside.address().port,
    async rebind() {
      const old = outside;
      outside = await boundSocket();
      backToDevice(outside);
      old.close();
    },
    close() {
      inside.close();
      outside.close();
    },
  };
}

describe('an LwM2M device behind a NAT that moves, over DTLS with a Connection ID', () => {
  let stack: RealStack;
  let platform: TestPlatform;
  let nat: Awaited<ReturnType<typeof startNat>>;
  let client: ChildProcessWithoutNullStreams | undefined;

  beforeAll(async () => {
    stack = await startRealStack();
    platform = await startTestPlatform(stack, { embeddedBroker: true, dtls: true });
    const dtls = new URL((platform.addresses.lwm2mDtls as string).replace('coaps:', 'http:'));
    nat = await startNat({ host: dtls.hostname, port: Number(dtls.port) });
  });

  afterAll(async () => {
    client?.kill();
    nat?.close();
    await platform?.stop();
    await stack?.stop();
  });

  const sessionPort = async () =>
    (
      await platform.db.query<{ port: number }>(
        "select port from lwm2m_registrations where device_id = 'cid-meter'",
      )
    ).rows[0]?.port;

  it('keeps its session and registration when its address changes, without a new handshake', async () => {
    const device = await platform.api.post<{ pskKey: string }>('/v1/devices', {
      id: 'cid-meter',
      protocol: 'lwm2m',
      product: 'nb-meter',
      model: 'NB-1',
    });
    const output: string[] = [];
    client = spawn('java', [
      '-cp',
      javaClientClasspath('californium-client'),
      'DtlsCidClient',
      `127.0.0.1:${nat.port}`,
      'cid-meter',
      'cid-meter',
      device.pskKey,
    ]);
    client.stderr.pipe(process.stderr);
    createInterface({ input: client.stdout }).on('line', (line) => output.push(line));

    await expect.poll(() => output.length, { timeout: 30_000 }).toBe(2);
    expect(output[0]).toMatch(/^HANDSHAKE [0-9A-F]{16}$/);
    expect(output[1]).toMatch(/^REGISTERED rd\/[0-9a-f]+$/);
    const portBefore = await sessionPort();
    expect(portBefore).toBeGreaterThan(0);

    const outsideBefore = nat.outsidePort();
    await nat.rebind();
    expect(nat.outsidePort()).not.toBe(outsideBefore);
    client.stdin.write('update\n');

    await expect.poll(() => output.length, { timeout: 30_000 }).toBe(3);
    expect(output[2]).toBe('UPDATED 2.04');
    expect(output.filter((line) => line.startsWith('HANDSHAKE'))).toHaveLength(1);
    expect(await sessionPort()).toBe(portBefore);
    expect((await platform.api.get<{ online: boolean }>('/v1/devices/cid-meter')).online).toBe(true);
  }, 90_000);
});
