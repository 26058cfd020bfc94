/**
 * PC/SC v2 part 10 on the simulated GemPC Pinpad through the driver: the feature list, TLV properties, PIN
 * verification with the keypad (right, wrong, cancel, timeout) on T=1 (the driver builds the T=1 prologue) and T=0,
 * escape, and the reader attributes.
 */
import { describe, expect, it } from 'vitest';
import { IFD } from '../../src/ifd/errors.js';
import { pinCard, PROFILES } from '../../src/sim/index.js';
import { concat, expectIfd, HELLO, hex, must, openRig, pinRig, SELECT_HELLO, settle, SW_OK, until } from './helpers.js';

const GET_FEATURE_REQUEST = 0x42000d48;
const VERIFY_PIN_DIRECT = 0x42330006;
const MODIFY_PIN_DIRECT = 0x42330007;
const IFD_PIN_PROPERTIES = 0x4233000a;
const GET_TLV_PROPERTIES = 0x42330012;
const ESCAPE = 0x42000001;

const ATTR_ATR_STRING = 0x90303;
const ATTR_ICC_PRESENCE = 0x90300;
const ATTR_VENDOR_NAME = 0x10100;
const ATTR_VENDOR_IFD_VERSION = 0x10102;
const ATTR_MAXINPUT = 0x7a007;

/** Tag-length-value list of 1-byte tags and lengths. */
function tlvs(bytes: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (let i = 0; i + 2 <= bytes.length;) {
    const tag = bytes[i]!;
    const len = bytes[i + 1]!;
    out.set(tag, bytes.slice(i + 2, i + 2 + len));
    i += 2 + len;
  }
  return out;
}

const le = (b: Uint8Array | undefined): number => (b === undefined ? -1 : b.reduceRight((acc, x) => acc * 256 + x, 0));

/**
 * PIN_VERIFY_STRUCTURE (pcsc-lite reader.h, packed, little-endian) for VERIFY 00 20 00 80 with an ASCII PIN of 4 to
 * 8 digits, the data field as long as the PIN.
 */
function pinVerifyStructure(bTimeOut = 30): Uint8Array {
  const apdu = hex('00 20 00 80 00');
  return concat(
    Uint8Array.of(
      bTimeOut, // bTimeOut
      0x00, // bTimeOut2
      0x82, // bmFormatString: byte units, position 0, left-justified, ASCII
      0x00, // bmPINBlockString: no length field, block = the PIN
      0x00, // bmPINLengthFormat
      0x08, // wPINMaxExtraDigit = 0x0408: max 8
      0x04, //   min 4
      0x02, // bEntryValidationCondition: OK key
      0x01, // bNumberMessage
      0x09, // wLangId 0x0409
      0x04,
      0x00, // bMsgIndex
      0x00, // bTeoPrologue
      0x00,
      0x00,
    ),
    Uint8Array.of(apdu.length, 0, 0, 0), // ulDataLength
    apdu,
  );
}

describe('feature list and properties', () => {
  it('CM_IOCTL_GET_FEATURE_REQUEST lists VERIFY/MODIFY_PIN_DIRECT, IFD_PIN_PROPERTIES and GET_TLV_PROPERTIES', async () => {
    const { reader } = await openRig('pinpad');
    const list = await must(reader.slots[0]!.control(GET_FEATURE_REQUEST, new Uint8Array(0)));
    const features = new Map<number, number>();
    for (let i = 0; i + 6 <= list.length; i += 6) {
      expect(list[i + 1]).toBe(4);
      features.set(list[i]!, ((list[i + 2]! << 24) | (list[i + 3]! << 16) | (list[i + 4]! << 8) | list[i + 5]!) >>> 0);
    }
    expect(list.length % 6).toBe(0);
    expect(features.get(0x06)).toBe(VERIFY_PIN_DIRECT);
    expect(features.get(0x07)).toBe(MODIFY_PIN_DIRECT);
    expect(features.get(0x0a)).toBe(IFD_PIN_PROPERTIES);
    expect(features.get(0x12)).toBe(GET_TLV_PROPERTIES);
    // Escape is not offered unless allowed.
    expect(features.has(0x13)).toBe(false);
    await reader.close();
  });

  it('a reader without a PIN pad offers GET_TLV_PROPERTIES but no PIN feature', async () => {
    const { reader } = await openRig('gempc-twin');
    const list = await must(reader.slots[0]!.control(GET_FEATURE_REQUEST, new Uint8Array(0)));
    const tags = [];
    for (let i = 0; i < list.length; i += 6) tags.push(list[i]);
    expect(tags).toContain(0x12);
    expect(tags).not.toContain(0x06);
    expect(tags).not.toContain(0x07);
    await expectIfd(reader.slots[0]!.control(VERIFY_PIN_DIRECT, pinVerifyStructure()), IFD.ERROR_NOT_SUPPORTED);
    await reader.close();
  });

  it('GET_TLV_PROPERTIES describes the pinpad', async () => {
    const { reader } = await openRig('pinpad');
    const props = tlvs(await must(reader.slots[0]!.control(GET_TLV_PROPERTIES, new Uint8Array(0))));
    expect(le(props.get(0x01))).toBe(PROFILES.pinpad.ccid.wLcdLayout); // wLcdLayout 2 lines × 16
    expect(le(props.get(0x0a))).toBe(0x10000); // dwMaxAPDUDataSize: TPDU reader
    expect(le(props.get(0x0b))).toBe(0x08e6); // wIdVendor
    expect(le(props.get(0x0c))).toBe(0x3478); // wIdProduct
    await reader.close();
  });
});

describe.each(['T=1', 'T=0'] as const)('VERIFY_PIN_DIRECT with a %s card', (cardKind) => {
  it('the right PIN typed on the keypad → 90 00, and the card goes on working', async () => {
    const { sim, reader } = await pinRig(cardKind);
    const slot = reader.slots[0]!;
    sim.keypad.enter('1234');
    expect(await must(slot.control(VERIFY_PIN_DIRECT, pinVerifyStructure()))).toEqual(SW_OK);
    // Verified: an empty VERIFY says so.
    expect(await must(slot.transmit(hex('00 20 00 80')))).toEqual(SW_OK);
    expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);
    expect(await must(slot.transmit(HELLO))).toEqual(
      cardKind === 'T=1' ? concat(new TextEncoder().encode('Hello world!'), SW_OK) : hex('61 0C'),
    );
    await reader.close();
  });

  it('the PIN typed while the reader waits for it → 90 00', async () => {
    const { sim, reader } = await pinRig(cardKind);
    const pending = reader.slots[0]!.control(VERIFY_PIN_DIRECT, pinVerifyStructure());
    await until(() => sim.keypad.waiting, 'the reader to wait for the keypad');
    sim.keypad.enter('1234');
    expect(await must(pending)).toEqual(SW_OK);
    await reader.close();
  });

  it('a wrong PIN → 63 C2, then 63 C1; the right one resets the counter', async () => {
    const { sim, reader } = await pinRig(cardKind);
    const slot = reader.slots[0]!;
    sim.keypad.enter('9999');
    expect(await must(slot.control(VERIFY_PIN_DIRECT, pinVerifyStructure()))).toEqual(hex('63 C2'));
    sim.keypad.enter('4321');
    expect(await must(slot.control(VERIFY_PIN_DIRECT, pinVerifyStructure()))).toEqual(hex('63 C1'));
    sim.keypad.enter('1234');
    expect(await must(slot.control(VERIFY_PIN_DIRECT, pinVerifyStructure()))).toEqual(SW_OK);
    expect(await must(slot.transmit(hex('00 20 00 80')))).toEqual(SW_OK);
    await reader.close();
  });

  it('cancel → 64 01 and timeout → 64 00; the card goes on working', async () => {
    const { sim, reader } = await pinRig(cardKind);
    const slot = reader.slots[0]!;
    sim.keypad.cancel();
    expect(await must(slot.control(VERIFY_PIN_DIRECT, pinVerifyStructure()))).toEqual(hex('64 01'));
    expect(await must(slot.transmit(hex('00 20 00 80')))).toEqual(hex('63 C3'));
    sim.keypad.timeout();
    expect(await must(slot.control(VERIFY_PIN_DIRECT, pinVerifyStructure()))).toEqual(hex('64 00'));
    expect(await must(slot.transmit(hex('00 20 00 80')))).toEqual(hex('63 C3'));
    sim.keypad.enter('1234');
    expect(await must(slot.control(VERIFY_PIN_DIRECT, pinVerifyStructure()))).toEqual(SW_OK);
    await reader.close();
  });

  it('a PIN_VERIFY_STRUCTURE whose ulDataLength is wrong is refused without reaching the reader', async () => {
    const { sim, reader } = await pinRig(cardKind);
    const bad = pinVerifyStructure();
    bad[15] = 9;
    sim.keypad.enter('1234');
    await expectIfd(reader.slots[0]!.control(VERIFY_PIN_DIRECT, bad), IFD.NOT_SUPPORTED);
    expect(sim.keypad.pending).toBe(1);
    await reader.close();
  });
});

describe('VERIFY_PIN_DIRECT alternating with exchanges (T=1 sequence numbers)', () => {
  it('keeps N(S)/N(R) in step across many PIN commands and APDUs', async () => {
    const { sim, reader } = await pinRig('T=1');
    const slot = reader.slots[0]!;
    for (let i = 0; i < 5; i++) {
      sim.keypad.enter(i % 2 === 0 ? '1234' : '0000');
      const sw = await must(slot.control(VERIFY_PIN_DIRECT, pinVerifyStructure()));
      expect(sw).toEqual(i % 2 === 0 ? SW_OK : hex('63 C2'));
      expect(await must(slot.transmit(hex('80 EE 00 00 03 01 02 03')))).toEqual(hex('01 02 03 90 00'));
    }
    await reader.close();
  });

  it('the card asks for more time (WTX) during the PIN command: answered, then 90 00', async () => {
    const { sim, reader } = await pinRig('T=1');
    const card = sim.cardIn(0) as ReturnType<typeof pinCard>;
    card.faults.wtxRequests = 1;
    card.faults.wtxMultiplier = 3;
    sim.keypad.enter('1234');
    expect(await must(reader.slots[0]!.control(VERIFY_PIN_DIRECT, pinVerifyStructure()))).toEqual(SW_OK);
    expect(card.faults.wtxRequests).toBe(0);
    expect(await must(reader.slots[0]!.transmit(hex('80 EE 00 00 01 AA')))).toEqual(hex('AA 90 00'));
    await reader.close();
  });

  it('without a powered card the PIN command fails with IFD_ICC_NOT_PRESENT', async () => {
    const { reader } = await openRig('pinpad');
    await expectIfd(reader.slots[0]!.control(VERIFY_PIN_DIRECT, pinVerifyStructure()), IFD.ICC_NOT_PRESENT);
    await reader.close();
  });
});

describe('escape', () => {
  const escape = (_slot: number, data: Uint8Array) => concat(hex('E5'), data);

  it('is refused unless allowEscape', async () => {
    const { reader, traffic } = await openRig('pinpad', {}, { escape });
    const e = await expectIfd(reader.slots[0]!.control(ESCAPE, hex('01 02')), IFD.ERROR_NOT_SUPPORTED);
    expect(e.message).toMatch(/escape/i);
    expect(traffic.ofType(0x6b)).toEqual([]);
    await reader.close();
  });

  it('goes to the reader with allowEscape, and is listed as a feature', async () => {
    const { reader } = await openRig('pinpad', { allowEscape: true }, { escape });
    expect(await must(reader.slots[0]!.control(ESCAPE, hex('01 02')))).toEqual(hex('E5 01 02'));
    const list = await must(reader.slots[0]!.control(GET_FEATURE_REQUEST, new Uint8Array(0)));
    const tags = [];
    for (let i = 0; i < list.length; i += 6) tags.push(list[i]);
    expect(tags).toContain(0x13);
    await reader.close();
  });

  it('an escape the reader does not support fails with a DriverError', async () => {
    const { reader } = await openRig('pinpad', { allowEscape: true });
    const r = await settle(reader.slots[0]!.control(ESCAPE, hex('01 02')));
    expect(r.ok).toBe(false);
    await reader.close();
  });

  it('an unknown control code is IFD_ERROR_NOT_SUPPORTED', async () => {
    const { reader } = await openRig('pinpad');
    await expectIfd(reader.slots[0]!.control(0x42000fff, new Uint8Array(0)), IFD.ERROR_NOT_SUPPORTED);
    await reader.close();
  });
});

describe('attributes', () => {
  it('ATR_STRING, ICC_PRESENCE, VENDOR_NAME, VENDOR_IFD_VERSION, MAXINPUT; unknown tags are undefined', async () => {
    const { sim, reader } = await openRig('pinpad');
    const slot = reader.slots[0]!;
    expect(await must(slot.iccPresence())).toBe(false);
    expect(slot.getAttribute(ATTR_ATR_STRING)).toEqual(new Uint8Array(0));
    expect(slot.getAttribute(ATTR_ICC_PRESENCE)).toEqual(Uint8Array.of(0));
    expect(slot.getAttribute(ATTR_VENDOR_NAME)).toEqual(concat(new TextEncoder().encode('Gemplus'), Uint8Array.of(0)));
    expect(slot.getAttribute(ATTR_VENDOR_IFD_VERSION)).toEqual(hex('00 00 11 02')); // bcdDevice 2.11 << 16
    expect(slot.getAttribute(ATTR_MAXINPUT)).toEqual(hex('05 01 00 00')); // 271 − 10
    expect(slot.getAttribute(0x7fff0001)).toBeUndefined();
    expect(slot.getAttribute(0)).toBeUndefined();

    const card = pinCard();
    sim.insertCard(card);
    expect(await must(slot.iccPresence())).toBe(true);
    expect(slot.getAttribute(ATTR_ICC_PRESENCE)).toEqual(Uint8Array.of(2));
    await must(slot.power('up'));
    expect(slot.getAttribute(ATTR_ATR_STRING)).toEqual(card.atr);
    await must(slot.power('down'));
    expect(slot.getAttribute(ATTR_ATR_STRING)).toEqual(new Uint8Array(0));

    await expectIfd(slot.setAttribute(ATTR_ATR_STRING, Uint8Array.of(1)), IFD.ERROR_NOT_SUPPORTED);
    await reader.close();
  });
});
