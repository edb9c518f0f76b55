/**
 * Interoperability with a client otaflow did not write: Eclipse Leshan 1.5 (Maven Central)
 * registers, answers reads (with the Accept otaflow sends), a write and an execute, and deregisters;
 * otaflow decodes what Leshan's encoder writes in every format it offers. Needs Java and the
 * client that scripts/provision.sh builds (`npm test` runs it first) into the otaflow cache, or
 * OTAFLOW_LESHAN_DIR pointing at one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, expect, it } from 'vitest';
import { decodeContent } from '../../../src/lwm2m/content-formats';
import { type Lwm2mGateway, startLwm2mGateway } from '../../../src/lwm2m/gateway';
import { javaClientClasspath } from '../../support/java-clients';
import { silentLogger } from '../api/fakes';
import { eventually, FakeLwm2mRegistry, InMemoryPackages, RecordingLwm2mSink } from './fakes';

let gateway: Lwm2mGateway | undefined;
let client: ChildProcess | undefined;

afterAll(async () => {
  client?.kill();
  await gateway?.stop();
});

it('a Leshan client registers, answers reads and a write, and deregisters', async () => {
  const classpath = javaClientClasspath('leshan-client');
  const registry = new FakeLwm2mRegistry();
  registry.protocols.set('leshan-1', 'lwm2m');
  const sink = new RecordingLwm2mSink();
  const started = await startLwm2mGateway({
    host: '127.0.0.1',
    port: 0,
    gatewayId: 'interop',
    registry,
    sink,
    packages: new InMemoryPackages(),
    log: silentLogger,
  });
  gateway = started;
  client = spawn(
    'java',
    ['-cp', classpath, 'InteropClient', 'leshan-1', `coap://127.0.0.1:${started.port}`, '4000'],
    { stdio: 'ignore' },
  );
  await eventually(() => expect(started.commands.isRegistered('leshan-1')).toBe(true), 15_000);
  expect(registry.locations.get('leshan-1')).toMatchObject({ lifetimeSeconds: 30, queueMode: false });

  started.commands.read('leshan-1', ['/3/0/3', '/3/0']);
  await eventually(() =>
    expect(sink.reported('leshan-1')).toMatchObject({
      '/3/0/3': '1.2.3',
      '/3/0/0': 'Eclipse Leshan',
      '/3/0/1': 'interop',
      '/3/0/16': 'U',
    }),
  );
  started.commands.write('leshan-1', '/3/0/14', '+01:00');
  await new Promise((resolve) => setTimeout(resolve, 200));
  started.commands.read('leshan-1', ['/3/0/14']);
  await eventually(() => expect(sink.reported('leshan-1')['/3/0/14']).toBe('+01:00'));
  expect(sink.failures('leshan-1')).toEqual([]);

  await eventually(() => expect(registry.online.get('leshan-1')).toBe(false), 10_000);
}, 30_000);

it("decodes what Leshan's own encoder writes, in every content format it offers (text, TLV, LwM2M JSON)", async () => {
  const encoder = spawn(
    'java',
    [
      '-cp',
      javaClientClasspath('leshan-client'),
      'InteropClient',
      'leshan-encoder',
      // Nothing listens there: the client only prints its encodings, then gives up registering.
      'coap://127.0.0.1:9',
      '500',
      '--print-encodings',
      'true',
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const lines: string[] = [];
  createInterface({ input: encoder.stdout }).on('line', (line) => lines.push(line));
  await new Promise((resolve) => encoder.once('exit', resolve));

  const decoded = lines
    .filter((line) => line.startsWith('ENCODED '))
    .map((line) => {
      const [, path = '', format = '', payload = ''] = line.split(' ');
      return {
        path,
        format: Number(format),
        values: decodeContent(Number(format), Buffer.from(payload, 'base64'), path),
      };
    });
  expect(decoded.map(({ path, format }) => `${path} ${format}`)).toEqual([
    '/3/0/3 0',
    '/3/0/3 11542',
    '/3/0/3 11543',
    '/3/0 11542',
    '/3/0 11543',
    '/4/0 11542',
    '/4/0 11543',
  ]);
  const expected: Record<string, Record<string, unknown>> = {
    '/3/0/3': { '/3/0/3': '1.2.3' },
    '/3/0': { '/3/0/0': 'Eclipse Leshan', '/3/0/1': 'interop', '/3/0/3': '1.2.3', '/3/0/16': 'U' },
    '/4/0': { '/4/0/2': -85, '/4/0/8': 101, '/4/0/11': 12 },
  };
  for (const { path, values } of decoded) expect(values).toMatchObject(expected[path] ?? {});
}, 30_000);
