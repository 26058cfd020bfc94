import { describe, expect, it } from 'vitest';
import { TestCard } from './test-card.js';
import { BULK_OUT, exchange, msg, openReader, receive, send } from './ccid-helpers.js';

const PowerOn = 0x62;
const PowerOff = 0x63;
const GetSlotStatus = 0x65;
const XfrBlock = 0x6f;
const GetParameters = 0x6c;
const ResetParameters = 0x6d;
const SetParameters = 0x61;
const Escape = 0x6b;
const IccClock = 0x6e;
const T0APDU = 0x6a;
const Secure = 0x69;
const Mechanical = 0x71;
const Abort = 0x72;
const SetDataRate = 0x73;

async function readerWithCard(profile: Parameters<typeof openReader>[0] = 'gempc-twin', card = new TestCard()) {
  const reader = await openReader(profile);
  reader.insertCard(card);
  return { reader, card };
}

describe('IccPowerOn / IccPowerOff (CCID 1.1 §6.1.1, §6.1.2)', () => {
  it('returns the ATR in a DataBlock echoing bSlot and bSeq', async () => {
    const { reader, card } = await readerWithCard();
    const r = await exchange(reader, msg(PowerOn, 0, 0x42, [], 1));
    expect(r.type).toBe(0x80);
    expect(r.seq).toBe(0x42);
    expect(r.slot).toBe(0);
    expect(r.status).toBe(0x00);
    expect(r.dwLength).toBe(card.atr.length);
    expect(r.data).toEqual(card.atr);
    expect(card.activations).toEqual(['A']);
  });

  it('powers at the requested class: 1 = 5 V, 2 = 3 V, 3 = 1.8 V', async () => {
    for (const [select, cls] of [
      [1, 'A'],
      [2, 'B'],
      [3, 'C'],
    ] as const) {
      const { reader, card } = await readerWithCard();
      expect((await exchange(reader, msg(PowerOn, 0, 1, [], select))).status).toBe(0);
      expect(card.activations).toEqual([cls]);
    }
  });

  it('automatic voltage tries from the lowest class up until the card answers', async () => {
    const { reader, card } = await readerWithCard('gempc-twin', new TestCard({ classes: ['A'] }));
    const r = await exchange(reader, msg(PowerOn, 0, 1, [], 0));
    expect(r.status).toBe(0);
    expect(card.activations).toEqual(['C', 'B', 'A']);
  });

  it('refuses a voltage the reader does not support with bError 7 (bPowerSelect)', async () => {
    const { reader } = await readerWithCard('vendor-class'); // 5 V only
    const r = await exchange(reader, msg(PowerOn, 0, 1, [], 2));
    expect(r.status).toBe(0x41);
    expect(r.error).toBe(7);
    const bad = await exchange(reader, msg(PowerOn, 0, 2, [], 9));
    expect(bad.error).toBe(7);
  });

  it('fails with ICC_MUTE and "inactive" when the card does not answer at that class', async () => {
    const { reader } = await readerWithCard('gempc-twin', new TestCard({ classes: ['C'] }));
    const r = await exchange(reader, msg(PowerOn, 0, 1, [], 1));
    expect(r.status).toBe(0x41);
    expect(r.error).toBe(0xfe);
  });

  it('fails with ICC_MUTE and "absent" without a card', async () => {
    const reader = await openReader('gempc-twin');
    const r = await exchange(reader, msg(PowerOn, 0, 1));
    expect(r.status).toBe(0x42);
    expect(r.error).toBe(0xfe);
  });

  it('IccPowerOff deactivates the card and answers SlotStatus "inactive"', async () => {
    const { reader, card } = await readerWithCard();
    await exchange(reader, msg(PowerOn, 0, 1));
    const r = await exchange(reader, msg(PowerOff, 0, 2));
    expect(r.type).toBe(0x81);
    expect(r.status).toBe(0x01);
    expect(card.powered).toBe(false);
  });
});

describe('header checks (CCID 1.1 §6.1, §6.2.6)', () => {
  it('answers an unknown message type with SlotStatus, failed, bError 0 (not supported)', async () => {
    const { reader } = await readerWithCard();
    const r = await exchange(reader, msg(0x55, 0, 7));
    expect(r.type).toBe(0x81);
    expect(r.status & 0xc0).toBe(0x40);
    expect(r.error).toBe(0);
    expect(r.seq).toBe(7);
  });

  it('answers a slot that does not exist with bError 5 and "no ICC"', async () => {
    const { reader } = await readerWithCard();
    const r = await exchange(reader, msg(XfrBlock, 3, 8, [1, 2, 3]));
    expect(r.type).toBe(0x80);
    expect(r.slot).toBe(3);
    expect(r.status).toBe(0x42);
    expect(r.error).toBe(5);
  });

  it('answers a dwLength that disagrees with the transfer with bError 1', async () => {
    const { reader } = await readerWithCard();
    const m = msg(GetSlotStatus, 0, 9, [1, 2]);
    m[1] = 5;
    const r = await exchange(reader, m);
    expect(r.error).toBe(1);
    expect(r.status & 0x40).toBe(0x40);
  });

  it('answers a message longer than dwMaxCCIDMessageLength with bError 1', async () => {
    const { reader } = await readerWithCard();
    const r = await exchange(reader, msg(XfrBlock, 0, 1, new Uint8Array(300)));
    expect(r.error).toBe(1);
  });

  it('answers a transfer shorter than a header without crashing', async () => {
    const { reader } = await readerWithCard();
    await reader.transferOut(BULK_OUT, Uint8Array.of(0x65, 0));
    const r = await receive(reader);
    expect(r.type).toBe(0x81);
    expect(r.error).toBe(1);
  });
});

describe('GetSlotStatus, parameters and the rest of §6.1', () => {
  it('GetParameters after a T=1 power-on gives the T=1 structure from the ATR', async () => {
    const { reader } = await readerWithCard('gempc-twin', new TestCard({ protocol: 1, ifsc: 0x80 }));
    await exchange(reader, msg(PowerOn, 0, 1));
    const r = await exchange(reader, msg(GetParameters, 0, 2));
    expect(r.type).toBe(0x82);
    expect(r.byte9).toBe(1);
    expect(Array.from(r.data)).toEqual([0x11, 0x10, 0x00, 0x45, 0x00, 0x80, 0x00]);
  });

  it('GetParameters after a T=0 power-on gives the T=0 structure with WI 10', async () => {
    const { reader } = await readerWithCard('gempc-twin', new TestCard({ protocol: 0 }));
    await exchange(reader, msg(PowerOn, 0, 1));
    const r = await exchange(reader, msg(GetParameters, 0, 2));
    expect(r.byte9).toBe(0);
    expect(Array.from(r.data)).toEqual([0x11, 0x00, 0x00, 0x0a, 0x00]);
  });

  it('SetParameters accepts valid T=0 and T=1 structures and returns them', async () => {
    const { reader } = await readerWithCard();
    await exchange(reader, msg(PowerOn, 0, 1));
    const t1 = [0x13, 0x11, 0x02, 0x45, 0x00, 0xfe, 0x00];
    const r = await exchange(reader, msg(SetParameters, 0, 2, t1, 1));
    expect(r.status).toBe(0);
    expect(Array.from(r.data)).toEqual(t1);
    const t0 = [0x11, 0x00, 0x00, 0x0a, 0x00];
    const r0 = await exchange(reader, msg(SetParameters, 0, 3, t0, 0));
    expect(r0.status).toBe(0);
    expect(r0.byte9).toBe(0);
  });

  it.each([
    ['bProtocolNum 2', 2, [0x11, 0x10, 0, 0x45, 0, 0x20, 0], 7],
    ['T=1 structure of 5 bytes', 1, [0x11, 0x10, 0, 0x45, 0], 1],
    ['RFU Fi', 1, [0x71, 0x10, 0, 0x45, 0, 0x20, 0], 10],
    ['RFU Di', 1, [0x1a, 0x10, 0, 0x45, 0, 0x20, 0], 10],
    ['bmTCCKST1 without 0x10', 1, [0x11, 0x00, 0, 0x45, 0, 0x20, 0], 11],
    ['BWI 10', 1, [0x11, 0x10, 0, 0xa5, 0, 0x20, 0], 13],
    ['bClockStop 4', 1, [0x11, 0x10, 0, 0x45, 4, 0x20, 0], 14],
    ['IFSC 0', 1, [0x11, 0x10, 0, 0x45, 0, 0x00, 0], 15],
    ['IFSC 255', 1, [0x11, 0x10, 0, 0x45, 0, 0xff, 0], 15],
    ['T=0 WI 0', 0, [0x11, 0x00, 0, 0x00, 0], 13],
    ['T=0 bmTCCKST0 0x10', 0, [0x11, 0x10, 0, 0x0a, 0], 11],
  ])('SetParameters with %s fails with bError = the offset of that field', async (_name, proto, data, offset) => {
    const { reader } = await readerWithCard();
    await exchange(reader, msg(PowerOn, 0, 1));
    const r = await exchange(reader, msg(SetParameters, 0, 2, data, proto));
    expect(r.type).toBe(0x82);
    expect(r.status & 0xc0).toBe(0x40);
    expect(r.error).toBe(offset);
  });

  it('SetParameters refuses a NAD other than 0 on a reader without dwFeatures 0x200', async () => {
    const { reader } = await readerWithCard('vendor-class');
    await exchange(reader, msg(PowerOn, 0, 1));
    const r = await exchange(reader, msg(SetParameters, 0, 2, [0x11, 0x10, 0, 0x45, 0, 0x20, 0x12], 1));
    expect(r.error).toBe(16);
    const gempc = await readerWithCard('gempc-twin');
    await exchange(gempc.reader, msg(PowerOn, 0, 1));
    expect(
      (await exchange(gempc.reader, msg(SetParameters, 0, 2, [0x11, 0x10, 0, 0x45, 0, 0x20, 0x12], 1))).status,
    ).toBe(0);
  });

  it('ResetParameters goes back to the ATR values', async () => {
    const { reader } = await readerWithCard();
    await exchange(reader, msg(PowerOn, 0, 1));
    await exchange(reader, msg(SetParameters, 0, 2, [0x13, 0x11, 2, 0x45, 0, 0xfe, 0], 1));
    const r = await exchange(reader, msg(ResetParameters, 0, 3));
    expect(Array.from(r.data)).toEqual([0x11, 0x10, 0x00, 0x45, 0x00, 32, 0x00]);
  });

  it('Escape is not supported without a handler, and answered by one when given', async () => {
    const { reader } = await readerWithCard();
    const r = await exchange(reader, msg(Escape, 0, 1, [1, 2]));
    expect(r.type).toBe(0x83);
    expect(r.status & 0x40).toBe(0x40);
    expect(r.error).toBe(0);
    const other = await openReader('gempc-twin', { escape: (_slot, data) => Uint8Array.from(data).reverse() });
    const e = await exchange(other, msg(Escape, 0, 2, [1, 2, 3]));
    expect(e.status & 0xc0).toBe(0);
    expect(Array.from(e.data)).toEqual([3, 2, 1]);
  });

  it('IccClock restarts the clock, refuses to stop it when bClockStop says not allowed, and checks bClockCommand', async () => {
    const { reader } = await readerWithCard();
    await exchange(reader, msg(PowerOn, 0, 1));
    expect((await exchange(reader, msg(IccClock, 0, 2, [], 0))).status).toBe(0);
    expect((await exchange(reader, msg(IccClock, 0, 3, [], 1))).error).toBe(7);
    await exchange(reader, msg(SetParameters, 0, 4, [0x11, 0x10, 0, 0x45, 1, 0x20, 0], 1));
    const stopped = await exchange(reader, msg(IccClock, 0, 5, [], 1));
    expect(stopped.status).toBe(0);
    expect(stopped.byte9).toBe(1);
    expect((await exchange(reader, msg(GetSlotStatus, 0, 6))).byte9).toBe(1);
    expect((await exchange(reader, msg(IccClock, 0, 7, [], 2))).error).toBe(7);
  });

  it('T0APDU is refused at TPDU level and accepted at APDU level', async () => {
    const tpdu = await readerWithCard('gempc-twin');
    expect((await exchange(tpdu.reader, msg(T0APDU, 0, 1, [], 1, 0x00))).error).toBe(0);
    const apdu = await readerWithCard('short-apdu');
    expect((await exchange(apdu.reader, msg(T0APDU, 0, 1, [], 3, 0x00, 0x00))).status & 0xc0).toBe(0);
    expect((await exchange(apdu.reader, msg(T0APDU, 0, 2, [], 4))).error).toBe(7);
  });

  it('Mechanical is not supported by readers with dwMechanical 0', async () => {
    const { reader } = await readerWithCard();
    const r = await exchange(reader, msg(Mechanical, 0, 1, [], 2));
    expect(r.type).toBe(0x81);
    expect(r.error).toBe(0);
  });

  it('Secure is not supported by a reader without bPINSupport', async () => {
    const { reader } = await readerWithCard();
    await exchange(reader, msg(PowerOn, 0, 1));
    const r = await exchange(
      reader,
      msg(Secure, 0, 2, [0, 0, 0x82, 0, 0, 8, 4, 2, 0, 9, 4, 0, 0, 0, 0, 0, 0x20, 0, 0x81, 0]),
    );
    expect(r.type).toBe(0x80);
    expect(r.error).toBe(0);
  });

  it('SetDataRateAndClockFrequency accepts listed values and points at the wrong field otherwise', async () => {
    const { reader } = await readerWithCard();
    const body = (clock: number, rate: number) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setUint32(0, clock, true);
      new DataView(b.buffer).setUint32(4, rate, true);
      return b;
    };
    const r = await exchange(reader, msg(SetDataRate, 0, 1, body(4000, 10753)));
    expect(r.type).toBe(0x84);
    expect(r.status).toBe(0x01);
    expect(new DataView(r.data.buffer, r.data.byteOffset).getUint32(4, true)).toBe(10753);
    expect((await exchange(reader, msg(SetDataRate, 0, 2, body(5000, 10753)))).error).toBe(10);
    expect((await exchange(reader, msg(SetDataRate, 0, 3, body(4000, 12345)))).error).toBe(14);
    expect((await exchange(reader, msg(SetDataRate, 0, 4, [1, 2]))).error).toBe(1);
  });
});

describe('Abort (CCID 1.1 §5.3.1)', () => {
  const abortRequest = (slot: number, seq: number) =>
    ({ requestType: 'class', recipient: 'interface', request: 1, value: (seq << 8) | slot, index: 0 }) as const;

  it('after the class ABORT request, commands fail with CMD_ABORTED until PC_to_RDR_Abort', async () => {
    const { reader } = await readerWithCard();
    expect((await reader.controlTransferOut(abortRequest(0, 5))).status).toBe('ok');
    const blocked = await exchange(reader, msg(GetSlotStatus, 0, 6));
    expect(blocked.error).toBe(0xff);
    const abort = await exchange(reader, msg(Abort, 0, 5));
    expect(abort.type).toBe(0x81);
    expect(abort.status & 0xc0).toBe(0);
    expect((await exchange(reader, msg(GetSlotStatus, 0, 7))).status & 0xc0).toBe(0);
  });

  it('aborts a Secure command waiting for the keypad', async () => {
    const { reader } = await readerWithCard('pinpad');
    await exchange(reader, msg(PowerOn, 0, 1));
    await send(
      reader,
      msg(Secure, 0, 2, [
        0,
        0,
        0x82,
        0x08,
        0,
        8,
        4,
        2,
        0,
        9,
        4,
        0,
        0,
        0,
        0,
        0x00,
        0x20,
        0x00,
        0x81,
        0x08,
        ...new Array(8).fill(0xff),
      ]),
    );
    expect(reader.keypad.waiting).toBe(true);
    await reader.controlTransferOut(abortRequest(0, 3));
    const aborted = await receive(reader);
    expect(aborted.seq).toBe(2);
    expect(aborted.error).toBe(0xff);
    expect((await exchange(reader, msg(Abort, 0, 3))).status & 0xc0).toBe(0);
  });
});

describe('busy slots (CCID 1.1 §6.2.6 CMD_SLOT_BUSY)', () => {
  it('a second command while the slot works answers CMD_SLOT_BUSY, and so does another slot when only one may be busy', async () => {
    const reader = await openReader('two-slot', { latencyMs: 2 });
    reader.insertCard(new TestCard());
    await send(reader, msg(PowerOn, 0, 1));
    await send(reader, msg(GetSlotStatus, 0, 2));
    await send(reader, msg(GetSlotStatus, 1, 3));
    const first = await receive(reader);
    const second = await receive(reader);
    const third = await receive(reader);
    const bySeq = new Map([first, second, third].map((r) => [r.seq, r]));
    expect(bySeq.get(2)!.error).toBe(0xe0);
    expect(bySeq.get(3)!.error).toBe(0xe0);
    expect(bySeq.get(3)!.slot).toBe(1);
    expect(bySeq.get(1)!.status).toBe(0);
  });
});
