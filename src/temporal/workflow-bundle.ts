/**
 * The workflow code the workers run, bundled (webpack) for the SDK's sandbox. A compiled build
 * (`npm run build`) bundles it once, beside the compiled code, and every start of that build loads it;
 * run from the TypeScript sources (`npm start`), it is bundled at each start from the sources.
 *
 * There are two bundles: with tracing on, the workflows run OpenTelemetry's workflow interceptors
 * (a span for the run, each activity, child workflow and signal, and the trace context carried in
 * their headers). With tracing off, the workflows run without them and pay nothing for them.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';

/** The interceptors the traced bundle adds to every workflow (also given to replay workers). */
export const WORKFLOW_TRACING_INTERCEPTORS = path.resolve(
  __dirname,
  `../tracing/workflow-interceptors${path.extname(__filename)}`,
);

/** Where `npm run build` puts each bundle: two levels above this file's build, in `dist/`. */
export function prebuiltWorkflowBundle(traced: boolean): string {
  return path.resolve(__dirname, traced ? '../../workflow-bundle-traced.js' : '../../workflow-bundle.js');
}

/** The workflows' entry beside this file, in whichever form runs (`.ts` from sources, `.js` built). */
const workflowsEntry = path.resolve(__dirname, `../../workflows/index${path.extname(__filename)}`);

async function bundle(traced: boolean): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: workflowsEntry,
    workflowInterceptorModules: traced ? [WORKFLOW_TRACING_INTERCEPTORS] : [],
  });
  return code;
}

export async function workflowBundle(options: { traced: boolean }): Promise<WorkflowBundleOption> {
  const prebuilt = prebuiltWorkflowBundle(options.traced);
  if (existsSync(prebuilt)) return { codePath: prebuilt };
  return { code: await bundle(options.traced) };
}

/** Bundles the workflows, with and without tracing, where a built otaflow looks for them. */
export async function writeWorkflowBundles(): Promise<string[]> {
  const files: string[] = [];
  for (const traced of [false, true]) {
    const file = prebuiltWorkflowBundle(traced);
    await writeFile(file, await bundle(traced));
    files.push(file);
  }
  return files;
}
