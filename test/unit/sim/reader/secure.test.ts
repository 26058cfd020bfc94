import { describe, expect, it } from 'vitest';
import { parseBlock } from '../../../../src/sim/reader/t1-block.js';
import { TestCard } from './test-card.js';
import { exchange, hex, msg, openReader, receive, send, settled } from './ccid-helpers.js';
import type { ProfileId } from '../../../../src/sim/reader/profiles.js';

/** PIN verification structure (CCID 1.1 §6.1.11.4): ASCII PIN at data offset 0, variable length, 4–8 digits. */
function verifyStructure(apdu: number[]): number[] {
  return [0x00, 0x00, 0x82, 0x00, 0x00, 0x08, 0x04, 0x02, 0x01, 0x09, 0x04, 0x00, 0x00, 0x00, 0x00, ...apdu];
}

async function poweredPinpad(profile: ProfileId, card: TestCard) {
  const reader = await openReader(profile);
  reader.insertCard(card);
  expect((await exchange(reader, msg(0x62, 0, 1))).status).toBe(0);
  return reader;
}

describe('PC_to_RDR_Secure PIN verification (CCID 1.1 §6.1.11)', () => {
  it('builds the VERIFY APDU from the typed PIN and sends it in a T=1 block built from bTeoPrologue', async () => {
    const card = new TestCard({ protocol: 1 });
    const reader = await poweredPinpad('pinpad', card);
    reader.keypad.enter('1234');
    const r = await exchange(reader, msg(0x69, 0, 2, verifyStructure([0x00, 0x20, 0x00, 0x81, 0x00])));
    expect(r.type).toBe(0x80);
    expect(r.status).toBe(0);
    expect(hex(card.apdus[0]!)).toBe('00 20 00 81 04 31 32 33 34');
    expect(hex(parseBlock(r.data, 'lrc')!.inf)).toBe('90 00');
  });

  it('waits for the user: the response comes only once the PIN is typed', async () => {
    const card = new TestCard({ protocol: 0 });
    const reader = await poweredPinpad('pinpad', card);
    await send(reader, msg(0x69, 0, 2, verifyStructure([0x00, 0x20, 0x00, 0x81, 0x00])));
    const pending = receive(reader);
    expect(await settled(pending)).toBe(false);
    expect(reader.slotStatus().busy).toBe(true);
    // Another command meanwhile finds the slot busy: its answer is the first on bulk-IN.
    await send(reader, msg(0x65, 0, 3));
    const busy = await pending;
    expect(busy.seq).toBe(3);
    expect(busy.error).toBe(0xe0);
    reader.keypad.enter('9999');
    const r = await receive(reader);
    expect(r.seq).toBe(2);
    expect(hex(r.data)).toBe('63 c2');
  });

  it('answers PIN_CANCELLED (0xEF) when the user presses cancel and PIN_TIMEOUT (0xF0) on timeout', async () => {
    const reader = await poweredPinpad('pinpad', new TestCard({ protocol: 1 }));
    reader.keypad.cancel();
    const cancelled = await exchange(reader, msg(0x69, 0, 2, verifyStructure([0x00, 0x20, 0x00, 0x81, 0x00])));
    expect(cancelled.status).toBe(0x40);
    expect(cancelled.error).toBe(0xef);
    await send(reader, msg(0x69, 0, 3, verifyStructure([0x00, 0x20, 0x00, 0x81, 0x00])));
    reader.keypad.timeout();
    const timedOut = await receive(reader);
    expect(timedOut.error).toBe(0xf0);
  });

  it('refuses a PIN shorter than the minimum as cancelled, and a bad bPINOperation with its offset', async () => {
    const reader = await poweredPinpad('pinpad', new TestCard({ protocol: 1 }));
    reader.keypad.enter('12');
    expect((await exchange(reader, msg(0x69, 0, 2, verifyStructure([0x00, 0x20, 0x00, 0x81, 0x00])))).error).toBe(0xef);
    const bad = verifyStructure([0x00, 0x20, 0x00, 0x81, 0x00]);
    bad[0] = 7;
    expect((await exchange(reader, msg(0x69, 0, 3, bad))).error).toBe(10);
    expect((await exchange(reader, msg(0x69, 0, 4, [0x00, 0x00]))).error).toBe(10);
  });
});

describe('PC_to_RDR_Secure PIN modification (CCID 1.1 §6.1.11.7)', () => {
  // bPINOperation 1, bTimeOut, fmt 0x82 (bytes, ASCII), block 0x08 (8-byte blocks), len 0, old at 0, new at 8,
  // wPINMaxExtraDigit 8/4, bConfirmPIN 3, bEntryValidationCondition 2, bNumberMessage 3, wLangId, 3 × bMsgIndex, prologue.
  const structure = [
    0x01,
    0x00,
    0x82,
    0x08,
    0x00,
    0x00,
    0x08,
    0x08,
    0x04,
    0x03,
    0x02,
    0x03,
    0x09,
    0x04,
    0x00,
    0x01,
    0x02,
    0x00,
    0x00,
    0x00,
    0x00,
    0x24,
    0x00,
    0x81,
    0x10,
    ...new Array(16).fill(0xff),
  ];

  it('inserts the old and new PINs into their blocks on a vendor-class T=0 reader', async () => {
    const card = new TestCard({ protocol: 0 });
    const reader = await poweredPinpad('vendor-class', card);
    reader.keypad.enter('1234');
    reader.keypad.enter('567890');
    reader.keypad.enter('567890');
    const r = await exchange(reader, msg(0x69, 0, 2, structure));
    expect(hex(r.data)).toBe('90 00');
    expect(hex(card.apdus[0]!)).toBe('00 24 00 81 10 31 32 33 34 ff ff ff ff 35 36 37 38 39 30 ff ff');
  });

  it('fails when the confirmation differs from the new PIN', async () => {
    const reader = await poweredPinpad('vendor-class', new TestCard({ protocol: 0 }));
    reader.keypad.enter('1234');
    reader.keypad.enter('5678');
    reader.keypad.enter('5679');
    const r = await exchange(reader, msg(0x69, 0, 2, structure));
    expect(r.status & 0x40).toBe(0x40);
    expect(r.error).toBe(0xc0);
  });
});
