import { describe, expect, it } from 'vitest';
import { CCID_ERR, RDR_to_PC_DataBlock, RDR_to_PC_SlotStatus, messageTypeName } from '../../../src/ccid/constants.js';
import { DriverError, IFD } from '../../../src/ifd/errors.js';
import {
  CcidCommandError,
  decodeInterrupt,
  decodeResponse,
  describeBError,
  encodeAbort,
  encodeEscape,
  encodeGetParameters,
  encodeGetSlotStatus,
  encodeIccClock,
  encodeIccPowerOff,
  encodeIccPowerOn,
  encodeMechanical,
  encodeResetParameters,
  encodeSecure,
  encodeSetDataRateAndClockFrequency,
  encodeSetParameters,
  encodeT0APDU,
  encodeXfrBlock,
  frameXfrBlock,
  pinFailureStatusWord,
  responseError,
  type CcidResponse,
} from '../../../src/ccid/messages.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function response(
  type: number,
  slot: number,
  seq: number,
  status: number,
  error: number,
  param: number,
  data: number[] = [],
) {
  const b = new Uint8Array(10 + data.length);
  b[0] = type;
  new DataView(b.buffer).setUint32(1, data.length, true);
  b.set([slot, seq, status, error, param], 5);
  b.set(data, 10);
  return b;
}

describe('command encoders (CCID 1.1 §6.1)', () => {
  it('encode the header: type, dwLength LE, bSlot, bSeq, three specific bytes', () => {
    expect(hex(encodeIccPowerOn(1, 7, 2))).toBe('62000000000107020000');
    expect(hex(encodeIccPowerOff(0, 255))).toBe('630000000000ff000000');
    expect(hex(encodeGetSlotStatus(0, 0))).toBe('65000000000000000000');
    expect(hex(encodeGetParameters(0, 3))).toBe('6c000000000003000000');
    expect(hex(encodeResetParameters(0, 3))).toBe('6d000000000003000000');
    expect(hex(encodeIccClock(0, 1, 1))).toBe('6e000000000001010000');
    expect(hex(encodeMechanical(0, 2, 2))).toBe('71000000000002020000');
    expect(hex(encodeAbort(1, 9))).toBe('72000000000109000000');
  });

  it('encodes T0APDU bytes 7..9 as bmChanges, bClassGetResponse, bClassEnvelope', () => {
    expect(hex(encodeT0APDU(0, 1, 3, 0xff, 0x80))).toBe('6a00000000000103ff80');
  });

  it('encodes XfrBlock with bBWI and wLevelParameter little-endian, and the data', () => {
    const msg = encodeXfrBlock(0, 5, Uint8Array.of(0x00, 0xa4, 0x04, 0x00), 4, 0x0102);
    expect(hex(msg)).toBe('6f040000000005040201' + '00a40400');
    expect(msg.length).toBe(14);
    expect(hex(encodeXfrBlock(0, 5, new Uint8Array(0)))).toBe('6f000000000005000000');
  });

  it('encodes a long XfrBlock with all four dwLength bytes', () => {
    const msg = encodeXfrBlock(0, 0, new Uint8Array(0x10203));
    expect(Array.from(msg.subarray(1, 5))).toEqual([0x03, 0x02, 0x01, 0x00]);
    expect(msg.length).toBe(10 + 0x10203);
  });

  it('encodes SetParameters with bProtocolNum and checks the structure size', () => {
    const t1 = Uint8Array.of(0x11, 0x10, 0x00, 0x4d, 0x00, 0x20, 0x00);
    expect(hex(encodeSetParameters(0, 2, 1, t1))).toBe('61070000000002010000' + '1110004d002000');
    const t0 = Uint8Array.of(0x11, 0x00, 0x00, 0x0a, 0x00);
    expect(hex(encodeSetParameters(0, 2, 0, t0))).toBe('61050000000002000000' + '1100000a00');
    expect(() => encodeSetParameters(0, 2, 1, t0)).toThrow(/7-byte protocol structure/);
    expect(() => encodeSetParameters(0, 2, 2 as 0, t0)).toThrow(DriverError);
  });

  it('encodes Escape, Secure and SetDataRateAndClockFrequency with their data', () => {
    expect(hex(encodeEscape(0, 1, Uint8Array.of(0xaa, 0xbb)))).toBe('6b020000000001000000aabb');
    expect(hex(encodeSecure(0, 1, Uint8Array.of(0x00, 0x1e), 0, 0x0300))).toBe('69020000000001000003001e');
    expect(hex(encodeSetDataRateAndClockFrequency(0, 1, 4000, 10752))).toBe('73080000000001000000a00f0000002a0000');
  });

  it('reject values that do not fit their field with a DriverError', () => {
    expect(() => encodeIccPowerOn(256, 0, 0)).toThrow(/bSlot 256/);
    expect(() => encodeGetSlotStatus(0, -1)).toThrow(/bSeq -1/);
    expect(() => encodeXfrBlock(0, 0, new Uint8Array(0), 256)).toThrow(/bBWI 256/);
    expect(() => encodeXfrBlock(0, 0, new Uint8Array(0), 0, 0x10000)).toThrow(/wLevelParameter/);
    expect(() => encodeXfrBlock(0, 0, new Uint8Array(0), 1.5)).toThrow(DriverError);
    expect(() => encodeSetDataRateAndClockFrequency(0, 0, -1, 0)).toThrow(/dwClockFrequency/);
  });
});

describe('decodeResponse (CCID 1.1 §6.2)', () => {
  it('decodes the header, bStatus fields and data', () => {
    const r = decodeResponse(response(RDR_to_PC_DataBlock, 1, 42, 0x00, 0, 0x02, [0x3b, 0x00]));
    expect(r).toMatchObject({
      type: 0x80,
      slot: 1,
      seq: 42,
      status: 0,
      error: 0,
      iccStatus: 0,
      commandStatus: 0,
      param: 2,
    });
    expect(Array.from(r.data)).toEqual([0x3b, 0x00]);
  });

  it('splits bStatus into bmICCStatus and bmCommandStatus', () => {
    expect(decodeResponse(response(0x81, 0, 0, 0x42, 0xfe, 0))).toMatchObject({
      iccStatus: 2,
      commandStatus: 1,
      error: 0xfe,
    });
    expect(decodeResponse(response(0x80, 0, 0, 0x80, 5, 0))).toMatchObject({
      iccStatus: 0,
      commandStatus: 2,
      error: 5,
    });
    expect(decodeResponse(response(0x81, 0, 0, 0x01, 0, 0))).toMatchObject({ iccStatus: 1, commandStatus: 0 });
  });

  it('rejects a response shorter than the header', () => {
    expect(() => decodeResponse(new Uint8Array(9))).toThrow(/9-byte response/);
  });

  it('rejects a length mismatch in either direction instead of truncating', () => {
    const full = response(0x80, 0, 3, 0, 0, 0, [1, 2, 3]);
    expect(() => decodeResponse(full.subarray(0, 12))).toThrow(/announces 3 data bytes but carries 2/);
    const longer = new Uint8Array(14);
    longer.set(full);
    expect(() => decodeResponse(longer)).toThrow(/announces 3 data bytes but carries 4/);
    try {
      decodeResponse(longer);
    } catch (e) {
      expect(e).toBeInstanceOf(DriverError);
      expect((e as DriverError).code).toBe(IFD.COMMUNICATION_ERROR);
    }
  });

  it('rejects reserved status values', () => {
    expect(() => decodeResponse(response(0x81, 0, 0, 0x03, 0, 0))).toThrow(/bmICCStatus/);
    expect(() => decodeResponse(response(0x81, 0, 0, 0xc0, 0, 0))).toThrow(/bmCommandStatus/);
  });

  it('returns data as a view into the received bytes (no copy on the hot path)', () => {
    const bytes = response(0x80, 0, 0, 0, 0, 0, [9, 8, 7]);
    const r = decodeResponse(bytes);
    expect(r.data.buffer).toBe(bytes.buffer);
    expect(r.data.byteOffset).toBe(10);
  });
});

describe('decodeInterrupt (CCID 1.1 §6.3)', () => {
  it('decodes NotifySlotChange with two bits per slot', () => {
    // slot 0 present+changed (0b11), slot 1 absent+changed (0b10), slot 2 present (0b01), slot 3 nothing; slot 4 present
    const m = decodeInterrupt(Uint8Array.of(0x50, 0b00_01_10_11, 0b01), 4);
    expect(m).toEqual({
      kind: 'slot-change',
      slots: [
        { slot: 0, present: true, changed: true },
        { slot: 1, present: false, changed: true },
        { slot: 2, present: true, changed: false },
        { slot: 3, present: false, changed: false },
        { slot: 4, present: true, changed: false },
      ],
    });
  });

  it('reports only the reader’s slots', () => {
    const m = decodeInterrupt(Uint8Array.of(0x50, 0xff), 0);
    expect(m).toEqual({ kind: 'slot-change', slots: [{ slot: 0, present: true, changed: true }] });
  });

  it('rejects a NotifySlotChange too short for the slots', () => {
    expect(() => decodeInterrupt(Uint8Array.of(0x50, 0xff), 4)).toThrow(/5 slot\(s\) need 3/);
  });

  it('decodes HardwareError', () => {
    expect(decodeInterrupt(Uint8Array.of(0x51, 1, 9, 1), 1)).toEqual({
      kind: 'hardware-error',
      slot: 1,
      seq: 9,
      code: 1,
    });
    expect(() => decodeInterrupt(Uint8Array.of(0x51, 1, 9), 1)).toThrow(/defines 4/);
  });

  it('rejects other and empty messages', () => {
    expect(() => decodeInterrupt(Uint8Array.of(0x80), 0)).toThrow(/type 0x80/);
    expect(() => decodeInterrupt(new Uint8Array(0), 0)).toThrow(/empty/);
  });
});

describe('failed responses', () => {
  const failed = (error: number, iccStatus = 0, slot = 0): CcidResponse =>
    decodeResponse(response(RDR_to_PC_SlotStatus, slot, 0, 0x40 | iccStatus, error, 0));

  it('ICC_MUTE means no card when bmICCStatus says absent', () => {
    const e = responseError(failed(CCID_ERR.ICC_MUTE, 2), 'power on');
    expect(e.code).toBe(IFD.ICC_NOT_PRESENT);
    expect(e.message).toMatch(/power on failed: there is no card in slot 0/);
  });

  it('ICC_MUTE with a card present means the card is mute', () => {
    const e = responseError(failed(CCID_ERR.ICC_MUTE, 1), 'power on');
    expect(e.code).toBe(IFD.RESPONSE_TIMEOUT);
    expect(e.message).toMatch(/mute/);
  });

  it('a parity error is a communication error flagged for the T=1 layer', () => {
    const e = responseError(failed(CCID_ERR.XFR_PARITY_ERROR), 'T=1 block');
    expect(e).toBeInstanceOf(CcidCommandError);
    expect(e.code).toBe(IFD.COMMUNICATION_ERROR);
    expect(e.isParityError).toBe(true);
    expect(responseError(failed(CCID_ERR.HW_ERROR), 'x').isParityError).toBe(false);
  });

  it('bError 0 is IFD_NOT_SUPPORTED and a protocol refusal is IFD_PROTOCOL_NOT_SUPPORTED', () => {
    expect(responseError(failed(0), 'escape').code).toBe(IFD.NOT_SUPPORTED);
    expect(responseError(failed(CCID_ERR.ICC_PROTOCOL_NOT_SUPPORTED), 'set parameters').code).toBe(
      IFD.PROTOCOL_NOT_SUPPORTED,
    );
  });

  it('slot busy tells the caller to retry', () => {
    const e = responseError(failed(CCID_ERR.CMD_SLOT_BUSY, 0, 1), 'transmit');
    expect(e.code).toBe(IFD.COMMUNICATION_ERROR);
    expect(e.message).toMatch(/slot 1 is busy.*retry/);
  });

  it('a bad field index names the field', () => {
    expect(responseError(failed(7), 'power on').message).toMatch(/offset 7 .*byte 7/);
    expect(describeBError(5)).toMatch(/bSlot/);
    expect(describeBError(12)).toMatch(/abData byte 2/);
  });

  it('PIN cancelled and PIN timeout stand for status words 64 01 and 64 00', () => {
    expect(Array.from(pinFailureStatusWord(failed(CCID_ERR.PIN_CANCELLED))!)).toEqual([0x64, 0x01]);
    expect(Array.from(pinFailureStatusWord(failed(CCID_ERR.PIN_TIMEOUT))!)).toEqual([0x64, 0x00]);
    expect(pinFailureStatusWord(failed(CCID_ERR.ICC_MUTE))).toBeUndefined();
    const ok = decodeResponse(response(0x80, 0, 0, 0x00, CCID_ERR.PIN_CANCELLED, 0));
    expect(pinFailureStatusWord(ok)).toBeUndefined();
    expect(responseError(failed(CCID_ERR.PIN_CANCELLED), 'verify PIN').message).toMatch(/cancelled/);
  });

  it('describes every bError with words a person can act on', () => {
    for (const v of Object.values(CCID_ERR)) expect(describeBError(v)).not.toMatch(/unknown/);
    expect(describeBError(0x90)).toBe('unknown CCID error 0x90');
  });

  it('names message types', () => {
    expect(messageTypeName(0x6f)).toBe('PC_to_RDR_XfrBlock');
    expect(messageTypeName(0x99)).toBe('unknown message type 0x99');
  });
});

describe('frameXfrBlock (PC_to_RDR_XfrBlock framed in place)', () => {
  it('writes the header encodeXfrBlock would, over the data already after it', () => {
    for (const length of [0, 1, 4, 259]) {
      const data = Uint8Array.from({ length }, (_, i) => (i * 31 + 5) & 0xff);
      for (const bwi of [0, 1, 255]) {
        const msg = new Uint8Array(10 + length);
        msg.set(data, 10);
        expect(frameXfrBlock(msg, 0, 0x42, bwi)).toBe(msg);
        expect(hex(msg)).toBe(hex(encodeXfrBlock(0, 0x42, data, bwi)));
      }
    }
  });

  it('refuses what encodeXfrBlock refuses, and an array too short for the header', () => {
    const msg = new Uint8Array(12);
    expect(() => frameXfrBlock(msg, 0, 1, 256)).toThrow(DriverError);
    expect(() => frameXfrBlock(msg, 256, 1)).toThrow(DriverError);
    expect(() => frameXfrBlock(msg, 0, -1)).toThrow(DriverError);
    expect(() => frameXfrBlock(new Uint8Array(9), 0, 1)).toThrow(DriverError);
  });
});
