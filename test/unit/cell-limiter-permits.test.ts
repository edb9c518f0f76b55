/**
 * The cell limiter's decision rule (workflows/cell-limiter/permit-book.ts), checked with fast-check over
 * hundreds of requesters with mixed limits whose requests, releases and deaths interleave.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { enqueue, grantFromQueue, type PermitBook, withdraw } from '../../workflows/cell-limiter/permit-book';
import type { PermitRequest } from '../../workflows/lwm2m/definitions';

const limits = fc.constantFrom(1, 10, 50);

type Step =
  | { kind: 'request'; requester: number; limit: number }
  | { kind: 'release'; requester: number }
  | { kind: 'die'; requester: number };

const requesters = 300;
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      requester: fc.nat(requesters - 1),
      limit: limits,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('release' as const), requester: fc.nat(requesters - 1) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('die' as const), requester: fc.nat(requesters - 1) }),
  },
);

const idOf = (requester: number) => `device-operation:device-${requester}`;
const request = (requester: number, limit: number): PermitRequest => ({
  requesterWorkflowId: idOf(requester),
  deviceId: `device-${requester}`,
  limit,
});

/** Applies a step the way the limiter does: the signal's effect, then granting from the queue. */
function apply(book: PermitBook, s: Step): { book: PermitBook; granted: PermitRequest[] } {
  if (s.kind === 'request') return grantFromQueue(enqueue(book, request(s.requester, s.limit)));
  if (s.kind === 'release') return grantFromQueue(withdraw(book, [idOf(s.requester)]));
  // A dead holder is reclaimed by the holder check; a dead queued requester's grant fails and frees.
  return grantFromQueue(withdraw(book, [idOf(s.requester)]));
}

function expectInvariants(book: PermitBook) {
  for (const holder of book.holders) expect(book.holders.length).toBeLessThanOrEqual(holder.limit);
  const ids = [...book.holders, ...book.queue].map((entry) => entry.requesterWorkflowId);
  expect(new Set(ids).size).toBe(ids.length);
}

const empty: PermitBook = { holders: [], queue: [] };

describe('cell permit decisions', () => {
  it('never lets the holders outnumber the limit of any holder, nor holds anyone twice', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 600, size: 'max' }), (steps) => {
        let book = empty;
        for (const s of steps) {
          book = apply(book, s).book;
          expectInvariants(book);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('grants first come, first served: never a later request ahead of an earlier one still waiting', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 600, size: 'max' }), (steps) => {
        let book = empty;
        for (const s of steps) {
          const waitingBefore = book.queue.map((q) => q.requesterWorkflowId);
          const { book: next, granted } = apply(book, s);
          const grantedIds = granted.map((g) => g.requesterWorkflowId);
          // What was granted is the head of the queue, in queue order.
          const queueAfterSignal = [
            ...waitingBefore,
            ...(s.kind === 'request' ? [idOf(s.requester)] : []),
          ].filter((id) => grantedIds.includes(id) || next.queue.some((q) => q.requesterWorkflowId === id));
          expect(queueAfterSignal.slice(0, grantedIds.length)).toEqual(grantedIds);
          book = next;
        }
      }),
      { numRuns: 200 },
    );
  });

  it('grants every waiting request once holders release in turn', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 600, size: 'max' }), (steps) => {
        let book = empty;
        for (const s of steps) book = apply(book, s).book;
        const waiting = book.queue.map((q) => q.requesterWorkflowId);
        const grantedLater = new Set<string>();
        // A fair schedule: the oldest holder releases, one at a time.
        for (let round = 0; book.holders.length > 0 && round < 10_000; round++) {
          const oldest = book.holders[0] as PermitRequest;
          const next = grantFromQueue(withdraw(book, [oldest.requesterWorkflowId]));
          for (const g of next.granted) grantedLater.add(g.requesterWorkflowId);
          book = next.book;
        }
        expect(book.queue).toEqual([]);
        expect(waiting.filter((id) => !grantedLater.has(id))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('lets a device in poor coverage (limit 1) upgrade alone, and waits for it before others', () => {
    let book = grantFromQueue(enqueue(empty, request(1, 50))).book;
    book = grantFromQueue(enqueue(book, request(2, 1))).book;
    book = grantFromQueue(enqueue(book, request(3, 50))).book;
    expect(book.holders.map((h) => h.deviceId)).toEqual(['device-1']);
    expect(book.queue.map((q) => q.deviceId)).toEqual(['device-2', 'device-3']);

    book = grantFromQueue(withdraw(book, [idOf(1)])).book;
    expect(book.holders.map((h) => h.deviceId)).toEqual(['device-2']);

    book = grantFromQueue(withdraw(book, [idOf(2)])).book;
    expect(book.holders.map((h) => h.deviceId)).toEqual(['device-3']);
  });

  it('treats a repeated request as the first one and a release of a queued request as a withdrawal', () => {
    let book = grantFromQueue(enqueue(empty, request(1, 1))).book;
    book = grantFromQueue(enqueue(book, request(1, 1))).book;
    book = grantFromQueue(enqueue(book, request(2, 10))).book;
    book = grantFromQueue(enqueue(book, request(2, 10))).book;
    expect(book).toEqual({ holders: [request(1, 1)], queue: [request(2, 10)] });

    book = grantFromQueue(withdraw(book, [idOf(2)])).book;
    expect(book).toEqual({ holders: [request(1, 1)], queue: [] });
  });
});
