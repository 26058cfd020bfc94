/**
 * Composite simulated devices, each rebuilt from a real device's descriptor dump in libccid's `readers/` folder
 * (LudovicRousseau/CCID, decoded by libccid's `parse` tool; same conventions as profiles.ts).
 */
import { hidDescriptor, type CompositeProfile } from './composite.js';
import type { CcidDescriptorFields, ReaderProfile } from './profiles.js';

// Marked pure for the bundler: a bundle that uses none of these profiles (the connector's worker) leaves them out.
/* @__NO_SIDE_EFFECTS__ */
function descriptor(fields: Omit<CcidDescriptorFields, 'bLength' | 'bDescriptorType'>): CcidDescriptorFields {
  return { bLength: 0x36, bDescriptorType: 0x21, ...fields };
}

/** The per-function fields of a ReaderProfile; the device-level ones come from the CompositeProfile. */
/* @__NO_SIDE_EFFECTS__ */
function ccidFunction(
  id: string,
  source: string,
  interfaceName: string,
  ccid: CcidDescriptorFields,
  extra: Partial<ReaderProfile> = {},
): ReaderProfile {
  return {
    id,
    source,
    vendorId: 0,
    productId: 0,
    bcdDevice: 0,
    manufacturer: null,
    product: null,
    serialNumber: null,
    interfaceName,
    interfaceClass: 0x0b,
    descriptorPlacement: 'interface',
    interruptEndpoint: true,
    ccid,
    clockFrequencies: null,
    dataRates: null,
    ...extra,
  };
}

const ACR1252_SOURCE = 'LudovicRousseau/CCID readers/ACS_ACR1252_Dual_Reader.txt';

/**
 * Two CCID interfaces on one device: ACS ACR1252 Dual Reader 072F:223B, interface 0 "ACR1252 Dual Reader PICC"
 * (contactless, extended APDU, T=1) and interface 1 "ACR1252 Dual Reader SAM" (contact SAM slot, short APDU, T=0/T=1,
 * 5 V). The dump gives both interfaces; neither answers GET_CLOCK_FREQUENCIES / GET_DATA_RATES with a table.
 */
export const ACR1252_DUAL: CompositeProfile = {
  id: 'acr1252-dual',
  source: ACR1252_SOURCE,
  vendorId: 0x072f,
  productId: 0x223b,
  bcdDevice: 0x0100,
  manufacturer: 'ACS',
  product: 'ACR1252 Dual Reader',
  serialNumber: null,
  functions: [
    {
      kind: 'ccid',
      interfaceNumber: 0,
      profile: ccidFunction(
        'acr1252-dual-picc',
        ACR1252_SOURCE,
        'ACR1252 Dual Reader PICC',
        descriptor({
          bcdCCID: 0x0100,
          bMaxSlotIndex: 0,
          bVoltageSupport: 0x07,
          dwProtocols: 0x0002,
          dwDefaultClock: 4000,
          dwMaximumClock: 4000,
          bNumClockSupported: 0,
          dwDataRate: 10752,
          dwMaxDataRate: 250000,
          bNumDataRatesSupported: 0,
          dwMaxIFSD: 254,
          dwSynchProtocols: 0,
          dwMechanical: 0,
          dwFeatures: 0x00040040,
          dwMaxCCIDMessageLength: 522,
          bClassGetResponse: 0x00,
          bClassEnvelope: 0x00,
          wLcdLayout: 0x0000,
          bPINSupport: 0x00,
          bMaxCCIDBusySlots: 1,
        }),
      ),
    },
    {
      kind: 'ccid',
      interfaceNumber: 1,
      profile: ccidFunction(
        'acr1252-dual-sam',
        ACR1252_SOURCE,
        'ACR1252 Dual Reader SAM',
        descriptor({
          bcdCCID: 0x0110,
          bMaxSlotIndex: 0,
          bVoltageSupport: 0x01,
          dwProtocols: 0x0003,
          dwDefaultClock: 3420,
          dwMaximumClock: 3420,
          bNumClockSupported: 0,
          dwDataRate: 9193,
          dwMaxDataRate: 213750,
          bNumDataRatesSupported: 0,
          dwMaxIFSD: 254,
          dwSynchProtocols: 0,
          dwMechanical: 0,
          dwFeatures: 0x000204ba,
          dwMaxCCIDMessageLength: 288,
          bClassGetResponse: 0x00,
          bClassEnvelope: 0x00,
          wLcdLayout: 0x0000,
          bPINSupport: 0x00,
          bMaxCCIDBusySlots: 1,
        }),
      ),
    },
  ],
};

const KC1000_SOURCE = 'LudovicRousseau/CCID readers/Cherry_KC_1000_SC.txt';

/** What the KC 1000 SC answered to GET_DATA_RATES in its dump (105 rates, though bNumDataRatesSupported says 96). */
const KC1000_DATA_RATES = [
  10752, 21505, 43010, 86021, 172043, 344086, 129032, 215053, 12903, 25806, 51612, 103225, 206451, 412903, 154838,
  258064, 7168, 14336, 28673, 57347, 114695, 229390, 143369, 8602, 17204, 34408, 68817, 137634, 275268, 5376, 64516,
  107526, 6451, 77419, 8064, 16129, 32258, 96774, 161290, 3584, 4301, 2688, 53763, 3225, 38709, 4032, 48387, 80645,
  2150, 2580, 5161, 10322, 20645, 41290, 82580, 30967, 7812, 15625, 31250, 62500, 125000, 250000, 93750, 156250, 9375,
  18750, 37500, 75000, 150000, 300000, 112500, 187500, 5208, 10416, 20833, 41666, 83333, 166666, 104166, 6250, 12500,
  25000, 50000, 100000, 200000, 3906, 46875, 78125, 4687, 56250, 5859, 11718, 23437, 70312, 117187, 2604,
] as const;

/**
 * A smart card keyboard: Cherry KC 1000 SC 046A:00A1. The dump shows its CCID interface as bInterfaceNumber 2
 * (short and extended APDU, PIN verify/modify, iInterface "KC 1000 SC"); interfaces 0 and 1 are the keyboard's, which
 * libccid's `parse` does not print: here a HID boot keyboard (class 3/1/1) and a HID consumer-keys interface (3/0/0),
 * as a USB keyboard has them (USB HID 1.11 §4.2), each with one interrupt-IN endpoint.
 */
export const CHERRY_KC_1000_SC: CompositeProfile = {
  id: 'cherry-kc1000sc',
  source: KC1000_SOURCE,
  vendorId: 0x046a,
  productId: 0x00a1,
  bcdDevice: 0x0102,
  manufacturer: 'Cherry',
  product: 'KC 1000 SC',
  serialNumber: null,
  functions: [
    {
      kind: 'other',
      interfaceNumber: 0,
      interfaceClass: 0x03,
      interfaceSubclass: 0x01,
      interfaceProtocol: 0x01,
      interfaceName: null,
      classDescriptor: hidDescriptor(63),
      interruptIn: true,
    },
    {
      kind: 'other',
      interfaceNumber: 1,
      interfaceClass: 0x03,
      interfaceSubclass: 0x00,
      interfaceProtocol: 0x00,
      interfaceName: null,
      classDescriptor: hidDescriptor(50),
      interruptIn: true,
    },
    {
      kind: 'ccid',
      interfaceNumber: 2,
      profile: ccidFunction(
        'cherry-kc1000sc-ccid',
        KC1000_SOURCE,
        'KC 1000 SC',
        descriptor({
          bcdCCID: 0x0110,
          bMaxSlotIndex: 0,
          bVoltageSupport: 0x07,
          dwProtocols: 0x0003,
          dwDefaultClock: 4800,
          dwMaximumClock: 8000,
          bNumClockSupported: 4,
          dwDataRate: 10752,
          dwMaxDataRate: 412903,
          bNumDataRatesSupported: 96,
          dwMaxIFSD: 254,
          dwSynchProtocols: 0x00000007,
          dwMechanical: 0,
          dwFeatures: 0x000407ba,
          dwMaxCCIDMessageLength: 271,
          bClassGetResponse: 0xff,
          bClassEnvelope: 0xff,
          wLcdLayout: 0x0000,
          bPINSupport: 0x03,
          bMaxCCIDBusySlots: 1,
        }),
        { clockFrequencies: [4000, 4800, 6000, 8000], dataRates: KC1000_DATA_RATES },
      ),
    },
  ],
};

export const COMPOSITE_PROFILES = { 'acr1252-dual': ACR1252_DUAL, 'cherry-kc1000sc': CHERRY_KC_1000_SC } as const;
