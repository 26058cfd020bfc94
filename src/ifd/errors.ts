/**
 * Driver errors as values.
 *
 * The driver answers the daemon the way an IFD handler answers pcscd (pcsc-lite `ifdhandler.h`): with an IFD_* code.
 * Every failure carries one, plus a message a person can act on, so the daemon can map it to the PC/SC code pcscd
 * would return (e.g. IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE, IFD_ICC_NOT_PRESENT → SCARD_E_NO_SMARTCARD).
 */

/** IFD handler return codes, with pcsc-lite's exact names and values (`ifdhandler.h`), as `IFD.X`. */
import * as IFD from './codes.js';
export { IFD };

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
