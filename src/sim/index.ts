/**
 * The simulator's public API: a simulated CCID reader behind a WebUSB `USBDevice` (src/sim/reader) and the simulated
 * cards that go in it (src/sim/card), meeting only at the contacts of card-interface.ts.
 */
export type { SimCard, VoltageClass, CardProtocol } from './card-interface.js';

export {
  SimulatedReader,
  createSimulatedReader,
  encodeResponse,
  type SimulatedReaderOptions,
} from './reader/device.js';
export {
  PROFILES,
  ICCD_A_EGATE,
  ICCD_B_RUTOKEN_MAGISTRA,
  isProfileId,
  type ProfileId,
  type ReaderProfile,
  type ReaderQuirks,
  type CcidDescriptorFields,
} from './reader/profiles.js';
export { UNPLUGGABLE, isUnpluggable, type UnpluggableDevice } from './reader/unpluggable.js';
export { Keypad, type KeypadEntry } from './reader/keypad.js';
export { FaultPlan, type FaultSpec, type FaultTarget, type EndpointName, type FiredFault } from './reader/faults.js';
export type { EscapeHandler } from './reader/slot.js';
export {
  encodeCcidClassDescriptor,
  encodeConfigurationDescriptor,
  encodeDeviceDescriptor,
  ENDPOINT as READER_ENDPOINT,
} from './reader/descriptors.js';
export {
  PC_TO_RDR,
  RDR_TO_PC,
  SLOT_ERROR,
  FEATURE,
  CHAIN,
  exchangeLevelOf,
  type ReaderExchangeLevel,
} from './reader/ccid-constants.js';

export { SimulatedCard, type SimulatedCardOptions } from './card/card.js';
export {
  helloWorldCardT0,
  helloWorldCardT1,
  dualProtocolCard,
  specificModeCard,
  pinCard,
  lowVoltageCard,
  type CardProfileOptions,
  type DualProtocolOptions,
  type SpecificModeOptions,
} from './card/profiles.js';
export {
  SimulatedCompositeDevice,
  hidDescriptor,
  type CompositeProfile,
  type CompositeFunction,
  type CompositeCcidFunction,
  type CompositeOtherFunction,
} from './reader/composite.js';
export { COMPOSITE_PROFILES, ACR1252_DUAL, CHERRY_KC_1000_SC } from './reader/composite-profiles.js';
