/**
 * The sliding window of `rolloutTask` past its start batch (100), on a server of its own: the devices
 * here never answer, and time must not be skipped while the window is looked at.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deviceOperationWorkflowId } from '../../workflows/definitions';
import { rolloutStatusQuery } from '../../workflows/rollout/definitions';
import type { rolloutTask } from '../../workflows/rollout/rollout-task';
import { hangs, RolloutHarness } from './rollout-harness';
import { lockedClient } from './server-time';

const harness = new RolloutHarness();

beforeAll(() => harness.start());
afterAll(() => harness.stop());

it('fills the window beyond one start batch while no device has answered yet', async () => {
  const devices = await harness.addDevices(120, hangs);
  const started = await harness.startTask(devices, { maxInProgress: 110 });
  const task = lockedClient(harness.env).workflow.getHandle<typeof rolloutTask>(started.workflowId);

  await harness.until(
    async () => (await task.query(rolloutStatusQuery)).inProgress === 110,
    '110 devices in progress',
  );

  expect(await task.query(rolloutStatusQuery)).toMatchObject({ started: 110, inProgress: 110 });
  await task.terminate('the window is what this test checks');
  await Promise.all(
    devices.map(
      (id) =>
        harness.client.workflow
          .getHandle(deviceOperationWorkflowId(id))
          .terminate('clean up')
          .catch(() => undefined), // the ten never started
    ),
  );
});
