/** The simulated card (ISO/IEC 7816-3 and 7816-4), behind the contacts of ../card-interface.ts. */
export { SimulatedCard, type SimulatedCardOptions } from './card.js';
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
} from './profiles.js';
export {
  buildAtr,
  CardProfileError,
  type AtrProfile,
  type T1AtrParameters,
  type SpecificMode,
  type ClockStop,
} from './atr.js';
export { CardApplications, HELLO_WORLD_AID, PIN_APPLET_AID, MF_FCI, type CardApplicationsOptions } from './applets.js';
export { parseCommandApdu, SW, type CommandApdu, type ResponseApdu } from './apdu.js';
export { answerPps, cardTakesFidi, type PpsPolicy, type PpsOutcome, type PpsRefusal } from './pps.js';
export { defaultFaults, type CardFaults } from './faults.js';
export type { T0DataProcedure } from './t0.js';
export type { EdcKind } from './edc.js';
