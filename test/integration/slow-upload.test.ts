import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenApi } from '../../src/api/http-server';
import { startTestApi } from '../unit/api/test-api';

/**
 * A package upload over a slow link: Node's default 300 s per request cut every upload of 2 GiB slower
 * than ~57 Mbit/s. This one takes over six minutes, a chunk every 10 s.
 */

const UPLOAD_MS = 6 * 60 * 1000 + 10_000;
const CHUNK_EVERY_MS = 10_000;

let api: Awaited<ReturnType<typeof startTestApi>>;
let server: http.Server;

beforeAll(async () => {
  api = await startTestApi();
  server = await listenApi(api.app, '127.0.0.1', 0, 2 * 1024 ** 3);
}, 60_000);
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await api?.dispose();
});

function slowUpload(): Promise<{ status: number; body: string; fileBytes: number }> {
  const boundary = 'otaflow-slow-upload';
  const field = (name: string, value: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const head =
    field('name', 'slow firmware') +
    field('version', '9.9.9') +
    field('kind', 'firmware') +
    field('product', 'meter') +
    field('model', 'slow') +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.bin"\r\n` +
    'Content-Type: application/octet-stream\r\n\r\n';
  const tail = `\r\n--${boundary}--\r\n`;
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/packages',
      headers: { ...api.auth, 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fileBytes }));
    });
    req.on('error', reject);
    req.write(head);
    const started = Date.now();
    let fileBytes = 0;
    const timer = setInterval(() => {
      req.write(Buffer.alloc(1024, 0x5a));
      fileBytes += 1024;
      if (Date.now() - started >= UPLOAD_MS) {
        clearInterval(timer);
        req.end(tail);
      }
    }, CHUNK_EVERY_MS);
  });
}

describe('a package upload', () => {
  it(
    'succeeds when it takes over six minutes',
    async () => {
      const started = Date.now();
      const { status, body, fileBytes } = await slowUpload();
      expect(Date.now() - started).toBeGreaterThan(6 * 60 * 1000);
      expect(status, body).toBe(201);
      expect(JSON.parse(body)).toMatchObject({ version: '9.9.9', size: fileBytes });
    },
    UPLOAD_MS + 60_000,
  );
});
