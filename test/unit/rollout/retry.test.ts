import { describe, expect, it } from 'vitest';
import { DeviceCause, PlatformCause } from '../../../workflows/failure-causes';
import { isRetried, retryDelayMs } from '../../../workflows/rollout/retry';

const retry = { maxAttempts: 3, initialIntervalSeconds: 30, backoffCoefficient: 2, maxIntervalSeconds: 100 };

describe('retries', () => {
  it("retries the seed's platform timeouts by default, up to the attempts allowed", () => {
    const timeout = { outcome: 'failed', cause: PlatformCause.resultTimeout } as const;
    expect(isRetried(retry, timeout, 1)).toBe(true);
    expect(isRetried(retry, timeout, 2)).toBe(true);
    expect(isRetried(retry, timeout, 3)).toBe(false);
    expect(isRetried(retry, { outcome: 'failed', cause: PlatformCause.taskConflict }, 1)).toBe(false);
    expect(isRetried(retry, { outcome: 'failed', cause: DeviceCause.notEnoughStorage }, 1)).toBe(false);
    expect(isRetried(retry, { outcome: 'cancelled', cause: 'Cancelled' }, 1)).toBe(false);
    expect(isRetried(undefined, timeout, 1)).toBe(false);
  });

  it('retries exactly the causes the policy names', () => {
    const storage = { ...retry, causes: [DeviceCause.notEnoughStorage] };
    expect(isRetried(storage, { outcome: 'failed', cause: DeviceCause.notEnoughStorage }, 1)).toBe(true);
    expect(isRetried(storage, { outcome: 'failed', cause: PlatformCause.resultTimeout }, 1)).toBe(false);
  });

  it('backs off exponentially up to the maximum interval', () => {
    expect([1, 2, 3, 4].map((attempts) => retryDelayMs(retry, attempts))).toEqual([
      30_000, 60_000, 100_000, 100_000,
    ]);
  });
});
