/**
 * Parsed CCID class descriptor (CCID 1.1 §5.1, Table 5.1-1) and the USB facts the driver keeps about a reader.
 * Field names are the specification's. Multi-byte fields are little-endian on the wire.
 */
export interface CcidClassDescriptor {
  bLength: number;
  bDescriptorType: number;
  bcdCCID: number;
  bMaxSlotIndex: number;
  /** bit 0 = 5.0 V, bit 1 = 3.0 V, bit 2 = 1.8 V */
  bVoltageSupport: number;
  /** bit 0 = T=0, bit 1 = T=1 */
  dwProtocols: number;
  /** kHz */
  dwDefaultClock: number;
  /** kHz */
  dwMaximumClock: number;
  bNumClockSupported: number;
  /** bps */
  dwDataRate: number;
  /** bps */
  dwMaxDataRate: number;
  bNumDataRatesSupported: number;
  dwMaxIFSD: number;
  dwSynchProtocols: number;
  dwMechanical: number;
  dwFeatures: number;
  dwMaxCCIDMessageLength: number;
  bClassGetResponse: number;
  bClassEnvelope: number;
  wLcdLayout: number;
  /** bit 0 = PIN verification, bit 1 = PIN modification */
  bPINSupport: number;
  bMaxCCIDBusySlots: number;
}

/** The exchange level, from dwFeatures & 0x70000 (CCID 1.1 §5.1, dwFeatures). */
export type ExchangeLevel = 'character' | 'tpdu' | 'short-apdu' | 'extended-apdu';

/** Where the CCID interface is on the device: what the driver claims and which endpoints it uses. */
export interface CcidInterfaceInfo {
  configurationValue: number;
  interfaceNumber: number;
  alternateSetting: number;
  interfaceClass: number;
  interfaceSubclass: number;
  interfaceProtocol: number;
  /** Endpoint numbers (without the direction bit), as WebUSB's transferIn/transferOut take them. */
  bulkOut: number;
  bulkIn: number;
  interruptIn?: number;
  /** wMaxPacketSize of bulk-IN, for reading whole responses. */
  bulkInMaxPacketSize: number;
  descriptor: CcidClassDescriptor;
  /** Where the 54 class bytes were found: after the interface descriptor, or (some readers) after the last endpoint. */
  descriptorPlacement: 'interface' | 'endpoint';
  /** iInterface string index (0 = none), used in reader names. */
  iInterface: number;
  /**
   * ICCD version (ISO/IEC 7816-12; bInterfaceProtocol 1 = A, 2 = B): the token exchanges over control transfers
   * (iccd.ts) and bulkOut/bulkIn are 0 when it has no bulk endpoints.
   */
  iccd?: 'A' | 'B';
}
