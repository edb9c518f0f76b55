/** The upgrade's permit in its radio cell, from that cell's limiter workflow. */
import { condition, log, workflowInfo } from '@temporalio/workflow';
import type { Lwm2mDevice } from './device';
import { cleanup, platform } from './platform-calls';
import type { CellAssignment } from './radio-query';

/**
 * The upgrade's permit in its cell. `acquire` waits as long as the cell needs (the seed sets no
 * limit; cancelling the upgrade ends the wait); `release` is safe to call in any state, and the
 * flows call it whatever the ending.
 */
export class CellPermit {
  private requestedIn?: string;

  constructor(private readonly device: Lwm2mDevice) {}

  async acquire(cell: CellAssignment): Promise<void> {
    this.requestedIn = cell.cellId;
    await platform.requestCellPermit(cell.cellId, {
      requesterWorkflowId: workflowInfo().workflowId,
      deviceId: this.device.deviceId,
      limit: cell.permits,
    });
    await condition(() => this.device.reports.grantedCells.has(cell.cellId));
  }

  /** A local activity of the last workflow task: one marker action, shared with the result's notification. */
  async release(): Promise<void> {
    if (this.requestedIn === undefined) return;
    try {
      await cleanup.releaseCellPermit(this.requestedIn, { requesterWorkflowId: workflowInfo().workflowId });
    } catch (err) {
      // The limiter's holder check frees the permits of upgrades that ended without releasing them.
      log.warn('Could not release the cell permit', { cellId: this.requestedIn, err });
    }
  }
}
