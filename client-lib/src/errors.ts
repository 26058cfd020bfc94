/**
 * Errors the client library rejects with.
 *
 * - `PcscError` (the daemon's own class): every SCard* failure, with pcsc-lite's exact code (unsigned), its
 *   `pcsc_stringify_error` text in the message, `needed` for SCARD_E_INSUFFICIENT_BUFFER and `readerStates` for
 *   SCardGetStatusChange timeouts and cancellations (with the caller's pvUserData put back). Transport failures are
 *   PcscErrors too, with the codes a pcsc-lite client sees when pcscd goes away:
 *   - SCARD_E_NO_SERVICE: the connector cannot be reached, the port disconnected, the connection was closed, or the
 *     connector stopped answering pings;
 *   - SCARD_E_SERVICE_STOPPED: the connector restarted under a live connection (a new instance id in a pong): every
 *     context and card handle of this connection is gone;
 *   - SCARD_F_COMM_ERROR: a message the other end could not understand (a protocol error);
 *   - SCARD_E_INVALID_PARAMETER: an argument of the wrong type or range, refused before anything was sent.
 * - `ProtocolError`: only thrown by the codec; the library turns it into one of the codes above.
 */
import { PcscError } from '../../src/pcsc/errors.js';
import { errorName } from '../../src/protocol/codec.js';

export { PcscError, isPcscError } from '../../src/pcsc/errors.js';
export { ProtocolError } from '../../src/protocol/codec.js';

/** The SCARD_* name of a code (`SCARD_W_REMOVED_CARD`), or "UNKNOWN". */
export function pcscErrorName(code: number): string {
  return errorName(code >>> 0);
}

/**
 * One line for a person: "SCARD_E_NO_SERVICE: Service not available. (0x8010001D): …" for a PcscError, the message
 * of any other error, or the value as text.
 */
export function describePcscError(e: unknown): string {
  if (e instanceof PcscError) return `${pcscErrorName(e.code)}: ${e.message}`;
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}
