/**
 * The gateway's rules for DTLS sessions, over real UDP on 127.0.0.1. The terminator is not running
 * here: the test announces which sockets stand for which session in the session table, as the
 * terminator does for its loopback ports (test/interop/leshan-dtls.test.ts runs the real one).
 */
import dgram from 'node:dgram';
import { generate, type ParsedPacket, parse } from 'coap-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DtlsSessionTable } from '../../../src/lwm2m/dtls/dtls-session-table';
import { type Lwm2mGateway, startLwm2mGateway } from '../../../src/lwm2m/gateway';
import { silentLogger } from '../api/fakes';
import { FakeLwm2mRegistry, InMemoryPackages, RecordingLwm2mSink } from './fakes';

let registry: FakeLwm2mRegistry;
let sessions: DtlsSessionTable;
let gateway: Lwm2mGateway;
const sockets: dgram.Socket[] = [];

async function startGateway(plainCoap = true) {
  gateway = await startLwm2mGateway({
    host: '127.0.0.1',
    port: 0,
    gatewayId: 'gw-dtls',
    registry,
    sink: new RecordingLwm2mSink(),
    packages: new InMemoryPackages(),
    log: silentLogger,
    dtls: { sessions, publicHost: () => 'dtls.example.test:5684' },
    plainCoap,
  });
}

beforeEach(async () => {
  registry = new FakeLwm2mRegistry();
  registry.protocols.set('meter-psk', 'lwm2m');
  registry.pskIdentities.set('meter-psk', 'psk-identity-1');
  registry.protocols.set('meter-plain', 'lwm2m');
  sessions = new DtlsSessionTable();
  await startGateway();
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await gateway.stop();
});

interface Answer {
  code: string;
  diagnostic: string;
  location: string;
}

let nextMessageId = 1;

/** A peer of the gateway: plain CoAP, or the loopback end of a DTLS session of `pskIdentity`. */
async function peer(pskIdentity?: string) {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  sockets.push(socket);
  if (pskIdentity !== undefined) sessions.open(socket.address().port, pskIdentity);
  return {
    request(method: 'POST' | 'DELETE', path: string[], query: string[] = []): Promise<Answer> {
      const messageId = nextMessageId++;
      const answer = new Promise<Answer>((resolve) => {
        const onMessage = (message: Buffer) => {
          const packet: ParsedPacket = parse(message);
          if (packet.messageId !== messageId) return;
          socket.off('message', onMessage);
          const location = packet.options
            .filter((option) => option.name === 'Location-Path')
            .map((option) => option.value.toString())
            .join('/');
          resolve({ code: packet.code, diagnostic: packet.payload.toString(), location });
        };
        socket.on('message', onMessage);
      });
      const options = [
        ...path.map((segment) => ({ name: 'Uri-Path', value: Buffer.from(segment) })),
        ...query.map((parameter) => ({ name: 'Uri-Query', value: Buffer.from(parameter) })),
      ];
      socket.send(
        generate({ messageId, code: method, confirmable: true, token: Buffer.from([messageId]), options }),
        gateway.port,
        '127.0.0.1',
      );
      return answer;
    },
  };
}

const register = (from: Awaited<ReturnType<typeof peer>>, endpoint: string) =>
  from.request('POST', ['rd'], [`ep=${endpoint}`, 'lt=300', 'b=U']);

describe('a device provisioned with a pre-shared key', () => {
  it('registers only in a session of its own PSK identity, and gets coaps:// package URIs', async () => {
    const pkg = { id: 'pkg-1', sha256: 'ab'.repeat(32) };
    expect(await register(await peer(), 'meter-psk')).toMatchObject({
      code: '4.03',
      diagnostic: 'the endpoint is provisioned with a pre-shared key: register over DTLS',
    });
    expect(await register(await peer('psk-identity-2'), 'meter-psk')).toMatchObject({
      code: '4.03',
      diagnostic: 'the endpoint name does not match the DTLS identity',
    });
    expect(gateway.commands.isRegistered('meter-psk')).toBe(false);

    expect(await register(await peer('psk-identity-1'), 'meter-psk')).toMatchObject({ code: '2.01' });
    expect(gateway.commands.isRegistered('meter-psk')).toBe(true);
    expect(gateway.commands.packageUri(pkg, 'meter-psk')).toMatch(
      /^coaps:\/\/dtls\.example\.test:5684\/fw\/pkg-1\//,
    );
  });

  it('keeps its registration from changes made outside its identity, and follows it to a new session', async () => {
    const first = await peer('psk-identity-1');
    const { location } = await register(first, 'meter-psk');
    const [rd, id] = location.split('/') as [string, string];
    expect(rd).toBe('rd');

    for (const intruder of [await peer(), await peer('psk-identity-2')]) {
      expect(await intruder.request('POST', ['rd', id])).toMatchObject({
        code: '4.03',
        diagnostic: 'the registration belongs to another DTLS identity',
      });
      expect(await intruder.request('DELETE', ['rd', id])).toMatchObject({ code: '4.03' });
    }
    expect(gateway.commands.isRegistered('meter-psk')).toBe(true);

    // After a new handshake, the device's Update comes through a new session of the same identity.
    const second = await peer('psk-identity-1');
    expect(await second.request('POST', ['rd', id])).toMatchObject({ code: '2.04' });
    expect(registry.locations.get('meter-psk')?.port).toBe(sockets.at(-1)?.address().port);
    expect(await second.request('DELETE', ['rd', id])).toMatchObject({ code: '2.02' });
    expect(gateway.commands.isRegistered('meter-psk')).toBe(false);
  });
});

describe('a device provisioned without security', () => {
  it('registers over plain CoAP only, and gets coap:// package URIs', async () => {
    expect(await register(await peer('psk-identity-1'), 'meter-plain')).toMatchObject({
      code: '4.03',
      diagnostic: 'the endpoint name does not match the DTLS identity',
    });
    expect(await register(await peer(), 'meter-plain')).toMatchObject({ code: '2.01' });
    expect(gateway.commands.packageUri({ id: 'pkg-2', sha256: 'cd'.repeat(32) }, 'meter-plain')).toMatch(
      new RegExp(`^coap://127\\.0\\.0\\.1:${gateway.port}/fw/pkg-2/`),
    );
  });

  it('is refused when plain CoAP is off, while DTLS sessions are served', async () => {
    await gateway.stop();
    await startGateway(false);
    expect(await register(await peer(), 'meter-plain')).toMatchObject({
      code: '4.03',
      diagnostic: 'this LwM2M server takes DTLS only',
    });
    expect(await register(await peer('psk-identity-1'), 'meter-psk')).toMatchObject({ code: '2.01' });
  });
});

describe('the DTLS session table', () => {
  it('names a session only for its loopback port while it is open', () => {
    const table = new DtlsSessionTable();
    table.open(40_001, 'meter-7');
    expect(table.identityAt({ address: '127.0.0.1', port: 40_001 })).toBe('meter-7');
    expect(table.identityAt({ address: '203.0.113.9', port: 40_001 })).toBeUndefined();
    table.close(40_001);
    expect(table.identityAt({ address: '127.0.0.1', port: 40_001 })).toBeUndefined();
  });
});
