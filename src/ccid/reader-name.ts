/**
 * The driver's friendly name for a reader: what libccid's Info.plist (`supported_readers.txt`) gives pcscd as the
 * `<name>` part of a reader name for a VID:PID.
 *
 * Over WebUSB there is no Info.plist: a reader in the known-readers table keeps libccid's name, any other is named
 * from its USB strings (iManufacturer + " " + iProduct). The full reader name, `"<name> [interface] (serial) XX YY"`,
 * is the daemon's job (pcscd's RFSetReaderName): `src/pcsc/reader-name.ts`.
 */
import { hexNumber } from '../util/hex.js';

/** A C string ends at its first NUL: keep what a C reader of the USB string would see. */
function cString(s: string | undefined): string {
  if (s === undefined) return '';
  const nul = s.indexOf('\0');
  return nul === -1 ? s : s.slice(0, nul);
}

function clean(s: string | undefined): string {
  return cString(s).trim();
}

export interface FriendlyNameInput {
  /** USB iManufacturer string (WebUSB `manufacturerName`). */
  manufacturer?: string;
  /** USB iProduct string (WebUSB `productName`). */
  product?: string;
  /** The known-readers table name (libccid's name for this VID:PID), which wins when present. */
  knownName?: string;
  /** Used only when there is no other name at all. */
  vendorId?: number;
  productId?: number;
}

function hex4(n: number): string {
  return hexNumber(n & 0xffff, 4);
}

function isUint(n: number | undefined, max: number): n is number {
  return n !== undefined && Number.isInteger(n) && n >= 0 && n <= max;
}

/**
 * The driver's friendly name for a reader: the known-readers name if any (what pcscd shows with libccid), else
 * "<iManufacturer> <iProduct>" (either alone if the other is missing), trimmed. A device with no strings at all is
 * "CCID reader VVVV:PPPP" (or "CCID reader" without ids): a name is never empty, since pcscd needs one.
 */
export function friendlyName(input: FriendlyNameInput): string {
  const known = clean(input.knownName);
  if (known !== '') return known;
  const parts = [clean(input.manufacturer), clean(input.product)].filter((p) => p !== '');
  if (parts.length > 0) return parts.join(' ');
  if (isUint(input.vendorId, 0xffff) && isUint(input.productId, 0xffff)) {
    return `CCID reader ${hex4(input.vendorId)}:${hex4(input.productId)}`;
  }
  return 'CCID reader';
}
