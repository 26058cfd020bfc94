import { classifyApdu } from './apdu.js';
import { DriverError, IFD } from '../ifd/errors.js';

/**
 * Mapping a command APDU onto a T=0 command TPDU, ISO/IEC 7816-3 §12.2, for TPDU-level readers (the reader runs the
 * procedure bytes; the driver hands it a TPDU).
 *
 * libccid sends the APDU to a TPDU reader verbatim (`CmdXfrBlockTPDU_T0`), which leaves case 1 without its P3 and case 4
 * with a trailing Le that T=0 has no place for; readers then guess. We do what §12.2 prescribes instead:
 *  - case 1: the header gets P3 = 00 (§12.2.2);
 *  - case 2S, 3S: the TPDU is the APDU (§12.2.3, §12.2.4);
 *  - case 4S: sent as case 3S, without Le (§12.2.5). The card answers 61xx; like libccid and pcsc-lite, the driver
 *    returns 61xx and 6Cxx to the application, which issues GET RESPONSE or re-sends with the right Le itself.
 *  - extended cases: T=0 cannot carry them in one TPDU; §12.2.6–7 send them by ENVELOPE, which only cards that know
 *    ENVELOPE accept. We refuse them with a clear error rather than guessing (libccid fails them too, as too long).
 * An APDU that fits no case is passed through unchanged, as libccid does: the card will answer with its own error.
 */
export function apduToT0Tpdu(apdu: Uint8Array): Uint8Array {
  const shape = classifyApdu(apdu);
  if (shape === undefined) {
    if (apdu.length < 4) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `a command APDU needs at least 4 bytes (CLA INS P1 P2), got ${apdu.length}`,
      );
    }
    return apdu;
  }
  switch (shape.case) {
    case '1': {
      const tpdu = new Uint8Array(5);
      tpdu.set(apdu);
      return tpdu;
    }
    case '2S':
    case '3S':
      return apdu;
    case '4S':
      return apdu.subarray(0, apdu.length - 1);
    default:
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `an extended-length APDU (case ${shape.case}, ${apdu.length} bytes) cannot be sent over T=0 by a TPDU reader; ` +
          'use a T=1 card or an extended-APDU reader',
      );
  }
}
