import { readFileSync } from 'node:fs';
import net from 'node:net';

/**
 * Ports are picked below the kernel's ephemeral range: a port from that range, free when checked,
 * can become the source port of any outgoing connection before the server that was given it binds
 * it (a CI run lost MinIO to "port is already in use" that way).
 */
const LOWEST_PICKED_PORT = 10_000;
const EPHEMERAL_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';
const LINUX_DEFAULT_EPHEMERAL_START = 32_768;
const ATTEMPTS_PER_PORT = 200;

/**
 * Free loopback TCP ports. All are held open until every one is found, so one call never returns
 * the same port twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnPickedPort());
    return servers.map((server) => (server.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port found');
  return port;
}

/** The first port the kernel may hand to an outgoing connection, from ip_local_port_range's text. */
export function ephemeralRangeStart(rangeFileText: string | undefined): number {
  const start = Number(rangeFileText?.trim().split(/\s+/)[0]);
  return Number.isInteger(start) && start > 0 ? start : LINUX_DEFAULT_EPHEMERAL_START;
}

async function listenOnPickedPort(): Promise<net.Server> {
  const end = ephemeralRangeStart(readEphemeralRangeFile());
  if (end <= LOWEST_PICKED_PORT) return listenOn(0);
  for (let attempt = 0; attempt < ATTEMPTS_PER_PORT; attempt++) {
    const port = LOWEST_PICKED_PORT + Math.floor(Math.random() * (end - LOWEST_PICKED_PORT));
    try {
      return await listenOn(port);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
  throw new Error(`no free port found in ${LOWEST_PICKED_PORT}–${end - 1} after ${ATTEMPTS_PER_PORT} tries`);
}

function listenOn(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

export function readEphemeralRangeFile(): string | undefined {
  try {
    return readFileSync(EPHEMERAL_RANGE_FILE, 'utf8');
  } catch {
    return undefined;
  }
}
