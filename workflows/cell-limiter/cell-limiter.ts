/**
 * One workflow per radio cell (`cellLimiterWorkflowId(cellId)`), started on demand by the first
 * permit request (signal-with-start), that grants concurrency permits to the cell's device upgrades.
 * The decisions are the pure functions of ./cell-permits; this workflow keeps the book, tells
 * requesters they may go, reclaims permits of requesters that died, and keeps its history bounded.
 * docs/cell-limiter.md states the invariants and how each is kept.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { Lwm2mPlatformActivities } from '../../activities/interfaces';
import { TaskQueue } from '../definitions';
import { historyIsLong } from '../history-length';
import {
  type CellLimiterState,
  cellLimiterStateQuery,
  type PermitRequest,
  permitGrantedSignal,
  releasePermitSignal,
  requestPermitSignal,
} from '../lwm2m/definitions';
import {
  enqueue,
  grantFromQueue,
  isHolder,
  isValidPermitRequest,
  type PermitBook,
  withdraw,
} from './permit-book';

export interface CellLimiterInput extends CellLimiterState {
  /** Continue as new once the history holds this many events (default 2,000; tests force a low one). */
  historyEventLimit?: number;
}

/** How often holders are checked for having ended without releasing (terminated, timed out, lost). */
export const HOLDER_CHECK_INTERVAL_MS = 60_000;
/** A limiter with no holders and no queue for this long ends; the next request starts a new one. */
export const IDLE_EXIT_AFTER_MS = 10 * 60_000;
const DEFAULT_HISTORY_EVENT_LIMIT = 2_000;

const platform = proxyActivities<Lwm2mPlatformActivities>({
  taskQueue: TaskQueue.platform,
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function cellLimiter(input: CellLimiterInput): Promise<void> {
  const { cellId } = input;
  const historyEventLimit = input.historyEventLimit ?? DEFAULT_HISTORY_EVENT_LIMIT;
  let book: PermitBook = { holders: input.holders, queue: input.queue };
  /** Holders that asked again: their grant is sent again (the first may have gone to an earlier run). */
  const grantAgain = new Map<string, PermitRequest>();
  /** Requesters heard from while a holder check runs: whatever the check says, they are alive. */
  const heardFrom = new Set<string>();
  let changes = 0;

  setHandler(requestPermitSignal, (request: PermitRequest) => {
    if (!isValidPermitRequest(request)) {
      log.warn('Refused a malformed permit request', { cellId, request });
      return;
    }
    heardFrom.add(request.requesterWorkflowId);
    if (isHolder(book, request.requesterWorkflowId)) {
      grantAgain.set(request.requesterWorkflowId, request);
    } else {
      book = enqueue(book, request);
    }
    changes++;
  });
  setHandler(releasePermitSignal, ({ requesterWorkflowId }) => {
    book = withdraw(book, [requesterWorkflowId]);
    changes++;
  });
  setHandler(cellLimiterStateQuery, () => ({ cellId, ...book }));

  /** Signals the grants; a requester that can no longer be signalled has ended and loses its permit. */
  const sendGrants = async (requests: PermitRequest[]) => {
    await Promise.all(
      requests.map(async ({ requesterWorkflowId }) => {
        try {
          await getExternalWorkflowHandle(requesterWorkflowId).signal(permitGrantedSignal, { cellId });
        } catch (err) {
          log.info('Permit requester is gone; its permit is free again', {
            cellId,
            requesterWorkflowId,
            err,
          });
          book = withdraw(book, [requesterWorkflowId]);
          changes++;
        }
      }),
    );
  };

  const reclaimFromEndedHolders = async () => {
    heardFrom.clear();
    const ended = await platform.findEndedWorkflows(book.holders.map((h) => h.requesterWorkflowId));
    const reclaimed = ended.filter((id) => !heardFrom.has(id) && isHolder(book, id));
    if (reclaimed.length > 0) {
      log.info('Reclaimed permits of ended holders', { cellId, reclaimed });
      book = { holders: withdraw(book, reclaimed).holders, queue: book.queue };
      changes++;
    }
  };

  /**
   * The deadline the pending wake-up timer is for, and whether it has fired. One timer per deadline
   * (the next holder check, or the idle exit), not one per wait: a grant in a busy cell costs its
   * request, grant and release signals only.
   */
  let wakeUpArmedFor: number | undefined;
  let wokeUp = false;
  const wakeUpAt = (deadline: number) => {
    if (wakeUpArmedFor === deadline) return;
    wakeUpArmedFor = deadline;
    // A timer for a deadline given up fires into nothing.
    void sleep(Math.max(deadline - Date.now(), 1)).then(() => {
      if (wakeUpArmedFor !== deadline) return;
      wakeUpArmedFor = undefined;
      wokeUp = true;
    });
  };

  let nextHolderCheck = Date.now() + HOLDER_CHECK_INTERVAL_MS;
  for (;;) {
    const seen = changes;
    const grant = grantFromQueue(book);
    book = grant.book;
    const regrants = [...grantAgain.values()];
    grantAgain.clear();
    await sendGrants([...grant.granted, ...regrants]);

    if (book.holders.length === 0) {
      nextHolderCheck = Date.now() + HOLDER_CHECK_INTERVAL_MS;
    } else if (Date.now() >= nextHolderCheck) {
      await reclaimFromEndedHolders();
      nextHolderCheck = Date.now() + HOLDER_CHECK_INTERVAL_MS;
      continue;
    }

    // Grants owed to holders that asked again are sent before the run ends: the book does not carry them.
    if (historyIsLong(historyEventLimit) && grantAgain.size === 0) {
      // Handlers are synchronous, but a handler added later must not be cut off mid-way.
      await condition(allHandlersFinished);
      return continueAsNew<typeof cellLimiter>({ ...input, holders: book.holders, queue: book.queue });
    }
    if (changes !== seen) continue;

    const idle = book.holders.length === 0 && book.queue.length === 0;
    wakeUpAt(idle ? Date.now() + IDLE_EXIT_AFTER_MS : nextHolderCheck);
    await condition(() => changes !== seen || wokeUp);
    const changed = changes !== seen;
    wokeUp = false;
    if (!changed && idle) {
      await condition(allHandlersFinished);
      return;
    }
  }
}
