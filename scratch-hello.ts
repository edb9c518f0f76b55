import dgram from 'node:dgram';
import { dtls } from 'node-dtls-client';
const s = dgram.createSocket('udp4');
s.bind(0, '127.0.0.1', () => {
  s.on('message', (m) => { console.log(m.toString('hex')); process.exit(0); });
  dtls.createSocket({ type: 'udp4', address: '127.0.0.1', port: s.address().port, psk: { 'dev-1': 'x' }, timeout: 5000, ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'] } as never).on('error', () => {});
});
