/**
 * Waves: the targets in order form waves of the given sizes (the rest is the last wave). A wave
 * opens only when every device of the previous one has a final result and at least
 * `successPercent` of them succeeded.
 */
import type { RolloutPolicy } from './definitions';

type Waves = NonNullable<RolloutPolicy['waves']>;

/** The current wave (0-based) and its devices so far: started, with a final result, succeeded. */
export interface WaveProgress {
  index: number;
  started: number;
  finished: number;
  succeeded: number;
}

export const firstWave: WaveProgress = { index: 0, started: 0, finished: 0, succeeded: 0 };

export function waveSize(waves: Waves | undefined, index: number): number {
  return waves?.sizes[index] ?? Number.POSITIVE_INFINITY;
}

/** Devices the current wave may still start. */
export function waveRoom(waves: Waves | undefined, wave: WaveProgress): number {
  return Math.max(0, waveSize(waves, wave.index) - wave.started);
}

/**
 * `filling`: the wave may start more devices; `waiting`: it is full and some of its devices are
 * still upgrading; `passed` / `failed`: every device has a result and the gate opens / stays shut.
 */
export type WaveGate = 'filling' | 'waiting' | 'passed' | 'failed';

export function waveGate(waves: Waves | undefined, wave: WaveProgress): WaveGate {
  if (waveRoom(waves, wave) > 0) return 'filling';
  if (wave.finished < wave.started) return 'waiting';
  return successPercent(wave) >= (waves?.successPercent ?? 0) ? 'passed' : 'failed';
}

export function nextWave(wave: WaveProgress): WaveProgress {
  return { ...firstWave, index: wave.index + 1 };
}

export function waveFailureReason(waves: Waves, wave: WaveProgress): string {
  return (
    `wave ${wave.index + 1}: ${wave.succeeded} of ${wave.finished} devices succeeded ` +
    `(${formatPercent(successPercent(wave))}), below the required ${waves.successPercent}%`
  );
}

function successPercent(wave: WaveProgress): number {
  return wave.finished === 0 ? 100 : (wave.succeeded * 100) / wave.finished;
}

function formatPercent(percent: number): string {
  return `${Math.round(percent * 10) / 10}%`;
}
