/**
 * A device upgrade reduced to its cell permit: it asks for, holds and gives back a permit with the
 * LwM2M flows' own code (`CellPermit` as the flows use it: the `requestCellPermit` and
 * `releaseCellPermit` local activities, the `permitGranted` signal), so the real `cellLimiter` on
 * otaflow's worker sees what it sees in production. The hold stands for the download and update the
 * real flow does meanwhile.
 */
import { condition, setHandler, sleep } from '@temporalio/workflow';
import { CellPermit } from '../../workflows/lwm2m/cell-permit';
import { Lwm2mDevice } from '../../workflows/lwm2m/device';
import { listenToLwm2mDevice } from '../../workflows/lwm2m/device-reports';
import { type LimiterRequesterInput, releaseHoldSignal } from './shape';

export async function limiterRequester(input: LimiterRequesterInput): Promise<void> {
  let holdReleased = false;
  // Set before the request: the bench may release a blocker as soon as the limiter lists it as a holder.
  setHandler(releaseHoldSignal, () => {
    holdReleased = true;
  });
  const permit = new CellPermit(new Lwm2mDevice(input.deviceId, listenToLwm2mDevice()));
  await permit.acquire({ cellId: input.cellId, permits: input.limit });
  if (input.holdUntilReleased) {
    await condition(() => holdReleased);
  } else {
    await sleep(input.holdMs);
  }
  await permit.release();
}
