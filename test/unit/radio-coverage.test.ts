import { describe, expect, it } from 'vitest';
import {
  type CoverageRanges,
  checkCoverageRanges,
  defaultCoverageRanges,
  permitsForCoverage,
} from '../../workflows/lwm2m/radio-coverage';

const ranges = defaultCoverageRanges;

describe('permits from radio coverage (seed 000, default ranges)', () => {
  it.each([
    ['RSRP and SINR in range 0', -90, 10, 50],
    ['RSRP and SINR in range 0, on the range bounds', -105, 3, 50],
    ['RSRP in range 0 and SINR in range 1', -100, 0, 10],
    ['RSRP in range 0 and SINR on the lower bound of range 1', -100, -3, 10],
    ['RSRP in range 1 and SINR in range 2', -110, -5, 1],
    ['RSRP in range 1 and SINR in range 0 (not a listed combination)', -110, 10, 1],
    ['RSRP in range 0 and SINR in range 2 (not a listed combination)', -95, -5, 1],
    ['RSRP below every range', -130, 10, 1],
    ['SINR below every range', -95, -20, 1],
  ])('%s → %i permits', (_, rsrpDbm, sinrDb, permits) => {
    expect(permitsForCoverage({ cellId: '4711', rsrpDbm, sinrDb }, ranges)).toBe(permits);
  });

  it('gives 10 permits when only the cell ID is known', () => {
    expect(permitsForCoverage({ cellId: '4711' }, ranges)).toBe(10);
    expect(permitsForCoverage({ cellId: '4711', rsrpDbm: -90 }, ranges)).toBe(10);
  });

  it('gives no permit without a cell ID', () => {
    expect(permitsForCoverage({ rsrpDbm: -90, sinrDb: 10 }, ranges)).toBeUndefined();
    expect(permitsForCoverage({}, ranges)).toBeUndefined();
  });

  it('follows configured bounds', () => {
    const strict: CoverageRanges = { rsrpDbm: [-95, -110], sinrDb: [10, 0, -5] };
    expect(permitsForCoverage({ cellId: 'c', rsrpDbm: -100, sinrDb: 12 }, strict)).toBe(1);
    expect(permitsForCoverage({ cellId: 'c', rsrpDbm: -90, sinrDb: 5 }, strict)).toBe(10);
    expect(permitsForCoverage({ cellId: 'c', rsrpDbm: -90, sinrDb: 12 }, strict)).toBe(50);
  });
});

describe('coverage range configuration', () => {
  it('accepts the defaults', () => {
    expect(() => checkCoverageRanges(defaultCoverageRanges)).not.toThrow();
  });

  it('refuses bounds that are not strictly descending, naming the resource', () => {
    expect(() => checkCoverageRanges({ rsrpDbm: [-115, -105], sinrDb: [3, -3, -8] })).toThrow(/rsrpDbm/);
    expect(() => checkCoverageRanges({ rsrpDbm: [-105, -115], sinrDb: [3, 3, -8] })).toThrow(/sinrDb/);
    expect(() => checkCoverageRanges({ rsrpDbm: [-105, Number.NaN], sinrDb: [3, -3, -8] })).toThrow(
      /rsrpDbm/,
    );
  });
});
