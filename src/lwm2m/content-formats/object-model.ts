/**
 * The resource types of the objects otaflow manages, from the OMA LwM2M registry (object 3 Device,
 * 4 Connectivity Monitoring, 5 Firmware Update, 9 Software Management; versions 1.0–1.2). Binary
 * formats (TLV) carry no types, so decoding needs them; resources not listed decode as opaque.
 */
export type ResourceType =
  | 'string'
  | 'integer'
  | 'unsigned'
  | 'float'
  | 'boolean'
  | 'opaque'
  | 'time'
  | 'objlnk';

interface ResourceDefinition {
  type: ResourceType;
  multiple?: boolean;
}

const S: ResourceDefinition = { type: 'string' };
const I: ResourceDefinition = { type: 'integer' };
const B: ResourceDefinition = { type: 'boolean' };
const O: ResourceDefinition = { type: 'opaque' };
const T: ResourceDefinition = { type: 'time' };
const L: ResourceDefinition = { type: 'objlnk' };
const multiple = (definition: ResourceDefinition): ResourceDefinition => ({ ...definition, multiple: true });
/** Executable resources have no value; a client that sends one anyway gets it as opaque bytes. */
const EXEC = O;

const objects: Record<number, Record<number, ResourceDefinition>> = {
  3: {
    0: S, // Manufacturer
    1: S, // Model Number
    2: S, // Serial Number
    3: S, // Firmware Version
    4: EXEC, // Reboot
    5: EXEC, // Factory Reset
    6: multiple(I), // Available Power Sources
    7: multiple(I), // Power Source Voltage
    8: multiple(I), // Power Source Current
    9: I, // Battery Level
    10: I, // Memory Free
    11: multiple(I), // Error Code
    12: EXEC, // Reset Error Code
    13: T, // Current Time
    14: S, // UTC Offset
    15: S, // Timezone
    16: S, // Supported Binding and Modes
    17: S, // Device Type
    18: S, // Hardware Version
    19: S, // Software Version
    20: I, // Battery Status
    21: I, // Memory Total
    22: multiple(L), // ExtDevInfo
  },
  4: {
    0: I, // Network Bearer
    1: multiple(I), // Available Network Bearer
    2: I, // Radio Signal Strength (dBm; RSRP on LTE/NB-IoT)
    3: I, // Link Quality
    4: multiple(S), // IP Addresses
    5: multiple(S), // Router IP Addresses
    6: I, // Link Utilization
    7: multiple(S), // APN
    8: I, // Cell ID
    9: I, // SMNC
    10: I, // SMCC
    11: I, // SignalSNR (dB; SINR on NB-IoT)
    12: I, // LAC
    13: I, // Coverage Enhancement Level
  },
  5: {
    0: O, // Package
    1: S, // Package URI
    2: EXEC, // Update
    3: I, // State
    4: B, // Update Supported Objects (1.0 drafts)
    5: I, // Update Result
    6: S, // PkgName
    7: S, // PkgVersion
    8: multiple(I), // Firmware Update Protocol Support
    9: I, // Firmware Update Delivery Method
    10: EXEC, // Cancel (1.1)
    11: I, // Severity (1.1)
    12: T, // Last State Change Time (1.1)
    13: I, // Maximum Defer Period (1.1)
  },
  9: {
    0: S, // PkgName
    1: S, // PkgVersion
    2: O, // Package
    3: S, // Package URI
    4: EXEC, // Install
    5: L, // Checkpoint
    6: EXEC, // Uninstall
    7: I, // Update State
    8: B, // Update Supported Objects
    9: I, // Update Result
    10: EXEC, // Activate
    11: EXEC, // Deactivate
    12: B, // Activation State
    13: L, // Package Settings
    14: S, // User Name
    15: S, // Password
    16: S, // Status Reason
    17: multiple(L), // Software Component Link
    18: I, // Software Component tree length
  },
};

export function resourceType(objectId: number, resourceId: number): ResourceType {
  return objects[objectId]?.[resourceId]?.type ?? 'opaque';
}

export function isMultipleResource(objectId: number, resourceId: number): boolean {
  return objects[objectId]?.[resourceId]?.multiple === true;
}
