import dgram from 'node:dgram';
import type { ObserveReadStream } from 'coap';
import { generate, type ParsedPacket, parse } from 'coap-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { EndpointAgent } from '../../../src/lwm2m/endpoint-agent';

const sockets: dgram.Socket[] = [];
const agents: EndpointAgent[] = [];
afterEach(() => {
  for (const agent of agents.splice(0)) agent.close();
  for (const socket of sockets.splice(0)) socket.close();
});

async function boundSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  sockets.push(socket);
  return socket;
}

/** A device made of a raw UDP socket, so the test chooses every message ID it sends. */
async function rawDevice(gateway: dgram.Socket) {
  const socket = await boundSocket();
  const received: ParsedPacket[] = [];
  socket.on('message', (message) => received.push(parse(message)));
  return {
    port: socket.address().port,
    received,
    send: (packet: Parameters<typeof generate>[0]) =>
      socket.send(generate(packet), gateway.address().port, '127.0.0.1'),
  };
}

async function gatewayWithPendingRequest() {
  const socket = await boundSocket();
  const agent = new EndpointAgent({ socket });
  agents.push(agent);
  const silent = await rawDevice(socket);
  const request = agent.request({ hostname: '127.0.0.1', port: silent.port, pathname: '/3/0/0' });
  request.on('error', () => undefined);
  request.end();
  await expect.poll(() => silent.received.length).toBe(1);
  return { socket, agent, silent, pendingId: silent.received[0]?.messageId ?? -1 };
}

const observeOption = (sequence: number) => [{ name: 'Observe', value: Buffer.from([sequence]) }];

describe('EndpointAgent: message IDs are matched per endpoint (RFC 7252 §4.4)', () => {
  it("delivers a device's notification whose message ID equals a pending request to another device", async () => {
    const { socket, agent, pendingId } = await gatewayWithPendingRequest();
    const observed = await rawDevice(socket);
    const observe = agent.request({
      hostname: '127.0.0.1',
      port: observed.port,
      pathname: '/5/0/5',
      observe: true,
    });
    const stream = new Promise<ObserveReadStream>((resolve) => observe.on('response', resolve));
    observe.end();
    await expect.poll(() => observed.received.length).toBe(1);
    const { messageId, token } = observed.received[0] as ParsedPacket;
    observed.send({
      code: '2.05',
      ack: true,
      messageId,
      token,
      options: observeOption(1),
      payload: Buffer.from('0'),
    });
    const notifications: string[] = [];
    (await stream).on('data', (payload: Buffer) => notifications.push(payload.toString()));

    observed.send({
      code: '2.05',
      confirmable: true,
      messageId: pendingId,
      token,
      options: observeOption(2),
      payload: Buffer.from('1'),
    });

    await expect.poll(() => notifications).toEqual(['0', '1']);
    const acknowledged = () =>
      observed.received.some((packet) => packet.ack && packet.messageId === pendingId);
    await expect.poll(acknowledged).toBe(true);
  });

  it("does not take another device's ACK for the pending request: it is still retransmitted", async () => {
    const { socket, silent, pendingId } = await gatewayWithPendingRequest();
    const other = await rawDevice(socket);

    other.send({ code: '0.00', ack: true, messageId: pendingId });

    // The first retransmission comes after ACK_TIMEOUT × (1 … 1.5), 2–3 s.
    await expect.poll(() => silent.received.length, { timeout: 5_000 }).toBe(2);
    expect(silent.received[1]?.messageId).toBe(pendingId);
  });
});
