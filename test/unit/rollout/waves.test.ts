import { describe, expect, it } from 'vitest';
import { firstWave, nextWave, waveFailureReason, waveGate, waveRoom } from '../../../workflows/rollout/waves';

const waves = { sizes: [2, 5], successPercent: 80 };

describe('waves', () => {
  it('fills each wave up to its size; the rest of the targets is the last wave', () => {
    expect(waveRoom(waves, firstWave)).toBe(2);
    expect(waveRoom(waves, { ...firstWave, started: 2 })).toBe(0);
    expect(waveRoom(waves, { index: 1, started: 1, finished: 0, succeeded: 0 })).toBe(4);
    expect(waveRoom(waves, { index: 2, started: 900, finished: 0, succeeded: 0 })).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(waveRoom(undefined, { ...firstWave, started: 10_000 })).toBe(Number.POSITIVE_INFINITY);
  });

  it('waits for every device of a full wave, then opens the gate at the success percentage', () => {
    expect(waveGate(waves, { index: 0, started: 1, finished: 1, succeeded: 1 })).toBe('filling');
    expect(waveGate(waves, { index: 0, started: 2, finished: 1, succeeded: 1 })).toBe('waiting');
    expect(waveGate(waves, { index: 0, started: 2, finished: 2, succeeded: 2 })).toBe('passed');
    expect(waveGate(waves, { index: 0, started: 2, finished: 2, succeeded: 1 })).toBe('failed');
    expect(waveGate(waves, { index: 1, started: 5, finished: 5, succeeded: 4 })).toBe('passed'); // exactly 80 %
  });

  it('starts the next wave empty and explains a shut gate', () => {
    expect(nextWave({ index: 0, started: 2, finished: 2, succeeded: 2 })).toEqual({ ...firstWave, index: 1 });
    expect(waveFailureReason(waves, { index: 0, started: 2, finished: 2, succeeded: 1 })).toBe(
      'wave 1: 1 of 2 devices succeeded (50%), below the required 80%',
    );
  });
});
