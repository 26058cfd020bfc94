/**
 * Reader names as pcscd builds them (the reader factory's side: RFAddReader, RFSetReaderName).
 *
 * pcsc-lite 1.9.9 `src/hotplug_libudev.c` `HPAddDevice` composes `"<name>[ [<interface>]][ (<serial>)]"`:
 * - `<name>` is the driver's friendly name (`IfdReader.friendlyName`, libccid's Info.plist name);
 * - `[<interface>]` is the USB iInterface string, every non-ASCII byte replaced by '.';
 * - `(<serial>)` is the USB iSerialNumber, left out when the interface string already contains it.
 * `src/readerfactory.c` `RFAddReader` cuts that to MAX_READERNAME − sizeof(" 00 00") = 121 bytes and `RFSetReaderName`
 * appends `" %02X 00"` with the first index not used by another reader of the same driver; the other slots of a
 * multi-slot reader get the same text with the last two digits replaced by the slot number (`"%02X"`).
 *
 * The driver's own part, composing `<name>` from the USB strings or its table of known readers, stays in the driver.
 */
import { MAX_READERNAME, PCSCLITE_MAX_READERS_CONTEXTS } from './constants.js';
import { hexNumber } from '../util/hex.js';

/** Bytes the name may take before " XX YY": 128 − sizeof(" 00 00") (7, the NUL included) = 121. */
export const MAX_READER_NAME_PREFIX_BYTES = MAX_READERNAME - ' 00 00'.length - 1;

/** A C string ends at its first NUL: keep what a C reader of the USB string would see. */
function cString(s: string | undefined): string {
  if (s === undefined) return '';
  const nul = s.indexOf('\0');
  return nul === -1 ? s : s.slice(0, nul);
}

function isUint(n: number | undefined, max: number): n is number {
  return n !== undefined && Number.isInteger(n) && n >= 0 && n <= max;
}

/** pcsc-lite checks `isascii()` byte by byte: each byte of a non-ASCII character's UTF-8 form becomes one '.'. */
function asciiOnly(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) out += ch;
    else out += '.'.repeat(cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
  }
  return out;
}

const encoder = new TextEncoder();

/** Cut to at most `max` UTF-8 bytes, never inside a character (pcscd cuts bytes; we keep the string valid). */
function cutUtf8(s: string, max: number): string {
  if (encoder.encode(s).length <= max) return s;
  let out = '';
  let used = 0;
  for (const ch of s) {
    const n = encoder.encode(ch).length;
    if (used + n > max) break;
    out += ch;
    used += n;
  }
  return out;
}

function hex2(n: number): string {
  return hexNumber(n, 2);
}

export interface ReaderNameInput {
  /** The driver's friendly name (`IfdReader.friendlyName`). */
  friendly: string;
  /** USB iInterface string; absent or empty = none. */
  interfaceString?: string;
  /** USB iSerialNumber string; absent or empty = none. */
  serial?: string;
  /** The reader's index among readers of this driver (`firstFreeIndex`), 0–255. */
  index: number;
  /** The slot number (bSlot), 0–255. */
  slot: number;
}

/**
 * `"<name>[ [<interface>]][ (<serial>)] XX YY"`, as pcscd names the reader's slot. Throws RangeError when index or
 * slot does not fit two hex digits (pcscd never produces such names).
 */
export function buildReaderName(input: ReaderNameInput): string {
  if (!isUint(input.index, 0xff)) throw new RangeError(`reader index must be 0..255, got ${input.index}`);
  if (!isUint(input.slot, 0xff)) throw new RangeError(`slot number must be 0..255, got ${input.slot}`);
  const iface = cString(input.interfaceString);
  const serial = cString(input.serial);
  let name = cString(input.friendly);
  if (iface !== '') name += ` [${asciiOnly(iface)}]`;
  // hotplug_libudev.c looks for the serial in the original interface string (before the '.' replacement).
  if (serial !== '' && (iface === '' || !iface.includes(serial))) name += ` (${serial})`;
  return `${cutUtf8(name, MAX_READER_NAME_PREFIX_BYTES)} ${hex2(input.index)} ${hex2(input.slot)}`;
}

/**
 * `RFSetReaderName`: the lowest index (0, 1, …) that no reader of the same driver uses, or undefined when all
 * `limit` (PCSCLITE_MAX_READERS_CONTEXTS = 16) are taken (pcscd then refuses the reader: SCARD_E_NO_MEMORY).
 */
export function firstFreeIndex(
  usedIndexes: Iterable<number>,
  limit: number = PCSCLITE_MAX_READERS_CONTEXTS,
): number | undefined {
  const used = new Set(usedIndexes);
  for (let i = 0; i < limit; i++) if (!used.has(i)) return i;
  return undefined;
}

/** The index ("XX") of a reader name built by `buildReaderName`, as pcscd reads it back; undefined if malformed. */
export function readerNameIndex(name: string): number | undefined {
  const m = / ([0-9A-F]{2}) [0-9A-F]{2}$/.exec(name);
  return m?.[1] === undefined ? undefined : Number.parseInt(m[1], 16);
}
