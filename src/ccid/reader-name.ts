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
import { LIBCCID_READER_NAMES_PACKED, READER_WORD_MARKS, READER_WORDS } from './reader-names.js';

/**
 * Expands the packed table of reader-names.ts (format: scripts/gen-reader-names.mjs) into VID << 16 | PID → name:
 * the word marks (none is '!', '|', a digit or a lowercase letter) are replaced first, then each '|'-separated record
 * is `[!VVVV]PPPP` + a base-36 digit k + the rest of the name, which starts with the previous name's first k
 * characters.
 */
export function unpackReaderNames(
  packed: string,
  words: readonly string[] = READER_WORDS,
  marks: string = READER_WORD_MARKS,
): Map<number, string> {
  const names = new Map<number, string>();
  if (packed === '') return names;
  const text = packed.replace(/[^!|0-9a-z]/g, (c) => {
    const i = marks.indexOf(c);
    return i === -1 ? c : (words[i] as string);
  });
  let vendor = 0;
  let previous = '';
  for (let record of text.split('|')) {
    if (record[0] === '!') {
      vendor = Number.parseInt(record.slice(1, 5), 16);
      record = record.slice(5);
    }
    const name = previous.slice(0, Number.parseInt(record.charAt(4), 36)) + record.slice(5);
    names.set(((vendor << 16) | Number.parseInt(record.slice(0, 4), 16)) >>> 0, name);
    previous = name;
  }
  return names;
}

let readerNames: ReadonlyMap<number, string> | undefined;

/** libccid's reader names, VID << 16 | PID → name: unpacked at the first call (not at worker start), then kept. */
export function libccidReaderNames(): ReadonlyMap<number, string> {
  readerNames ??= unpackReaderNames(LIBCCID_READER_NAMES_PACKED);
  return readerNames;
}

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
  return libccidReaderNames().get(((vendorId << 16) | productId) >>> 0);
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
