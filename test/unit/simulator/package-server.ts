import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PackageServer {
  url: string;
  token: string;
  body: Buffer;
  sha256: string;
  /** The Range header of each request that carried a valid token ('' when none). */
  ranges: string[];
  close(): Promise<void>;
}

/** Serves one package at /pkg.bin to requests bearing the token, honouring `Range: bytes=N-`. */
export async function startPackageServer(size = 64 * 1024): Promise<PackageServer> {
  const body = randomBytes(size);
  const token = randomBytes(8).toString('hex');
  const ranges: string[] = [];
  const server = http.createServer((req, res) => {
    if (req.url !== '/pkg.bin') {
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401).end();
      return;
    }
    const range = req.headers.range ?? '';
    ranges.push(range);
    const match = /^bytes=(\d+)-$/.exec(range);
    const start = match ? Number(match[1]) : 0;
    if (match) {
      res.writeHead(206, {
        'Content-Length': body.length - start,
        'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    } else {
      res.writeHead(200, { 'Content-Length': body.length });
    }
    res.end(body.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/pkg.bin`,
    token,
    body,
    sha256: createHash('sha256').update(body).digest('hex'),
    ranges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
