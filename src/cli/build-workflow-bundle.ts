import { writeWorkflowBundles } from '../temporal/workflow-bundle';

/** The last step of `npm run build`: the workflow bundles, made once so that no start of the build makes them. */
writeWorkflowBundles().then(
  (files) => process.stdout.write(`workflow bundles written to ${files.join(', ')}\n`),
  (error: unknown) => {
    process.stderr.write(`otaflow: cannot bundle the workflows: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
