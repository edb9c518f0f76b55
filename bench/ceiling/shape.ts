/** How much Temporal work one device upgrade makes, counted from a real history; the ceiling repeats it. */
export interface UpgradeShape {
  /** Activity calls, including the ones after which the device answers with a signal. */
  activities: number;
  /** Signals the workflow receives (device answers). */
  signals: number;
  /**
   * Timers per upgrade, the mean (to 0.01): a wait for a device's answer starts its timeout timer only
   * when the answer has not come yet; the ceiling's children share them out (`timersOfChild`).
   */
  timers: number;
  upserts: number;
  /**
   * The LwM2M flows' cell permit: a request (a local activity signal-with-start of the cell's
   * workflow), the grant (a signal from that workflow, one of `signals`) and the release (a local
   * activity signal). The ceiling's cell workflow grants every request at once.
   */
  permit: boolean;
}

export interface CeilingTaskInput {
  /** Set as the children's `OtaTaskId`, so their times are read from visibility as a real task's are. */
  taskId: string;
  children: number;
  /** Children in flight at once, at most, as a rollout task's `maxInProgress`. */
  maxInProgress: number;
  shape: UpgradeShape;
  /** Cells the children spread over, in turn, when the shape has a permit (as the LwM2M scenario's). */
  cells: number;
  /** Events after which the task continues as new (`HISTORY_EVENTS_BEFORE_CONTINUE_AS_NEW`); tests lower it. */
  historyEventLimit?: number;
  /** Carried over continue-as-new: children started so far, and the workflow IDs of those in flight. */
  started?: number;
  inFlight?: string[];
}

export const CEILING_TASK_QUEUE = 'otaflow-bench-ceiling';
export const ceilingAnswerSignalName = 'ceilingAnswer';
export const ceilingDeviceEndedSignalName = 'ceilingDeviceEnded';
export const ceilingPermitRequestSignalName = 'ceilingPermitRequest';
export const ceilingPermitReleaseSignalName = 'ceilingPermitRelease';
export const ceilingPermitGrantedSignalName = 'ceilingPermitGranted';

export function ceilingCellWorkflowId(cellId: string): string {
  return `ceiling-cell:${cellId}`;
}

/**
 * The timers the child at `index` starts, so that the first N children start N × `meanTimers` in all
 * (give or take one): a real upgrade starts a timer only when its device has not answered yet.
 */
export function timersOfChild(meanTimers: number, index: number): number {
  const hundredths = Math.round(meanTimers * 100);
  return Math.floor(((index + 1) * hundredths) / 100) - Math.floor((index * hundredths) / 100);
}
