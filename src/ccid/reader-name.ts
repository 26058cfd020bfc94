/**
 * The driver's friendly name for a reader: what libccid's Info.plist (`supported_readers.txt`) gives pcscd as the
 * `<name>` part of a reader name for a VID:PID.
 *
 * Over WebUSB there is no Info.plist: a reader libccid lists gets libccid's name from the generated table
 * (`reader-names.ts`), any other is named from its USB strings (iManufacturer + " " + iProduct), as pcscd names a
 * device that only the class driver (CCIDCLASSDRIVER) matches. The full reader name, `"<name> [interface] (serial) XX YY"`,
 * is the daemon's job (pcscd's RFSetReaderName): `src/pcsc/reader-name.ts`.
 */
import { hexNumber } from '../util/hex.js';
import { LIBCCID_READER_NAMES } from './reader-names.js';

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
  /** USB idVendor and idProduct: libccid's name for them wins; with no name at all, they are the name. */
  vendorId?: number;
  productId?: number;
}

function hex4(n: number): string {
  return hexNumber(n & 0xffff, 4);
}

function isUint(n: number | undefined, max: number): n is number {
  return n !== undefined && Number.isInteger(n) && n >= 0 && n <= max;
}

/** libccid's name for a VID:PID (what pcscd shows through libccid's Info.plist), if libccid lists the reader. */
export function libccidReaderName(vendorId: number, productId: number): string | undefined {
  if (!isUint(vendorId, 0xffff) || !isUint(productId, 0xffff)) return undefined;
  return LIBCCID_READER_NAMES.get(((vendorId << 16) | productId) >>> 0);
}

/**
 * The driver's friendly name for a reader: libccid's name if it lists the reader (what pcscd shows), else
 * "<iManufacturer> <iProduct>" (either alone if the other is missing), trimmed. A device with no strings at all is
 * "CCID reader VVVV:PPPP" (or "CCID reader" without ids): a name is never empty, since pcscd needs one.
 */
export function friendlyName(input: FriendlyNameInput): string {
  const ids = isUint(input.vendorId, 0xffff) && isUint(input.productId, 0xffff);
  const known = ids ? libccidReaderName(input.vendorId as number, input.productId as number) : undefined;
  if (known !== undefined) return known;
  const parts = [clean(input.manufacturer), clean(input.product)].filter((p) => p !== '');
  if (parts.length > 0) return parts.join(' ');
  if (ids) {
    return `CCID reader ${hex4(input.vendorId as number)}:${hex4(input.productId as number)}`;
  }
  return 'CCID reader';
}
