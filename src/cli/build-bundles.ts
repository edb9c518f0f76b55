import { writeConsoleAssets } from '../console/console-bundle';
import { writeWorkflowBundles } from '../temporal/workflow-bundle';

/** The last step of `npm run build`: the workflow bundles and the console, made once so that no start of the build makes them. */
async function buildBundles(): Promise<void> {
  const files = await writeWorkflowBundles();
  process.stdout.write(`workflow bundles written to ${files.join(', ')}\n`);
  process.stdout.write(`console written to ${await writeConsoleAssets()}\n`);
}

buildBundles().catch((error: unknown) => {
  process.stderr.write(`otaflow: cannot build the bundles: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
