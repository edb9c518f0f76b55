import dgram from 'node:dgram';
import { dtls } from 'node-dtls-client';
import { DtlsSessionTable } from './src/lwm2m/dtls/dtls-session-table';
import { startDtlsTerminator } from './src/lwm2m/dtls/dtls-terminator';
import { logger } from './src/logger';
import { requireBinary } from './src/stack/binaries';

async function main() {
  const echo = dgram.createSocket('udp4');
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
  echo.on('message', (m, from) => echo.send(Buffer.concat([Buffer.from('echo:'), m]), from.port, from.address));
  const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const t = await startDtlsTerminator({
    binary: requireBinary('dtls-terminator', 'x'), host: '127.0.0.1', port: 0,
    gateway: { address: '127.0.0.1', port: echo.address().port }, sessions: new DtlsSessionTable(),
    lookupKey: async (id) => (id === 'dev-1' ? key : undefined), log: logger,
  });
  const started = Date.now();
  const socket = dtls.createSocket({ type: 'udp4', address: '127.0.0.1', port: t.port, psk: { 'dev-1': key.toString('latin1') }, timeout: 5000, ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'] } as never);
  socket.on('connected', () => { console.log('connected in', Date.now() - started, 'ms'); socket.send(Buffer.from('hello'), () => {}); });
  socket.on('message', async (m: Buffer) => { console.log('got', m.toString()); socket.close(); await t.stop(); echo.close(); });
  socket.on('error', (e: Error) => console.log('error', e.message));
}
main();
