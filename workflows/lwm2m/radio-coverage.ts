/**
 * Seed 000, steps 6–8 (firmware) / 7–9 (software): how many devices of a cell may upgrade at once,
 * from the radio coverage the device reports. Pure and deterministic; the bounds are configuration
 * (see docs/cell-limiter.md for why the defaults are what they are).
 */

/**
 * Lower bounds of the coverage ranges, best range first: a value is in range `i` when it is at least
 * `bounds[i]` and below `bounds[i - 1]`. A value below the last bound is in no range.
 */
export interface CoverageRanges {
  /** RSRP in dBm, range 0 and range 1. */
  rsrpDbm: [range0: number, range1: number];
  /** SINR in dB, range 0, range 1 and range 2. */
  sinrDb: [range0: number, range1: number, range2: number];
}

/**
 * Aligned with the NB-IoT coverage-enhancement levels: range 0 is normal coverage (CE0), range 1
 * robust coverage (CE1), range 2 extreme coverage (CE2).
 */
export const defaultCoverageRanges: CoverageRanges = {
  rsrpDbm: [-105, -115],
  sinrDb: [3, -3, -8],
};

/** What the radio query returned; a value is missing when the device did not report it as a number. */
export interface RadioCoverage {
  cellId?: string;
  rsrpDbm?: number;
  sinrDb?: number;
}

export const CellPermits = { goodCoverage: 50, fairCoverage: 10, poorCoverage: 1, cellIdOnly: 10 } as const;

/**
 * The cell's concurrency limit as this device sees it, or undefined when even the cell ID is missing
 * (the upgrade then fails with "Waiting for report cellId timeout").
 */
export function permitsForCoverage(coverage: RadioCoverage, ranges: CoverageRanges): number | undefined {
  if (coverage.cellId === undefined) return undefined;
  if (coverage.rsrpDbm === undefined || coverage.sinrDb === undefined) return CellPermits.cellIdOnly;
  const rsrpRange = rangeOf(coverage.rsrpDbm, ranges.rsrpDbm);
  const sinrRange = rangeOf(coverage.sinrDb, ranges.sinrDb);
  if (rsrpRange === 0 && sinrRange === 0) return CellPermits.goodCoverage;
  if (rsrpRange === 0 && sinrRange === 1) return CellPermits.fairCoverage;
  // "RSRP in range 1 and SINR in range 2", and every readable combination the seed does not list.
  return CellPermits.poorCoverage;
}

function rangeOf(value: number, lowerBounds: readonly number[]): number | undefined {
  const range = lowerBounds.findIndex((bound) => value >= bound);
  return range === -1 ? undefined : range;
}

/** Bad configuration is refused by name before any workflow sees it. */
export function checkCoverageRanges(ranges: CoverageRanges): void {
  for (const [name, bounds] of [
    ['rsrpDbm', ranges.rsrpDbm],
    ['sinrDb', ranges.sinrDb],
  ] as const) {
    const descending = bounds.every(
      (bound, i) => Number.isFinite(bound) && (i === 0 || bound < (bounds[i - 1] as number)),
    );
    if (!descending) {
      throw new Error(
        `coverage ranges: ${name} must be finite lower bounds, best range first, strictly descending; got ${JSON.stringify(bounds)}`,
      );
    }
  }
}
