/** Seed steps 6–8 (firmware) and 7–9 (software): the radio query, and the cell's permits it decides. */
import { Lwm2mTimeouts } from '../timeouts';
import type { Lwm2mDevice } from './device';
import { asNumber, asText } from './device-reports';
import { permitsForCoverage } from './radio-coverage';
import type { Lwm2mUpgradeInput } from './upgrade-input';

export interface CellAssignment {
  cellId: string;
  /** The cell's concurrency limit as this device sees it. */
  permits: number;
}

/**
 * Cell ID, RSRP and SINR → permits by range; when that query fails, the cell ID alone → 10;
 * undefined when the device reports no cell ID either.
 */
export async function queryRadioCoverage(
  device: Lwm2mDevice,
  input: Lwm2mUpgradeInput,
  batch: Parameters<Lwm2mDevice['read']>[2] = {},
): Promise<CellAssignment | undefined> {
  const { cellId: cellIdPath, rsrp, sinr } = input.radioResources;
  const full = await device.read([cellIdPath, rsrp, sinr], Lwm2mTimeouts.radioCoverageReport, batch);
  const coverage = {
    cellId: asText(full?.[cellIdPath]),
    rsrpDbm: asNumber(full?.[rsrp]),
    sinrDb: asNumber(full?.[sinr]),
  };
  if (coverage.cellId !== undefined && coverage.rsrpDbm !== undefined && coverage.sinrDb !== undefined) {
    return { cellId: coverage.cellId, permits: permitsForCoverage(coverage, input.coverageRanges) as number };
  }
  // The radio query failed: ask for the cell ID alone.
  const only = await device.read([cellIdPath], Lwm2mTimeouts.radioCoverageReport);
  const cellId = asText(only?.[cellIdPath]);
  if (cellId === undefined) return undefined;
  return { cellId, permits: permitsForCoverage({ cellId }, input.coverageRanges) as number };
}
