import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralRangeStart, freePorts, readEphemeralRangeFile } from '../../../src/stack/free-port';

describe('freePorts', () => {
  it('gives distinct ports below the ephemeral range, each of which a server can then bind', async () => {
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralRangeStart(readEphemeralRangeFile()));
    }
    const servers = await Promise.all(ports.map(listen));
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });
});

describe('ephemeralRangeStart', () => {
  it('reads the first number of ip_local_port_range', () => {
    expect(ephemeralRangeStart('49152\t65535\n')).toBe(49_152);
  });

  it('falls back to the Linux default when the range cannot be read', () => {
    expect(ephemeralRangeStart(undefined)).toBe(32_768);
    expect(ephemeralRangeStart('garbage')).toBe(32_768);
  });
});

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
