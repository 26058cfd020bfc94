/**
 * PIN verification and modification structures of PC_to_RDR_Secure (CCID 1.1 §6.1.11.4–§6.1.11.7) and the insertion
 * of typed PINs into the command APDU they carry.
 *
 * abData layout (offsets in abData; +10 in the message for bError):
 *  verify: 0 bPINOperation=0, 1 bTimeOut, 2 bmFormatString, 3 bmPINBlockString, 4 bmPINLengthFormat,
 *          5–6 wPINMaxExtraDigit (max, min), 7 bEntryValidationCondition, 8 bNumberMessage, 9–10 wLangId, 11 bMsgIndex,
 *          12–14 bTeoPrologue, 15… abPINApdu.
 *  modify: 0 bPINOperation=1, 1 bTimeOut, 2 bmFormatString, 3 bmPINBlockString, 4 bmPINLengthFormat,
 *          5 bInsertionOffsetOld, 6 bInsertionOffsetNew, 7–8 wPINMaxExtraDigit, 9 bConfirmPIN,
 *          10 bEntryValidationCondition, 11 bNumberMessage, 12–13 wLangId, 14 bMsgIndex1, [bMsgIndex2 when
 *          bNumberMessage ≠ 0], [bMsgIndex3 when bNumberMessage = 3], bTeoPrologue (3), abPINApdu. (Where bMsgIndex2/3
 *          appear follows libccid's reading of the CCID table, `commands.c` SecurePINModify.)
 */

export interface PinFormat {
  /** bmFormatString bit 7: positions in bytes (true) or bits. */
  byteUnits: boolean;
  /** bmFormatString bits 6–3: where the PIN goes in the APDU data field, in units. */
  position: number;
  /** bmFormatString bit 2: right-justify the PIN inside the block. */
  rightJustify: boolean;
  /** bmFormatString bits 1–0: 0 binary, 1 BCD, 2 ASCII. */
  encoding: number;
  /** bmPINBlockString bits 7–4: size of the PIN length field in bits (0 = none). */
  lengthBits: number;
  /** bmPINBlockString bits 3–0: PIN block size in bytes (0 = the PIN's own length). */
  blockSize: number;
  /** bmPINLengthFormat bit 4: length position in bytes (true) or bits; bits 3–0: the position. */
  lengthByteUnits: boolean;
  lengthPosition: number;
  minDigits: number;
  maxDigits: number;
}

export interface PinOperation {
  operation: 'verify' | 'modify';
  format: PinFormat;
  /** modify only: where the old and new PINs go, in format units. */
  offsetOld: number;
  offsetNew: number;
  /** modify only, bConfirmPIN: bit 0 new PIN typed twice, bit 1 old PIN entry requested. */
  confirmNew: boolean;
  askOld: boolean;
  teoPrologue: Uint8Array;
  apdu: Uint8Array;
}

/** A wrong field: its offset in abData (the caller adds 10 for bError). */
export interface PinStructureError {
  offset: number;
  reason: string;
}

function readFormat(d: Uint8Array, maxExtraAt: number): PinFormat {
  const fmt = d[2]!;
  const block = d[3]!;
  const len = d[4]!;
  return {
    byteUnits: (fmt & 0x80) !== 0,
    position: (fmt >> 3) & 0x0f,
    rightJustify: (fmt & 0x04) !== 0,
    encoding: fmt & 0x03,
    lengthBits: block >> 4,
    blockSize: block & 0x0f,
    lengthByteUnits: (len & 0x10) !== 0,
    lengthPosition: len & 0x0f,
    // wPINMaxExtraDigit 0xXXYY little-endian: XX minimum, YY maximum (CCID 1.1 §6.1.11.4).
    maxDigits: d[maxExtraAt]!,
    minDigits: d[maxExtraAt + 1]!,
  };
}

export function parsePinOperation(abData: Uint8Array): PinOperation | PinStructureError {
  const op = abData[0];
  if (op === 0) {
    if (abData.length < 15 + 5) return { offset: 0, reason: 'PIN verification structure too short' };
    const format = readFormat(abData, 5);
    if (format.encoding === 3) return { offset: 2, reason: 'bmFormatString encoding 3 is reserved' };
    return {
      operation: 'verify',
      format,
      offsetOld: 0,
      offsetNew: 0,
      confirmNew: false,
      askOld: true,
      teoPrologue: abData.subarray(12, 15),
      apdu: abData.subarray(15),
    };
  }
  if (op === 1) {
    if (abData.length < 15) return { offset: 0, reason: 'PIN modification structure too short' };
    const numberMessage = abData[11]!;
    if (numberMessage > 3 && numberMessage !== 0xff) return { offset: 11, reason: 'bNumberMessage above 3' };
    let at = 15;
    if (numberMessage !== 0) at++;
    if (numberMessage === 3) at++;
    if (abData.length < at + 3 + 5) return { offset: 0, reason: 'PIN modification structure too short' };
    const format = readFormat(abData, 7);
    if (format.encoding === 3) return { offset: 2, reason: 'bmFormatString encoding 3 is reserved' };
    const confirm = abData[9]!;
    if (confirm > 3) return { offset: 9, reason: 'bConfirmPIN has reserved bits set' };
    return {
      operation: 'modify',
      format,
      offsetOld: abData[5]!,
      offsetNew: abData[6]!,
      confirmNew: (confirm & 1) !== 0,
      askOld: (confirm & 2) !== 0,
      teoPrologue: abData.subarray(at, at + 3),
      apdu: abData.subarray(at + 3),
    };
  }
  return { offset: 0, reason: `bPINOperation ${op} is not verify (0) or modify (1)` };
}

/** Writes `value` into `size` bits of `buf` starting at bit `bitPos` (bit 0 = MSB of byte 0). */
function writeBits(buf: Uint8Array, bitPos: number, size: number, value: number): boolean {
  if (bitPos + size > buf.length * 8) return false;
  for (let k = 0; k < size; k++) {
    const bit = (value >> (size - 1 - k)) & 1;
    const p = bitPos + k;
    const byte = p >> 3;
    const mask = 0x80 >> (p & 7);
    buf[byte] = bit ? buf[byte]! | mask : buf[byte]! & ~mask;
  }
  return true;
}

function encodeDigits(digits: string, encoding: number): { bits: number[]; width: number } {
  const values = [...digits].map((c) => c.charCodeAt(0) - 0x30);
  if (encoding === 1) return { bits: values, width: 4 }; // BCD: one nibble per digit
  if (encoding === 2) return { bits: values.map((v) => v + 0x30), width: 8 }; // ASCII
  return { bits: values, width: 8 }; // binary: one byte per digit
}

/**
 * Builds the APDU to send: the template from the structure with the PIN(s) inserted, and Lc adjusted when the PIN
 * block has no fixed size. Null when the PIN does not fit the template.
 */
export function insertPins(op: PinOperation, pins: { old?: string; new?: string }): Uint8Array | null {
  const f = op.format;
  const template = op.apdu;
  if (template.length < 5) return null;
  const unitBits = f.byteUnits ? 8 : 1;
  const place = (data: Uint8Array, pin: string, position: number): boolean => {
    const { bits, width } = encodeDigits(pin, f.encoding);
    const pinBits = bits.length * width;
    const blockBits = f.blockSize > 0 ? f.blockSize * 8 : pinBits;
    if (pinBits > blockBits) return false;
    let start = position * unitBits;
    if (f.rightJustify) start += blockBits - pinBits;
    for (const v of bits) {
      if (!writeBits(data, start, width, v)) return false;
      start += width;
    }
    if (f.lengthBits > 0) {
      const lenUnit = f.lengthByteUnits ? 8 : 1;
      if (!writeBits(data, f.lengthPosition * lenUnit, f.lengthBits, pin.length)) return false;
    }
    return true;
  };
  const pinBytes = (pin: string): number => {
    const { bits, width } = encodeDigits(pin, f.encoding);
    return Math.ceil((bits.length * width) / 8);
  };
  // The data field grows to hold a variable-length PIN when the block size is 0 (the template's Lc is then a minimum).
  let dataLength = template.length - 5;
  const fixed = f.blockSize > 0;
  const needed = (pin: string, pos: number) => Math.ceil((pos * unitBits) / 8) + (fixed ? f.blockSize : pinBytes(pin));
  if (op.operation === 'verify' && pins.old !== undefined)
    dataLength = Math.max(dataLength, needed(pins.old, f.position));
  if (op.operation === 'modify') {
    if (pins.old !== undefined) dataLength = Math.max(dataLength, needed(pins.old, op.offsetOld));
    if (pins.new !== undefined) dataLength = Math.max(dataLength, needed(pins.new, op.offsetNew));
  }
  if (!fixed) {
    // Without a fixed block, the data field is exactly what the PINs occupy.
    dataLength = 0;
    if (op.operation === 'verify' && pins.old !== undefined) dataLength = needed(pins.old, f.position);
    if (op.operation === 'modify') {
      if (pins.old !== undefined) dataLength = Math.max(dataLength, needed(pins.old, op.offsetOld));
      if (pins.new !== undefined) dataLength = Math.max(dataLength, needed(pins.new, op.offsetNew));
    }
  }
  if (dataLength > 255) return null;
  const apdu = new Uint8Array(5 + dataLength);
  apdu.set(template.subarray(0, Math.min(template.length, apdu.length)));
  apdu[4] = dataLength;
  const data = apdu.subarray(5);
  if (op.operation === 'verify') {
    if (pins.old === undefined || !place(data, pins.old, f.position)) return null;
  } else {
    if (pins.old !== undefined && !place(data, pins.old, op.offsetOld)) return null;
    if (pins.new === undefined || !place(data, pins.new, op.offsetNew)) return null;
  }
  return apdu;
}
