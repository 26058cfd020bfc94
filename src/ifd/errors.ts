/**
 * Driver errors as values.
 *
 * The driver answers the daemon the way an IFD handler answers pcscd (pcsc-lite `ifdhandler.h`): with an IFD_* code.
 * Every failure carries one, plus a message a person can act on, so the daemon can map it to the PC/SC code pcscd
 * would return (e.g. IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE, IFD_ICC_NOT_PRESENT → SCARD_E_NO_SMARTCARD).
 */

/** IFD handler return codes, with pcsc-lite's exact names and values (`ifdhandler.h`). */
export const IFD = {
  SUCCESS: 0,
  ERROR_TAG: 600,
  ERROR_SET_FAILURE: 601,
  ERROR_VALUE_READ_ONLY: 602,
  ERROR_PTS_FAILURE: 605,
  ERROR_NOT_SUPPORTED: 606,
  PROTOCOL_NOT_SUPPORTED: 607,
  ERROR_POWER_ACTION: 608,
  ERROR_SWALLOW: 609,
  ERROR_EJECT: 610,
  ERROR_CONFISCATE: 611,
  COMMUNICATION_ERROR: 612,
  RESPONSE_TIMEOUT: 613,
  NOT_SUPPORTED: 614,
  ICC_PRESENT: 615,
  ICC_NOT_PRESENT: 616,
  NO_SUCH_DEVICE: 617,
  ERROR_INSUFFICIENT_BUFFER: 618,
} as const;

export type IfdCode = (typeof IFD)[keyof typeof IFD];

const IFD_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(IFD).map(([name, code]) => [code, `IFD_${name}`]),
);

/** `IFD_COMMUNICATION_ERROR` → "IFD_COMMUNICATION_ERROR"; unknown codes print as numbers. */
export function ifdCodeName(code: number): string {
  return IFD_NAMES[code] ?? `IFD code ${code}`;
}

/** A failure of the reader driver: an IFD_* code and a human explanation. */
export class DriverError extends Error {
  override readonly name = 'DriverError';
  constructor(
    readonly code: IfdCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The reader went away (unplugged, or the device was closed under us): every pending and later call gets this. */
export function readerRemoved(detail = 'the reader was removed'): DriverError {
  return new DriverError(IFD.NO_SUCH_DEVICE, detail);
}

export function isDriverError(e: unknown, code?: IfdCode): e is DriverError {
  return e instanceof DriverError && (code === undefined || e.code === code);
}
