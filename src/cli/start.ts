import { ConfigError, loadConfig } from '../config';
import { logger } from '../logger';
import { type Platform, startPlatform } from '../platform';
import { runDemo } from './demo';

/** `npm start` (and `npm run demo`, which adds `--demo`): one otaflow process on embedded defaults. */
async function main(): Promise<void> {
  const demo = process.argv.includes('--demo');
  const config = loadConfig();
  const platform = await startPlatform(config);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping otaflow');
    await platform.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  printAddresses(platform, { mqtt: config.MQTT_PLAIN === 'off', lwm2m: config.LWM2M_PLAIN === 'off' });
  if (demo) await runDemo(platform);
}

/** `plainOff`: the plain listener serves only otaflow's own gateway (MQTT) or DTLS terminator (LwM2M). */
function printAddresses(
  { addresses, apiKeyFile }: Platform,
  plainOff: { mqtt: boolean; lwm2m: boolean },
): void {
  const rows: Array<[string, string | undefined]> = [
    ['Console (sign in with the API key)', addresses.api && `${addresses.api}/`],
    ['REST API', addresses.api],
    ['API key', apiKeyFile ? `in ${apiKeyFile}` : 'from OTAFLOW_API_KEY'],
    ['OpenAPI document', `${addresses.api}/openapi.json`],
    ['Temporal frontend', addresses.temporal],
    ['Temporal UI', addresses.temporalUi],
    ['MinIO', addresses.minio],
    ['MinIO console', addresses.minioConsole],
    [plainOff.mqtt ? "MQTT broker (otaflow's gateway only)" : 'MQTT broker', addresses.mqtt],
    ['MQTT broker (TLS)', addresses.mqttTls],
    ['Package downloads (HTTPS)', addresses.apiTls && `${addresses.apiTls}/ota/packages/…`],
    ['CA devices verify against', addresses.tlsCaFile],
    [
      plainOff.lwm2m ? "LwM2M server (CoAP, otaflow's DTLS terminator only)" : 'LwM2M server (CoAP)',
      addresses.lwm2m,
    ],
    ['LwM2M server (DTLS, pre-shared keys)', addresses.lwm2mDtls],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows
    .filter(([, value]) => value)
    .map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
  process.stdout.write(`\notaflow is running (Ctrl-C stops it)\n${lines.join('\n')}\n\n`);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`otaflow: ${error.message}\n`);
  } else {
    logger.fatal({ err: error }, 'otaflow failed to start');
  }
  process.exit(1);
});
