/**
 * otaflow in a process of its own, as `npm start` runs it, configured by the environment, so a test
 * can crash it for real (SIGKILL) and start another one on the same stack. Talks over IPC:
 *   → { type: 'ready', addresses }   once started (PlatformAddresses: what its roles serve)
 *   ← 'stop'                   stops gracefully and exits
 */
import { loadConfig } from '../../src/config';
import { startPlatform } from '../../src/platform';

async function main(): Promise<void> {
  const platform = await startPlatform(loadConfig());
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await platform.stop();
    process.exit(0);
  };
  // The test gone (killed, crashed) means nobody will ever send `stop`.
  process.on('disconnect', () => void stop());
  process.on('message', (message) => {
    if (message === 'stop') void stop();
  });
  process.send?.({ type: 'ready', addresses: platform.addresses });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
