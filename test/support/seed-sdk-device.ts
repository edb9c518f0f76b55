import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { otaflowCacheDir } from '../../src/stack/binaries';

/** Keep in step with PAHO_MQTT_VERSION in scripts/provision.sh, which builds the environment. */
const PAHO_MQTT_VERSION = '2.1.0';
const SCRIPT = path.join(__dirname, '..', 'interop', 'seed-sdk-device', 'seed_sdk_device.py');

export interface SeedSdkDevice {
  /** What the device printed so far, one entry per line. */
  lines: string[];
  process: ChildProcess;
}

/**
 * Runs test/interop/seed-sdk-device/seed_sdk_device.py (Eclipse Paho's Python client) in the virtual
 * environment scripts/provision.sh creates. `hour` makes it sign with that hour and sign type 0;
 * `caFile` puts it on TLS (an `mqtts:` broker URL) and HTTPS, verifying the server against that CA;
 * `resume` makes it fetch its package in two Range requests.
 */
export function startSeedSdkDevice(options: {
  brokerUrl: string;
  deviceId: string;
  secret: string;
  version: string;
  runSeconds: number;
  hour?: string;
  caFile?: string;
  resume?: boolean;
}): SeedSdkDevice {
  const python = path.join(otaflowCacheDir(), 'python', `paho-mqtt-${PAHO_MQTT_VERSION}`, 'bin', 'python');
  if (!existsSync(python))
    throw new Error(`paho-mqtt is not installed in ${python}: run \`npm run provision\``);
  const broker = new URL(options.brokerUrl);
  const args = [
    SCRIPT,
    ...(options.caFile ? ['--ca', options.caFile] : []),
    ...(options.resume ? ['--resume'] : []),
    broker.hostname,
    broker.port,
    options.deviceId,
    options.secret,
    options.version,
    String(options.runSeconds),
    ...(options.hour ? [options.hour] : []),
  ];
  const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  return { lines, process: child };
}
