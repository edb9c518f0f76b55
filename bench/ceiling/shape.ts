/** How much Temporal work one device upgrade makes, counted from a real history; the ceiling repeats it. */
export interface UpgradeShape {
  /** Activity calls, including the ones after which the device answers with a signal. */
  activities: number;
  /** Signals the workflow receives (device answers). */
  signals: number;
  /** Timers (each wait for a device answer has its timeout). */
  timers: number;
  upserts: number;
}

export interface CeilingTaskInput {
  /** Set as the children's `OtaTaskId`, so their times are read from visibility as a real task's are. */
  taskId: string;
  children: number;
  /** Children in flight at once, at most, as a rollout task's `maxInProgress`. */
  maxInProgress: number;
  shape: UpgradeShape;
}

export const CEILING_TASK_QUEUE = 'otaflow-bench-ceiling';
export const ceilingAnswerSignalName = 'ceilingAnswer';
export const ceilingDeviceEndedSignalName = 'ceilingDeviceEnded';
