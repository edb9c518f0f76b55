import { writeWorkflowBundle } from '../temporal/workflow-bundle';

/** The last step of `npm run build`: the workflow bundle, made once so that no start of the build makes it. */
writeWorkflowBundle().then(
  (file) => process.stdout.write(`workflow bundle written to ${file}\n`),
  (error: unknown) => {
    process.stderr.write(`otaflow: cannot bundle the workflows: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
