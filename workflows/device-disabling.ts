/**
 * A device disabled through the API while its upgrade runs: the API signals `deviceDisabled` and then
 * cancels the upgrade, which ends `cancelled` with the cause "Device disabled" instead of "Cancelled".
 */
import { setHandler } from '@temporalio/workflow';
import { deviceDisabledSignal } from './definitions';
import { OtaflowCause } from './failure-causes';

export interface DeviceDisabling {
  /** The cause of this upgrade's cancellation. */
  cancellationCause(): typeof OtaflowCause.cancelled | typeof OtaflowCause.deviceDisabled;
}

export function listenForDisabling(): DeviceDisabling {
  let disabled = false;
  setHandler(deviceDisabledSignal, () => {
    disabled = true;
  });
  return { cancellationCause: () => (disabled ? OtaflowCause.deviceDisabled : OtaflowCause.cancelled) };
}
