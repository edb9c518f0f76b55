import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { abortReason } from '../../../workflows/rollout/abort';

describe('abortReason', () => {
  it('waits for the minimum sample before judging', () => {
    const abort = { failedCount: 1, minFinished: 5, cancelInProgress: false };
    expect(abortReason(abort, { succeeded: 0, failed: 4 })).toBeUndefined();
    expect(abortReason(abort, { succeeded: 0, failed: 5 })).toBe(
      '5 of 5 finished devices failed, the limit is 1',
    );
  });

  it('aborts at the failure count or at the failure percentage', () => {
    expect(
      abortReason({ failedCount: 3, minFinished: 0, cancelInProgress: false }, { succeeded: 50, failed: 2 }),
    ).toBeUndefined();
    expect(
      abortReason({ failedCount: 3, minFinished: 0, cancelInProgress: false }, { succeeded: 50, failed: 3 }),
    ).toBeDefined();
    const percent = { failedPercent: 20, minFinished: 10, cancelInProgress: false };
    expect(abortReason(percent, { succeeded: 9, failed: 2 })).toBeUndefined();
    expect(abortReason(percent, { succeeded: 8, failed: 2 })).toBe(
      '2 of 10 finished devices failed (20%), the limit is 20%',
    );
  });

  it('never aborts without a rule, and once it would, more failures keep it so', () => {
    fc.assert(
      fc.property(
        fc.nat(1000),
        fc.nat(1000),
        fc.integer({ min: 1, max: 100 }),
        fc.nat(50),
        (succeeded, failed, failedPercent, minFinished) => {
          expect(abortReason(undefined, { succeeded, failed })).toBeUndefined();
          const abort = { failedPercent, minFinished, cancelInProgress: false };
          if (abortReason(abort, { succeeded, failed })) {
            expect(abortReason(abort, { succeeded, failed: failed + 1 })).toBeDefined();
          }
        },
      ),
    );
  });
});
