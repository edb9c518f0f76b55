/**
 * The cell limiter's decisions, as pure functions over its holders and queue, so they can be
 * checked exhaustively outside Temporal. Every function returns a new state and leaves its input
 * alone.
 *
 * The rule: the queue is served first come, first served, and its head is granted only when, with
 * it, the number of holders is within the limit of every holder, its own included. A device in poor
 * coverage (limit 1) therefore upgrades alone, and the head waits rather than be overtaken, so no
 * request starves.
 */
import type { PermitRequest } from '../lwm2m/definitions';

export interface PermitBook {
  holders: PermitRequest[];
  queue: PermitRequest[];
}

/** A well-formed request; anything else is refused by the limiter (and logged) instead of granted. */
export function isValidPermitRequest(request: PermitRequest): boolean {
  return (
    typeof request?.requesterWorkflowId === 'string' &&
    request.requesterWorkflowId.length > 0 &&
    typeof request.deviceId === 'string' &&
    Number.isInteger(request.limit) &&
    request.limit >= 1
  );
}

export function isHolder(book: PermitBook, requesterWorkflowId: string): boolean {
  return book.holders.some((holder) => holder.requesterWorkflowId === requesterWorkflowId);
}

/** Queues a request. A repeated request, from a holder or from a requester already queued, changes nothing. */
export function enqueue(book: PermitBook, request: PermitRequest): PermitBook {
  const known = [...book.holders, ...book.queue].some(
    (entry) => entry.requesterWorkflowId === request.requesterWorkflowId,
  );
  return known ? book : { holders: book.holders, queue: [...book.queue, request] };
}

/** Frees the requesters' permits, or takes them out of the queue when they were still waiting. */
export function withdraw(book: PermitBook, requesterWorkflowIds: readonly string[]): PermitBook {
  const gone = (entry: PermitRequest) => requesterWorkflowIds.includes(entry.requesterWorkflowId);
  return { holders: book.holders.filter((h) => !gone(h)), queue: book.queue.filter((q) => !gone(q)) };
}

/** Grants queued requests from the head for as long as the rule allows. */
export function grantFromQueue(book: PermitBook): { book: PermitBook; granted: PermitRequest[] } {
  const holders = [...book.holders];
  const queue = [...book.queue];
  const granted: PermitRequest[] = [];
  for (let next = queue[0]; next !== undefined && fitsBeside(holders, next); next = queue[0]) {
    queue.shift();
    holders.push(next);
    granted.push(next);
  }
  return { book: { holders, queue }, granted };
}

function fitsBeside(holders: readonly PermitRequest[], request: PermitRequest): boolean {
  const tightestLimit = Math.min(request.limit, ...holders.map((holder) => holder.limit));
  return holders.length + 1 <= tightestLimit;
}
