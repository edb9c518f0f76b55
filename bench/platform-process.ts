/**
 * otaflow as `npm start` runs it (startPlatform: workers, MQTT gateway, embedded aedes broker, API,
 * PGlite unless DATABASE_URL is set), in a process of its own so that its memory is measured alone.
 * Configured by the environment; talks to the benchmark over IPC:
 *   → { type: 'ready', api, mqtt, lwm2m, lwm2mDtls, workflowCacheSize }   once started
 *   ← 'rss'  → { type: 'rss', peakMb, currentMb, heapUsedMb, heapTotalMb, externalMb, arrayBuffersMb }
 *              RSS sampled every 200 ms since the last reset; the rest as of now, after a full
 *              garbage collection of the main thread (started with --expose-gc), so that garbage not
 *              yet collected does not pass for growth. The workflows run in a worker thread whose heap
 *              is in the RSS but not in the main thread's heap figures.
 *   ← 'reset-rss', 'stop'
 */
import { loadConfig } from '../src/config';
import { startPlatform } from '../src/platform';

const SAMPLE_MS = 200;
const toMb = (bytes: number) => bytes / (1024 * 1024);

async function main(): Promise<void> {
  const config = loadConfig();
  const platform = await startPlatform(config);
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, SAMPLE_MS);
  const stop = async () => {
    clearInterval(sampler);
    await platform.stop();
    process.exit(0);
  };
  // The benchmark gone (killed, crashed) means nobody will ever send `stop`.
  process.on('disconnect', () => void stop());
  process.on('message', async (message) => {
    if (message === 'rss') {
      (globalThis as { gc?: () => void }).gc?.();
      const usage = process.memoryUsage();
      peak = Math.max(peak, usage.rss);
      process.send?.({
        type: 'rss',
        peakMb: toMb(peak),
        currentMb: toMb(usage.rss),
        heapUsedMb: toMb(usage.heapUsed),
        heapTotalMb: toMb(usage.heapTotal),
        externalMb: toMb(usage.external),
        arrayBuffersMb: toMb(usage.arrayBuffers),
      });
    } else if (message === 'reset-rss') {
      peak = process.memoryUsage().rss;
    } else if (message === 'stop') {
      await stop();
    }
  });
  process.send?.({
    type: 'ready',
    api: platform.addresses.api,
    mqtt: platform.addresses.mqtt,
    mqttTls: platform.addresses.mqttTls,
    tlsCaFile: platform.addresses.tlsCaFile,
    lwm2m: platform.addresses.lwm2m,
    lwm2mDtls: platform.addresses.lwm2mDtls,
    workflowCacheSize: config.OTAFLOW_WORKFLOW_CACHE_SIZE,
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
