import { describe, expect, it } from 'vitest';
import { IFD, isDriverError } from '../../../src/ifd/errors.js';
import { readerQuirks } from '../../../src/ccid/known-readers.js';
import { crc16 as t1Crc } from '../../../src/ccid/edc.js';
import {
  featureIoctl,
  featureTlvs,
  isEscapeIoctl,
  isFeatureIoctl,
  isGetFeatureRequest,
  needsUnpaddedPinEscape,
  parsePinModifyStructure,
  parsePinVerifyStructure,
  parseT1SecureReply,
  pinProperties,
  secureBodyFromModify,
  secureBodyFromVerify,
  secureTimeoutMs,
  t1SecurePrologue,
  t1WtxResponse,
  tlvProperties,
} from '../../../src/ccid/part10.js';

const hex = (s: string) =>
  Uint8Array.from(
    s
      .trim()
      .split(/\s+/)
      .map((b) => Number.parseInt(b, 16)),
  );
const show = (u: Uint8Array) => [...u].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');

// VERIFY (ISO 7816-4) with an 8-byte PIN block template: 00 20 00 01 08 + 8 x FF.
const VERIFY_APDU = '00 20 00 01 08 FF FF FF FF FF FF FF FF';
// bTimeOut 0x1E, bTimeOut2 0, fmt 0x82, block 0x08, lenfmt 0x00, wPINMaxExtraDigit 0x0408 (min 4, max 8),
// validation 0x02, bNumberMessage 0x01, wLangId 0x0409, bMsgIndex 0, prologue 00 00 00, ulDataLength 13.
const PVS = hex(`1E 00 82 08 00 08 04 02 01 09 04 00 00 00 00 0D 00 00 00 ${VERIFY_APDU}`);
// CHANGE REFERENCE DATA: 00 24 00 01 10 + 16 x FF.
const MODIFY_APDU = `00 24 00 01 10 ${'FF '.repeat(16)}`;
// bTimeOut 0, bTimeOut2 0, fmt 0x82, block 0x08, lenfmt 0, offsets 0 8, wPINMaxExtraDigit 0x0408, bConfirmPIN 3,
// validation 2, bNumberMessage 3, wLangId 0x0409, msg 0 1 2, prologue 00 00 00, ulDataLength 21.
const PMS = hex(`00 00 82 08 00 00 08 08 04 03 02 03 09 04 00 01 02 00 00 00 15 00 00 00 ${MODIFY_APDU}`);

describe('control codes', () => {
  it('maps feature tags to 0x42330000 + tag', () => {
    expect(featureIoctl(0x06)).toBe(0x42330006);
    expect(featureIoctl(0x12)).toBe(0x42330012);
    expect(isFeatureIoctl(0x4233000a)).toBe(0x0a);
    expect(isFeatureIoctl(0x42330000)).toBeUndefined();
    expect(isFeatureIoctl(0x42000d48)).toBeUndefined();
  });

  it('recognises the feature request, also under its Windows value, and the escape code', () => {
    expect(isGetFeatureRequest(0x42000d48)).toBe(true);
    expect(isGetFeatureRequest(0x313520)).toBe(true);
    expect(isGetFeatureRequest(0x42000001)).toBe(false);
    expect(isEscapeIoctl(0x42000001)).toBe(true);
    expect(isEscapeIoctl(0x42000d48)).toBe(false);
  });
});

describe('featureTlvs', () => {
  it('offers only GET_TLV_PROPERTIES on a reader without PIN pad or escape', () => {
    expect(show(featureTlvs({ descriptor: { bPINSupport: 0 }, escapeAllowed: false }))).toBe('12 04 42 33 00 12');
  });

  it('lists verify, modify, PIN properties, TLV properties and escape in libccid order', () => {
    expect(show(featureTlvs({ descriptor: { bPINSupport: 3 }, escapeAllowed: true }))).toBe(
      '06 04 42 33 00 06 07 04 42 33 00 07 0A 04 42 33 00 0A 12 04 42 33 00 12 13 04 42 00 00 01',
    );
  });

  it('offers modify without verify when only bPINSupport bit 1 is set', () => {
    expect(show(featureTlvs({ descriptor: { bPINSupport: 2 }, escapeAllowed: false }))).toBe(
      '07 04 42 33 00 07 0A 04 42 33 00 0A 12 04 42 33 00 12',
    );
  });

  it('adds MCT_READER_DIRECT before GET_TLV_PROPERTIES for Kobil readers', () => {
    expect(show(featureTlvs({ descriptor: { bPINSupport: 0 }, escapeAllowed: false, mctReaderDirect: true }))).toBe(
      '08 04 42 33 00 08 12 04 42 33 00 12',
    );
  });
});

describe('pinProperties', () => {
  it('gives wLcdLayout, validation 0x07 by default and bTimeOut2 0', () => {
    expect(show(pinProperties({ wLcdLayout: 0x0210 }))).toBe('10 02 07 00');
  });

  it('uses the reader override of bEntryValidationCondition', () => {
    expect(show(pinProperties({ wLcdLayout: 0 }, readerQuirks(0x08e6, 0x3478).pinProperties))).toBe('00 00 02 00');
  });
});

describe('tlvProperties', () => {
  it('describes a TPDU reader without display', () => {
    const out = tlvProperties({
      descriptor: { wLcdLayout: 0, dwFeatures: 0x00010230 },
      vendorId: 0x08e6,
      productId: 0x3437,
    });
    expect(show(out)).toBe('01 02 00 00 03 01 00 09 01 00 0B 02 E6 08 0C 02 37 34 0A 04 00 00 01 00');
  });

  it('adds LCD characters and lines for a reader with a display', () => {
    const out = tlvProperties({
      descriptor: { wLcdLayout: 0x0210, dwFeatures: 0x00020000 },
      vendorId: 1,
      productId: 2,
    });
    expect(show(out)).toBe(
      '01 02 10 02 04 02 10 00 05 02 02 00 03 01 00 09 01 00 0B 02 01 00 0C 02 02 00 0A 04 00 00 00 00',
    );
  });

  it('reports 64 KiB APDUs for extended APDU readers and PPDU support when escape is allowed', () => {
    const out = tlvProperties({
      descriptor: { wLcdLayout: 0, dwFeatures: 0x00040000 },
      vendorId: 0,
      productId: 0,
      escapeAllowed: true,
    });
    expect(show(out.subarray(7, 10))).toBe('09 01 01');
    expect(show(out.subarray(-6))).toBe('0A 04 00 00 01 00');
  });

  it('adds the firmware id and the PIN sizes libccid knows, in its order', () => {
    const out = tlvProperties({
      descriptor: { wLcdLayout: 0, dwFeatures: 0x00010000 },
      vendorId: 0x08e6,
      productId: 0x3478,
      firmware: hex('41 42'),
      pinSizes: { minPinSize: 4, maxPinSize: 8, entryValidation: 2 },
    });
    expect(show(out.subarray(0, 20))).toBe('01 02 00 00 03 01 00 08 02 41 42 06 01 04 07 01 08 02 01 02');
  });

  it('refuses a firmware id too long for a TLV length byte', () => {
    expect(() =>
      tlvProperties({
        descriptor: { wLcdLayout: 0, dwFeatures: 0 },
        vendorId: 0,
        productId: 0,
        firmware: new Uint8Array(256),
      }),
    ).toThrow(RangeError);
  });
});

describe('parsePinVerifyStructure', () => {
  it('reads every field of the reader.h layout', () => {
    const pvs = parsePinVerifyStructure(PVS);
    expect(pvs).toMatchObject({
      bTimeOut: 0x1e,
      bTimeOut2: 0,
      bmFormatString: 0x82,
      bmPINBlockString: 0x08,
      bmPINLengthFormat: 0,
      wPINMaxExtraDigit: 0x0408,
      bEntryValidationCondition: 2,
      bNumberMessage: 1,
      wLangId: 0x0409,
      bMsgIndex: 0,
      ulDataLength: 13,
    });
    expect(show(pvs.abData)).toBe(VERIFY_APDU);
    expect(pvs.secureTimeoutMs).toBe(90_000);
  });

  it('gives a secure timeout of bTimeOut + 10 s when that exceeds 90 s', () => {
    const long = PVS.slice();
    long[0] = 200;
    expect(parsePinVerifyStructure(long).secureTimeoutMs).toBe(210_000);
    expect(secureTimeoutMs(80)).toBe(90_000);
    expect(secureTimeoutMs(81)).toBe(91_000);
  });

  it('rejects a structure shorter than the header plus a 4-byte APDU', () => {
    const e = (() => {
      try {
        parsePinVerifyStructure(PVS.subarray(0, 22));
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(isDriverError(e, IFD.NOT_SUPPORTED)).toBe(true);
  });

  it('rejects an ulDataLength that does not match the bytes sent', () => {
    const bad = PVS.slice();
    bad[15] = 14;
    expect(() => parsePinVerifyStructure(bad)).toThrow(/ulDataLength 14/);
    expect(() => parsePinVerifyStructure(PVS.subarray(0, PVS.length - 1))).toThrow(/ulDataLength 13/);
  });
});

describe('parsePinModifyStructure', () => {
  it('reads every field of the reader.h layout', () => {
    const pms = parsePinModifyStructure(PMS);
    expect(pms).toMatchObject({
      bInsertionOffsetOld: 0,
      bInsertionOffsetNew: 8,
      wPINMaxExtraDigit: 0x0408,
      bConfirmPIN: 3,
      bEntryValidationCondition: 2,
      bNumberMessage: 3,
      wLangId: 0x0409,
      bMsgIndex1: 0,
      bMsgIndex2: 1,
      bMsgIndex3: 2,
      ulDataLength: 21,
    });
    expect(pms.abData.length).toBe(21);
  });

  it('rejects a bNumberMessage other than 0..3 and 0xFF', () => {
    const bad = PMS.slice();
    bad[11] = 4;
    expect(() => parsePinModifyStructure(bad)).toThrow(/bNumberMessage 4/);
    bad[11] = 0xff;
    expect(parsePinModifyStructure(bad).bNumberMessage).toBe(0xff);
  });

  it('rejects short structures and mismatched lengths with IFD_NOT_SUPPORTED', () => {
    for (const bytes of [PMS.subarray(0, 27), PMS.subarray(0, PMS.length - 2)]) {
      let caught: unknown;
      try {
        parsePinModifyStructure(bytes);
      } catch (e) {
        caught = e;
      }
      expect(isDriverError(caught, IFD.NOT_SUPPORTED)).toBe(true);
    }
  });
});

describe('secureBodyFromVerify', () => {
  it('drops bTimeOut2 and ulDataLength and starts with bPINOperation 0', () => {
    const { body, t1 } = secureBodyFromVerify(parsePinVerifyStructure(PVS));
    expect(show(body)).toBe(`00 1E 82 08 00 08 04 02 01 09 04 00 00 00 00 ${VERIFY_APDU}`);
    expect(t1).toBeUndefined();
  });

  it('replaces a bEntryValidationCondition of 0 or above 7 by 2', () => {
    for (const v of [0x00, 0x08, 0xff]) {
      const bytes = PVS.slice();
      bytes[7] = v;
      expect(secureBodyFromVerify(parsePinVerifyStructure(bytes)).body[7]).toBe(0x02);
    }
    const ok = PVS.slice();
    ok[7] = 0x05;
    expect(secureBodyFromVerify(parsePinVerifyStructure(ok)).body[7]).toBe(0x05);
  });

  it('applies the GemPC Pinpad fixes: one message, validation key only', () => {
    const bytes = PVS.slice();
    bytes[7] = 0x07;
    bytes[8] = 0xff;
    const { body } = secureBodyFromVerify(parsePinVerifyStructure(bytes), {
      fixes: readerQuirks(0x08e6, 0x3478).pinVerify,
    });
    expect(body[7]).toBe(0x02);
    expect(body[8]).toBe(0x01);
  });

  it('swaps wPINMaxExtraDigit and clears bNumberMessage for the Dell SK-3106', () => {
    const { body } = secureBodyFromVerify(parsePinVerifyStructure(PVS), {
      fixes: readerQuirks(0x413c, 0x2100).pinVerify,
    });
    expect(show(body.subarray(5, 9))).toBe('04 08 02 00');
  });

  it('masks validation conditions a Gemalto firmware does not support', () => {
    const bytes = PVS.slice();
    bytes[7] = 0x07;
    expect(secureBodyFromVerify(parsePinVerifyStructure(bytes), { entryValidationMask: 0x02 }).body[7]).toBe(0x02);
  });

  it('builds the T=1 prologue on TPDU readers and flips N(S) and N(R)', () => {
    const { body, t1 } = secureBodyFromVerify(parsePinVerifyStructure(PVS), { t1: { ns: 1, nr: 0, ifsc: 32 } });
    expect(show(body.subarray(12, 15))).toBe('00 40 0D');
    expect(t1).toEqual({ ns: 0, nr: 1 });
  });

  it('asks for the SPR532 escape only for an unpadded case 1 APDU', () => {
    const fixes = readerQuirks(0x04e6, 0xe003).pinVerify;
    const case1 = hex('00 00 82 00 00 08 04 02 01 09 04 00 00 00 00 04 00 00 00 00 20 00 01');
    expect(needsUnpaddedPinEscape(parsePinVerifyStructure(case1), fixes)).toBe(true);
    expect(needsUnpaddedPinEscape(parsePinVerifyStructure(PVS), fixes)).toBe(false);
    expect(needsUnpaddedPinEscape(parsePinVerifyStructure(case1), undefined)).toBe(false);
  });
});

describe('secureBodyFromModify', () => {
  const withMessages = (n: number) => {
    const bytes = PMS.slice();
    bytes[11] = n;
    return parsePinModifyStructure(bytes);
  };
  const header = '01 00 82 08 00 00 08 08 04 03 02';

  it('includes the message indexes bNumberMessage announces', () => {
    expect(show(secureBodyFromModify(withMessages(3)).body.subarray(0, 20))).toBe(
      `${header} 03 09 04 00 01 02 00 00 00`,
    );
    expect(show(secureBodyFromModify(withMessages(1)).body.subarray(0, 19))).toBe(`${header} 01 09 04 00 01 00 00 00`);
    expect(show(secureBodyFromModify(withMessages(0)).body.subarray(0, 18))).toBe(`${header} 00 09 04 00 00 00 00`);
    expect(secureBodyFromModify(withMessages(0xff)).body.length).toBe(20 + 21);
  });

  it('sends three zeroed indexes with bNumberMessage 0 on the SPR532', () => {
    const { body } = secureBodyFromModify(withMessages(1), { fixes: readerQuirks(0x04e6, 0xe003).pinModify });
    expect(show(body.subarray(0, 20))).toBe(`${header} 00 09 04 00 00 00 00 00 00`);
  });

  it('sends all three indexes but keeps the real count on Gemalto firmware with the bMsgIndex bug', () => {
    const { body } = secureBodyFromModify(withMessages(1), { fixes: readerQuirks(0x08e6, 0x3478).pinModify });
    expect(show(body.subarray(0, 20))).toBe(`${header} 01 09 04 00 01 02 00 00 00`);
  });

  it('turns bNumberMessage 0 into 0xFF on the Cherry KC 1000 SC', () => {
    const { body } = secureBodyFromModify(withMessages(0), { fixes: readerQuirks(0x046a, 0x00a1).pinModify });
    expect(show(body.subarray(0, 20))).toBe(`${header} FF 09 04 00 01 02 00 00 00`);
  });

  it('builds the T=1 prologue with the M bit when the APDU exceeds IFSC', () => {
    const { body, t1 } = secureBodyFromModify(withMessages(3), { t1: { ns: 0, nr: 1, ifsc: 16 } });
    expect(show(body.subarray(17, 20))).toBe('00 20 10');
    expect(t1).toEqual({ ns: 1, nr: 0 });
  });
});

describe('T=1 helpers', () => {
  it('builds the prologue from N(S) and returns the next sequence', () => {
    const { prologue, next } = t1SecurePrologue({ apdu: new Uint8Array(5), ns: 0, nr: 0, ifsc: 254 });
    expect(show(prologue)).toBe('00 00 05');
    expect(next).toEqual({ ns: 1, nr: 1 });
  });

  it('answers a WTX request as libccid does (00 C3 01 09 CB → 00 E3 01 09 EB)', () => {
    expect(parseT1SecureReply(hex('00 C3 01 09 CB'), 'lrc')).toEqual({ kind: 'wtx', multiplier: 9 });
    expect(show(t1WtxResponse(9, 'lrc'))).toBe('00 E3 01 09 EB');
  });

  it("strips the prologue and EDC of the card's I-block", () => {
    const reply = parseT1SecureReply(hex('00 40 02 90 00 D2'), 'lrc');
    expect(reply.kind).toBe('data');
    expect(reply.kind === 'data' && show(reply.data)).toBe('90 00');
  });

  it('checks a CRC-protected reply', () => {
    const head = hex('00 00 02 63 C2');
    const crc = t1Crc(head);
    const block = Uint8Array.of(...head, crc >> 8, crc & 0xff);
    const reply = parseT1SecureReply(block, 'crc');
    expect(reply.kind === 'data' && show(reply.data)).toBe('63 C2');
    block[block.length - 1] = (crc & 0xff) ^ 1;
    expect(() => parseT1SecureReply(block, 'crc')).toThrow(/EDC/);
  });

  it('passes a 2-byte status made up by the driver through', () => {
    expect(parseT1SecureReply(hex('64 00'), 'lrc')).toEqual({ kind: 'status', sw: hex('64 00') });
  });

  it('rejects R-blocks, wrong LEN, bad LRC and chained replies as communication errors', () => {
    for (const bad of ['00 81 00 81', '00 40 03 90 00 D2', '00 40 02 90 00 D3', '00 60 02 90 00 F2', '00']) {
      let caught: unknown;
      try {
        parseT1SecureReply(hex(bad), 'lrc');
      } catch (e) {
        caught = e;
      }
      expect(isDriverError(caught, IFD.COMMUNICATION_ERROR)).toBe(true);
    }
  });

  it('computes the CRC of ISO 7816-3 with polynomial 0x8408 from 0xFFFF', () => {
    // Check value of this CRC variant (no final XOR) over "123456789" is 0x6F91.
    expect(t1Crc(new TextEncoder().encode('123456789'))).toBe(0x6f91);
  });
});
