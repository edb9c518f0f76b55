import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { downloadPackage } from '../../../src/simulator/package-download';
import { type PackageServer, startPackageServer } from './package-server';

let server: PackageServer;

beforeAll(async () => {
  server = await startPackageServer();
});
beforeEach(() => {
  server.ranges.length = 0;
});
afterAll(async () => {
  await server.close();
});

function request() {
  return {
    url: server.url,
    accessToken: server.token,
    expectedSize: server.body.length,
    sha256: server.sha256,
  };
}

describe('downloadPackage', () => {
  it('downloads with the Bearer token and verifies the SHA-256', async () => {
    expect(await downloadPackage(request())).toEqual({
      ok: true,
      size: server.body.length,
      interruptions: 0,
    });
    expect(server.ranges).toEqual(['']);
  });

  it('resumes with a Range request after the connection drops, and the result still verifies', async () => {
    const resumedAt: number[] = [];
    const result = await downloadPackage({
      ...request(),
      dropConnectionOnceAt: 10_000,
      onResume: (offset) => resumedAt.push(offset),
    });
    expect(result).toEqual({ ok: true, size: server.body.length, interruptions: 1 });
    expect(resumedAt).toEqual([10_000]);
    expect(server.ranges).toEqual(['', 'bytes=10000-']);
  });

  it('reads no faster than bytesPerSecond, as over a slow radio link', async () => {
    const bytesPerSecond = server.body.length * 2;
    const started = performance.now();
    const result = await downloadPackage({ ...request(), bytesPerSecond });
    expect(result).toEqual({ ok: true, size: server.body.length, interruptions: 0 });
    // Each chunk is followed by the pause its size takes at that rate: half a second in all.
    expect(performance.now() - started).toBeGreaterThanOrEqual(450);
  });

  it('detects a corrupted download with result code 7', async () => {
    const result = await downloadPackage({ ...request(), corrupt: true });
    expect(result).toMatchObject({ ok: false, resultCode: 7 });
  });

  it('detects a package whose digest is not the announced sign', async () => {
    const result = await downloadPackage({ ...request(), sha256: '0'.repeat(64) });
    expect(result).toMatchObject({ ok: false, resultCode: 7 });
  });

  it('fails with result code 6 when the server refuses the token', async () => {
    const result = await downloadPackage({ ...request(), accessToken: 'wrong' });
    expect(result).toEqual({ ok: false, resultCode: 6, description: 'download refused: HTTP 401' });
    expect(server.ranges).toEqual([]);
  });

  it('gives up with result code 6 when the server cannot be reached', async () => {
    const result = await downloadPackage({ ...request(), url: 'http://127.0.0.1:1/pkg.bin', maxResumes: 1 });
    expect(result).toMatchObject({ ok: false, resultCode: 6 });
  });
});
