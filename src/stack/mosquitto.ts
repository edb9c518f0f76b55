import { execFile } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { otaflowCacheDir } from './binaries';
import { startChildServer, tcpProbe } from './child-process';
import { giveTo, serviceAccountFor } from './service-account';

export interface MqttAccount {
  username: string;
  password: string;
}

export interface MosquittoOptions {
  port: number;
  /** The gateway's account: reads and writes every device's `$oc/devices/+/sys/#` topics. */
  serviceAccount: MqttAccount;
  /** One per device; the username is the device ID, and a device may use only its own topics. */
  deviceAccounts?: MqttAccount[];
  /** An MQTT-over-TLS listener besides the plain one, as deploy/mosquitto/mosquitto.conf has. */
  tls?: { port: number; certFile: string; keyFile: string };
  startTimeoutMs?: number;
}

export interface MosquittoBroker {
  /** e.g. mqtt://127.0.0.1:1883 */
  url: string;
  /** e.g. mqtts://127.0.0.1:8883, with a TLS listener. */
  tlsUrl?: string;
  /**
   * Adds device accounts and has the broker reload its password file (SIGHUP), for fleets provisioned
   * after it started; resolves once the reload is logged.
   */
  addDeviceAccounts(accounts: MqttAccount[]): Promise<void>;
  /** Stops the broker and deletes its configuration (password file included). */
  stop(): Promise<void>;
}

const MOSQUITTO = '/usr/sbin/mosquitto';
const MOSQUITTO_PASSWD = 'mosquitto_passwd';
const IMPLICIT_SUBSCRIPTION_PLUGIN = 'otaflow_implicit_subscription.so';

/**
 * otaflow's Mosquitto plugin (deploy/mosquitto/implicit-subscription/) that delivers the seed
 * platform's downlink system topics to devices that never subscribe; scripts/provision.sh builds it.
 */
export function locateImplicitSubscriptionPlugin(env: NodeJS.ProcessEnv = process.env): string {
  const plugin =
    env.OTAFLOW_MOSQUITTO_PLUGIN ||
    path.join(otaflowCacheDir(env), 'mosquitto', IMPLICIT_SUBSCRIPTION_PLUGIN);
  if (!existsSync(plugin)) {
    throw new Error(
      `otaflow's Mosquitto plugin is not built (${plugin}): run \`npm run provision\`, or set OTAFLOW_MOSQUITTO_PLUGIN`,
    );
  }
  return plugin;
}

/**
 * Starts a Mosquitto broker on loopback with the access rules of a production deployment: no
 * anonymous clients, password accounts, an ACL that confines each device to its own topics, and
 * otaflow's implicit-subscription plugin.
 */
export async function startMosquitto(options: MosquittoOptions): Promise<MosquittoBroker> {
  if (!existsSync(MOSQUITTO)) {
    throw new Error(
      `Mosquitto is not installed (${MOSQUITTO}): run \`npm run provision\` (apt-get install mosquitto)`,
    );
  }
  const pluginSource = locateImplicitSubscriptionPlugin();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-mosquitto-'));
  try {
    // A copy beside the configuration: Mosquitto's own account may not read the cache in root's home.
    const plugin = path.join(dir, IMPLICIT_SUBSCRIPTION_PLUGIN);
    copyFileSync(pluginSource, plugin);
    const passwordFile = path.join(dir, 'passwd');
    const aclFile = path.join(dir, 'acl');
    const configFile = path.join(dir, 'mosquitto.conf');
    const accounts = [options.serviceAccount, ...(options.deviceAccounts ?? [])];
    for (const account of accounts) assertUsable(account);
    await writeHashedAccounts(passwordFile, accounts);
    writeFileSync(
      aclFile,
      [
        `user ${options.serviceAccount.username}`,
        'topic readwrite $oc/devices/+/sys/#',
        // Device presence and uplinks, as otaflow's plugin publishes them (src/mqtt/mosquitto-presence.ts,
        // src/mqtt/ota-protocol.ts).
        'topic read otaflow/presence/+',
        'topic read otaflow/uplinks/+',
        '',
        // %u is the connecting client's username, i.e. the device ID.
        'pattern readwrite $oc/devices/%u/sys/#',
        '',
      ].join('\n'),
    );
    const tlsListener: string[] = [];
    if (options.tls) {
      // Copies beside the configuration, for Mosquitto's own account.
      const certFile = path.join(dir, 'server.pem');
      const keyFile = path.join(dir, 'server-key.pem');
      copyFileSync(options.tls.certFile, certFile);
      copyFileSync(options.tls.keyFile, keyFile);
      tlsListener.push(
        `listener ${options.tls.port} 127.0.0.1`,
        `certfile ${certFile}`,
        `keyfile ${keyFile}`,
      );
    }
    writeFileSync(
      configFile,
      [
        'per_listener_settings false',
        `listener ${options.port} 127.0.0.1`,
        ...tlsListener,
        'allow_anonymous false',
        'max_packet_size 1048576',
        // As deploy/mosquitto/mosquitto.conf: a fleet dropping off at once queues one presence change
        // per device for the gateways, which the default bound of 1,000 per client would drop.
        'max_queued_messages 1000000',
        `password_file ${passwordFile}`,
        `acl_file ${aclFile}`,
        `plugin ${plugin}`,
        'persistence false',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'log_type notice',
        // Information too: a reload (SIGHUP) is logged at that level, and addDeviceAccounts waits for it.
        'log_type information',
        '',
      ].join('\n'),
    );
    // As root, Mosquitto would switch to its own account after reading the config; running it as that
    // account from the start keeps one set of file permissions that works either way.
    const account = serviceAccountFor('mosquitto');
    giveTo(dir, account);
    const server = await startChildServer({
      name: 'Mosquitto',
      command: MOSQUITTO,
      args: ['-c', configFile],
      logFile: path.join(dir, 'mosquitto.log'),
      isReady: tcpProbe('127.0.0.1', options.port),
      startTimeoutMs: options.startTimeoutMs ?? 15_000,
      runAs: account,
    });
    return {
      url: `mqtt://127.0.0.1:${options.port}`,
      tlsUrl: options.tls && `mqtts://127.0.0.1:${options.tls.port}`,
      async addDeviceAccounts(added) {
        for (const account of added) assertUsable(account);
        const addedFile = path.join(dir, 'passwd-added');
        await writeHashedAccounts(addedFile, added);
        appendFileSync(passwordFile, readFileSync(addedFile));
        rmSync(addedFile);
        const reloadsBefore = countReloads(server.logFile);
        server.signal('SIGHUP');
        for (let waited = 0; countReloads(server.logFile) === reloadsBefore; waited += 50) {
          if (waited > 10_000) throw new Error('Mosquitto did not reload its password file within 10 s');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Plain text first, hashed in place by mosquitto_passwd -U: passwords never appear on a command line. */
async function writeHashedAccounts(file: string, accounts: MqttAccount[]): Promise<void> {
  writeFileSync(file, accounts.map((a) => `${a.username}:${a.password}\n`).join(''), { mode: 0o600 });
  await promisify(execFile)(MOSQUITTO_PASSWD, ['-U', file]);
}

/** Mosquitto logs each SIGHUP it acts on ("Reloading config."). */
function countReloads(logFile: string): number {
  return readFileSync(logFile, 'utf8').split('Reloading config.').length - 1;
}

function assertUsable(account: MqttAccount): void {
  if (!/^[^\s:#+/]+$/.test(account.username)) {
    throw new Error(
      `MQTT username '${account.username}' must be non-empty without spaces, ':', '#', '+' or '/'`,
    );
  }
  if (/[\r\n]/.test(account.password) || account.password === '') {
    throw new Error(`the MQTT password of '${account.username}' must be non-empty and on one line`);
  }
}
