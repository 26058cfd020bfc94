import { describe, expect, it } from 'vitest';
import { IFD, isDriverError } from '../../../src/ifd/errors.js';
import { KNOWN_READERS, firmwareRefusal, lookupReader, readerQuirks } from '../../../src/ccid/known-readers.js';

describe('lookupReader', () => {
  it('finds the readers whose quirks libccid honours by VID:PID', () => {
    expect(lookupReader(0x08e6, 0x3437)?.source).toMatch(/GEMPCTWIN/);
    expect(lookupReader(0x076b, 0x3031)?.quirks).toEqual({ pinSupport: 0, exchangeLevel: 'extended-apdu' });
    expect(lookupReader(0x04e6, 0xe003)?.quirks.pinModify?.allMessageIndexesZeroed).toBe(true);
    expect(lookupReader(0x08e6, 0x3438)?.quirks.zlp).toBe(true);
  });

  it('answers undefined for unknown readers and for values that are not USB ids', () => {
    expect(lookupReader(0x1234, 0x5678)).toBeUndefined();
    expect(lookupReader(-1, 0x3437)).toBeUndefined();
    expect(lookupReader(0x108e6, 0x3437)).toBeUndefined();
    expect(lookupReader(0x08e6, 1.5)).toBeUndefined();
  });

  it('holds one entry per VID:PID, each naming its libccid source', () => {
    const ids = KNOWN_READERS.map((r) => `${r.vendorId}:${r.productId}`);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of KNOWN_READERS) {
      expect(r.source).toMatch(/^libccid /);
    }
  });
});

describe('readerQuirks', () => {
  it('applies the zero-length-packet drain only when enabled and on the firmware that needs it', () => {
    expect(readerQuirks(0x08e6, 0x3437, { bcdDevice: 0x0200 }).zlp).toBe(false);
    expect(readerQuirks(0x08e6, 0x3437, { enableZlp: true, bcdDevice: 0x0200 }).zlp).toBe(true);
    expect(readerQuirks(0x08e6, 0x3438, { enableZlp: true, bcdDevice: 0x0200 }).zlp).toBe(true);
    expect(readerQuirks(0x413c, 0x2101, { enableZlp: true, bcdDevice: 0x0200 }).zlp).toBe(true);
    expect(readerQuirks(0x08e6, 0x3437, { enableZlp: true, bcdDevice: 0x0201 }).zlp).toBe(false);
    expect(readerQuirks(0x08e6, 0x3437, { enableZlp: true }).zlp).toBe(false);
    expect(readerQuirks(0x076b, 0x3031, { enableZlp: true, bcdDevice: 0x0200 }).zlp).toBe(false);
  });

  it('gives unknown readers no quirks', () => {
    expect(readerQuirks(0x1234, 0x5678)).toEqual({ zlp: false });
  });

  it('removes the PIN pad the Omnikey 3x21 descriptor claims and makes it an extended APDU reader', () => {
    const q = readerQuirks(0x076b, 0x3031);
    expect(q.pinSupport).toBe(0);
    expect(q.exchangeLevel).toBe('extended-apdu');
  });

  it('removes the insecure PIN pad of the HP keyboard and still refuses its old firmware', () => {
    expect(readerQuirks(0x03f0, 0x0036).pinSupport).toBe(0);
    expect(firmwareRefusal(0x03f0, 0x0036, 0x0123)).toBeDefined();
    expect(firmwareRefusal(0x03f0, 0x0036, 0x0124)).toBeUndefined();
  });

  it('switches the Cherry KC 1000 SC to extended APDU only for firmware 1.00 reporting short APDU', () => {
    expect(readerQuirks(0x046a, 0x00a1, { bcdDevice: 0x0100, reportedExchangeLevel: 'short-apdu' }).exchangeLevel).toBe(
      'extended-apdu',
    );
    expect(
      readerQuirks(0x046a, 0x00a1, { bcdDevice: 0x0101, reportedExchangeLevel: 'short-apdu' }).exchangeLevel,
    ).toBeUndefined();
    expect(
      readerQuirks(0x046a, 0x00a1, { bcdDevice: 0x0100, reportedExchangeLevel: 'tpdu' }).exchangeLevel,
    ).toBeUndefined();
  });

  it('skips the IFSD negotiation only on the SafeNet eToken 5100 firmwares that break on it', () => {
    expect(readerQuirks(0x0529, 0x0620, { bcdDevice: 0x0012 }).autoIfsd).toBe(true);
    expect(readerQuirks(0x0529, 0x0620, { bcdDevice: 0x0013 }).autoIfsd).toBe(true);
    expect(readerQuirks(0x0529, 0x0620, { bcdDevice: 0x0014 }).autoIfsd).toBeUndefined();
  });

  it('reports the GemPC Pinpad PIN sizes only for its V1 firmware', () => {
    expect(readerQuirks(0x08e6, 0x3478, { bcdDevice: 0x0100 }).pinProperties).toEqual({
      entryValidation: 0x02,
      tlv: { minPinSize: 4, maxPinSize: 8, entryValidation: 0x02 },
    });
    expect(readerQuirks(0x08e6, 0x3478, { bcdDevice: 0x0200 }).pinProperties).toEqual({ entryValidation: 0x02 });
  });

  it('treats every Gemalto reader as having the PIN modify bMsgIndex bug unless its firmware says it is fixed', () => {
    expect(readerQuirks(0x08e6, 0x9999).gemaltoFirmware).toBe(true);
    expect(readerQuirks(0x08e6, 0x9999).pinModify).toEqual({ allMessageIndexesKeepCount: true });
    expect(readerQuirks(0x08e6, 0x9999, { gemaltoNumberMessageFixed: true }).pinModify).toEqual({
      allMessageIndexesKeepCount: false,
    });
    expect(readerQuirks(0x0982, 0x0008).pinModify?.allMessageIndexesKeepCount).toBe(true);
    expect(readerQuirks(0x04e6, 0xe003).gemaltoFirmware).toBeUndefined();
  });

  it('carries the SPR532 and Cherry ST-2000 PIN frame fixes', () => {
    expect(readerQuirks(0x04e6, 0xe003).pinModify).toEqual({ allMessageIndexesZeroed: true });
    expect(readerQuirks(0x04e6, 0xe003).pinVerify?.unpaddedPinEscape).toEqual([0x80, 0x02, 0x00]);
    expect(readerQuirks(0x046a, 0x003e).pinModify).toEqual({ allMessageIndexesZeroed: true });
  });

  it('lowers the data rate of the O2Micro OZ776 and fixes dwMaxIFSD of the MySMART PAD', () => {
    expect(readerQuirks(0x0b97, 0x7762).maxDataRate).toBe(9600);
    expect(readerQuirks(0x0b97, 0x7772).noPps).toBe(true);
    expect(readerQuirks(0x09be, 0x0002).maxIfsd).toBe(254);
  });
});

describe('firmwareRefusal', () => {
  it('refuses the SPR532 below firmware 5.10 with a message a person can act on', () => {
    const refusal = firmwareRefusal(0x04e6, 0xe003, 0x0509);
    expect(isDriverError(refusal, IFD.COMMUNICATION_ERROR)).toBe(true);
    expect(refusal?.message).toContain('5.09');
    expect(refusal?.message).toContain('5.10');
    expect(refusal?.message).toContain('SPR 532');
  });

  it('accepts the minimum firmware and later, unknown readers, and bogus firmware when allowed', () => {
    expect(firmwareRefusal(0x04e6, 0xe003, 0x0510)).toBeUndefined();
    expect(firmwareRefusal(0x04e6, 0xe003, 0x0600)).toBeUndefined();
    expect(firmwareRefusal(0x1234, 0x5678, 0x0001)).toBeUndefined();
    expect(firmwareRefusal(0x04e6, 0xe003, 0x0100, { allowBogusFirmware: true })).toBeUndefined();
  });

  it('refuses the ACR122U below 2.06', () => {
    expect(firmwareRefusal(0x072f, 0x2200, 0x0205)).toBeDefined();
    expect(firmwareRefusal(0x072f, 0x2200, 0x0206)).toBeUndefined();
  });
});
