/**
 * What the daemon needs from a reader driver: pcsc-lite's IFD handler interface (`ifdhandler.h`: IFDHICCPresence,
 * IFDHPowerICC, IFDHSetProtocolParameters, IFDHTransmitToICC, IFDHControl, IFDHGetCapabilities, IFDHSetCapabilities),
 * made asynchronous. The CCID driver implements it; so can any other source of readers (a simulated memory card, a
 * remote reader). Every failure is a DriverError carrying an IFD_* code.
 */
export type PowerAction = 'up' | 'down' | 'reset';

/** A card protocol as pcsc-lite's SCARD_PROTOCOL_T0 (1) / SCARD_PROTOCOL_T1 (2) bits. */
export type IfdProtocol = 1 | 2;

export interface IfdSlot {
  /** Slot number inside its reader (the YY of pcsc-lite's reader name). */
  readonly slot: number;
  /** IFDHICCPresence: true when a card is in the slot. */
  iccPresence(): Promise<boolean>;
  /** IFDHPowerICC: 'up' and 'reset' return the ATR; 'down' returns an empty array. */
  power(action: PowerAction): Promise<Uint8Array>;
  /** IFDHSetProtocolParameters: PPS (when needed) and the reader's parameters for T=0 or T=1. */
  setProtocol(protocol: IfdProtocol): Promise<void>;
  /** IFDHTransmitToICC: one command APDU, one response APDU (status word included). */
  transmit(apdu: Uint8Array): Promise<Uint8Array>;
  /** IFDHControl. */
  control(code: number, input: Uint8Array): Promise<Uint8Array>;
  /** IFDHGetCapabilities for a SCARD_ATTR_* tag; undefined when the driver does not know the tag. */
  getAttribute(tag: number): Uint8Array | undefined;
  /** IFDHSetCapabilities. */
  setAttribute(tag: number, value: Uint8Array): Promise<void>;
  /** Card inserted (true) or removed (false), as the reader reports it (interrupt or polling). */
  onCardEvent(listener: (present: boolean) => void): () => void;
}

export interface IfdReader {
  /** The driver's friendly name for the reader (pcsc-lite's `<name>` part). */
  readonly friendlyName: string;
  /** USB interface string, if any (pcsc-lite puts it in brackets in the reader name). */
  readonly interfaceName?: string;
  /** USB serial number, if any. */
  readonly serialNumber?: string;
  readonly slots: readonly IfdSlot[];
  /** Called once when the reader goes away (unplugged or closed). */
  onRemoved(listener: () => void): () => void;
  close(): Promise<void>;
}
