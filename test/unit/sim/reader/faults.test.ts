import { describe, expect, it } from 'vitest';
import { TestCard } from './test-card.js';
import {
  BULK_IN,
  BULK_OUT,
  INTERRUPT_IN,
  exchange,
  msg,
  openReader,
  parse,
  receive,
  send,
  settled,
} from './ccid-helpers.js';
import type { ProfileId } from '../../../../src/sim/reader/profiles.js';

async function ready(profile: ProfileId = 'gempc-twin') {
  const reader = await openReader(profile);
  reader.insertCard(new TestCard({ protocol: 1 }));
  return reader;
}

describe('fault injection on bulk-IN responses', () => {
  it('drop: the response is never sent; the next one is', async () => {
    const reader = await ready();
    reader.injectFault({ kind: 'drop' });
    await send(reader, msg(0x65, 0, 1));
    const pending = receive(reader);
    expect(await settled(pending)).toBe(false);
    await send(reader, msg(0x65, 0, 2));
    expect((await pending).seq).toBe(2);
    expect(reader.faults.injected).toBe(1);
  });

  it('duplicate: the same response arrives twice', async () => {
    const reader = await ready();
    reader.injectFault({ kind: 'duplicate' });
    await send(reader, msg(0x65, 0, 4));
    const a = await receive(reader);
    const b = await receive(reader);
    expect(a.raw).toEqual(b.raw);
  });

  it('truncate: cut to N bytes', async () => {
    const reader = await ready();
    reader.injectFault({ kind: 'truncate', bytes: 7 });
    await send(reader, msg(0x62, 0, 1));
    expect((await reader.transferIn(BULK_IN, 100)).data!.byteLength).toBe(7);
  });

  it('garble: flips a header byte or a payload byte', async () => {
    const reader = await ready();
    reader.injectFault({ kind: 'garble', where: 'header', offset: 0 });
    expect((await exchange(reader, msg(0x65, 0, 1))).type).toBe(0x81 ^ 0xff);
    reader.injectFault({ kind: 'garble', where: 'payload', offset: 0, mask: 0x01 });
    const r = await exchange(reader, msg(0x62, 0, 2));
    expect(r.data[0]).toBe(0x3b ^ 0x01);
  });

  it('wrong-seq: bSeq altered', async () => {
    const reader = await ready();
    reader.injectFault({ kind: 'wrong-seq' });
    expect((await exchange(reader, msg(0x65, 0, 10))).seq).toBe(11);
    reader.injectFault({ kind: 'wrong-seq', seq: 0x99 });
    expect((await exchange(reader, msg(0x65, 0, 12))).seq).toBe(0x99);
  });

  it('stale: an earlier response with an old bSeq comes before the right one', async () => {
    const reader = await ready();
    await exchange(reader, msg(0x65, 0, 20));
    reader.injectFault({ kind: 'stale' });
    await send(reader, msg(0x65, 0, 21));
    expect((await receive(reader)).seq).toBe(20);
    expect((await receive(reader)).seq).toBe(21);
  });

  it('time-extension: k responses with bStatus 0x80 and bError = multiplier before the answer', async () => {
    const reader = await ready();
    reader.injectFault({ kind: 'time-extension', count: 2, multiplier: 3 });
    await send(reader, msg(0x62, 0, 5));
    for (let i = 0; i < 2; i++) {
      const te = await receive(reader);
      expect(te.type).toBe(0x80);
      expect(te.status & 0xc0).toBe(0x80);
      expect(te.error).toBe(3);
      expect(te.seq).toBe(5);
    }
    expect((await receive(reader)).status).toBe(0);
  });

  it('zlp: a zero-length packet comes before the response', async () => {
    const reader = await ready();
    reader.injectFault({ kind: 'zlp' });
    await send(reader, msg(0x65, 0, 1));
    expect((await reader.transferIn(BULK_IN, 64)).data!.byteLength).toBe(0);
    expect((await receive(reader)).seq).toBe(1);
  });

  it('targets the response to a given message type, leaving others alone', async () => {
    const reader = await ready();
    reader.injectFault({ kind: 'wrong-seq', target: { on: 'message-type', messageType: 0x62 } });
    expect((await exchange(reader, msg(0x65, 0, 1))).seq).toBe(1);
    expect((await exchange(reader, msg(0x62, 0, 2))).seq).toBe(3);
    expect(reader.faults.log[0]!.messageType).toBe(0x62);
  });

  it('targets the Nth command from now', async () => {
    const reader = await ready();
    reader.injectFault({ kind: 'wrong-seq', target: { on: 'nth-command', n: 3 } });
    const seqs = [];
    for (let i = 1; i <= 4; i++) seqs.push((await exchange(reader, msg(0x65, 0, i))).seq);
    expect(seqs).toEqual([1, 2, 4, 4]);
    expect(reader.faults.pending).toHaveLength(0);
  });

  it('replays: the same plan on the same traffic gives the same bytes', async () => {
    const run = async () => {
      const reader = await ready();
      reader.injectFault({ kind: 'garble', where: 'payload', offset: 3, target: { on: 'nth-command', n: 2 } });
      reader.injectFault({ kind: 'stale', target: { on: 'message-type', messageType: 0x6c } });
      const out: number[][] = [];
      for (const m of [msg(0x62, 0, 1), msg(0x62, 0, 2), msg(0x6c, 0, 3)]) {
        await send(reader, m);
      }
      for (let i = 0; i < 4; i++) out.push(Array.from((await receive(reader)).raw));
      return out;
    };
    expect(await run()).toEqual(await run());
  });

  it('K30 profile: a zero-length packet precedes XfrBlock and IccPowerOn answers', async () => {
    const reader = await ready('k30');
    await send(reader, msg(0x62, 0, 1));
    expect((await reader.transferIn(BULK_IN, 64)).data!.byteLength).toBe(0);
    expect((await receive(reader)).type).toBe(0x80);
    expect((await exchange(reader, msg(0x65, 0, 2))).type).toBe(0x81);
  });
});

describe('faults that act at once', () => {
  it('stall: the next bulk-IN transfer stalls, and keeps stalling until clearHalt', async () => {
    const reader = await ready();
    reader.injectFault({ kind: 'stall', endpoint: 'bulk-in' });
    await send(reader, msg(0x65, 0, 1));
    expect((await reader.transferIn(BULK_IN, 64)).status).toBe('stall');
    expect((await reader.transferIn(BULK_IN, 64)).status).toBe('stall');
    await reader.clearHalt('in', BULK_IN);
    expect(parse(await reader.transferIn(BULK_IN, 64)).seq).toBe(1);
  });

  it('stall on bulk-OUT: the command is not taken', async () => {
    const reader = await ready();
    reader.injectFault({ kind: 'stall', endpoint: 'bulk-out' });
    expect((await reader.transferOut(BULK_OUT, msg(0x65, 0, 1))).status).toBe('stall');
    await reader.clearHalt('out', BULK_OUT);
    expect((await exchange(reader, msg(0x65, 0, 2))).seq).toBe(2);
  });

  it('stall hits an interrupt transfer already waiting', async () => {
    const reader = await ready();
    await reader.transferIn(INTERRUPT_IN, 8); // the insertion notification
    const pending = reader.transferIn(INTERRUPT_IN, 8);
    reader.injectFault({ kind: 'stall', endpoint: 'interrupt-in' });
    expect((await pending).status).toBe('stall');
  });

  it('mute: the card stops answering until unmuted', async () => {
    const reader = await ready();
    reader.injectFault({ kind: 'mute' });
    const r = await exchange(reader, msg(0x62, 0, 1));
    expect(r.error).toBe(0xfe);
    expect(reader.slotStatus().muted).toBe(true);
    reader.unmute();
    expect((await exchange(reader, msg(0x62, 0, 2))).status).toBe(0);
  });

  it('hardware-error: RDR_to_PC_HardwareError on interrupt-IN with the slot and last bSeq', async () => {
    const reader = await ready();
    await reader.transferIn(INTERRUPT_IN, 8);
    await exchange(reader, msg(0x65, 0, 0x33));
    reader.injectFault({ kind: 'hardware-error', code: 0x01 });
    const r = await reader.transferIn(INTERRUPT_IN, 8);
    expect(Array.from(new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength))).toEqual([
      0x51, 0, 0x33, 0x01,
    ]);
    expect(reader.faults.injected).toBe(1);
  });

  it('hardware-error on a reader without interrupt endpoint is refused clearly', async () => {
    const reader = await ready('no-interrupt');
    expect(() => reader.injectFault({ kind: 'hardware-error' })).toThrow(/no interrupt endpoint/);
  });
});
