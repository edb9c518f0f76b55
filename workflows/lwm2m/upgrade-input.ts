/** What starts an LwM2M upgrade (seed 000), beside the package: the cell and radio settings of the task. */
import type { DeviceUpgradeInput } from '../definitions';
import { Lwm2mPath, type RadioResources } from './definitions';
import type { CoverageRanges } from './radio-coverage';

export interface Lwm2mUpgradeInput extends DeviceUpgradeInput {
  /** The RSRP/SINR range bounds that decide the cell's permits (configuration). */
  coverageRanges: CoverageRanges;
  /** Where this fleet's devices report cell ID, RSRP and SINR. */
  radioResources: RadioResources;
}

/**
 * LwM2M Connectivity Monitoring (object 4): /4/0/2 Radio Signal Strength is the RSRP in dBm on an
 * NB-IoT bearer; /4/0/11 is SignalSNR (dB) since object 4 version 1.1, read here as the SINR.
 */
export const defaultRadioResources: RadioResources = {
  cellId: Lwm2mPath.cellId,
  rsrp: Lwm2mPath.radioSignalStrength,
  sinr: Lwm2mPath.signalSnr,
};
