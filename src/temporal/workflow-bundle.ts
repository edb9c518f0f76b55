/**
 * The workflow code the workers run, bundled (webpack) for the SDK's sandbox. A compiled build
 * (`npm run build`) bundles it once, beside the compiled code, and every start of that build loads it;
 * run from the TypeScript sources (`npm start`), it is bundled at each start from the sources.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';

/** Where `npm run build` puts the bundle: `dist/workflow-bundle.js`, two levels above this file's build. */
export const PREBUILT_WORKFLOW_BUNDLE = path.resolve(__dirname, '../../workflow-bundle.js');

/** The workflows' entry beside this file, in whichever form runs (`.ts` from sources, `.js` built). */
const workflowsEntry = path.resolve(__dirname, `../../workflows/index${path.extname(__filename)}`);

export async function workflowBundle(): Promise<WorkflowBundleOption> {
  if (existsSync(PREBUILT_WORKFLOW_BUNDLE)) return { codePath: PREBUILT_WORKFLOW_BUNDLE };
  return bundleWorkflowCode({ workflowsPath: workflowsEntry });
}

/** Bundles the workflows and writes the bundle where a built otaflow looks for it. */
export async function writeWorkflowBundle(): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: workflowsEntry });
  await writeFile(PREBUILT_WORKFLOW_BUNDLE, code);
  return PREBUILT_WORKFLOW_BUNDLE;
}
