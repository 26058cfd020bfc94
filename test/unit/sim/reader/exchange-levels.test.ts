import { describe, expect, it } from 'vitest';
import { buildBlock, parseBlock } from '../../../../src/sim/reader/t1-block.js';
import { helloWorldCardT1 } from '../../../../src/sim/card/profiles.js';
import { TestCard, concat } from './test-card.js';
import { bytes, exchange, hex, msg, openReader, receive, send, type Resp } from './ccid-helpers.js';
import type { SimulatedReader } from '../../../../src/sim/reader/device.js';
import type { ProfileId } from '../../../../src/sim/reader/profiles.js';

async function powered(profile: ProfileId, card: TestCard | ReturnType<typeof helloWorldCardT1>) {
  const reader = await openReader(profile);
  reader.insertCard(card);
  const r = await exchange(reader, msg(0x62, 0, 0));
  expect(r.status).toBe(0);
  return reader;
}

/** Sends an APDU with CCID chaining (CCID 1.1 §6.1.4) and collects a chained answer, as a driver would. */
async function chainedApdu(
  reader: SimulatedReader,
  apdu: Uint8Array,
  chunk: number,
): Promise<{ data: Uint8Array; responses: Resp[] }> {
  let seq = 1;
  const responses: Resp[] = [];
  for (let at = 0; at < apdu.length; at += chunk) {
    const first = at === 0;
    const last = at + chunk >= apdu.length;
    const level = first && last ? 0 : first ? 1 : last ? 2 : 3;
    const r = await exchange(reader, msg(0x6f, 0, seq++ & 0xff, apdu.subarray(at, at + chunk), 0, level, 0));
    responses.push(r);
    if (!last) {
      expect(r.status).toBe(0);
      expect(r.dwLength).toBe(0);
      expect(r.byte9).toBe(0x10);
    }
  }
  const parts: Uint8Array[] = [];
  let r = responses[responses.length - 1]!;
  parts.push(r.data);
  while (r.byte9 === 0x01 || r.byte9 === 0x03) {
    r = await exchange(reader, msg(0x6f, 0, seq++ & 0xff, [], 0, 0x10, 0));
    responses.push(r);
    expect(r.status).toBe(0);
    parts.push(r.data);
  }
  return { data: concat(...parts), responses };
}

describe('TPDU level, T=1: blocks pass through to the card', () => {
  it('returns the card block for an I-block', async () => {
    const reader = await powered('gempc-twin', new TestCard({ protocol: 1 }));
    const block = buildBlock(0, 0x00, bytes('80 EE 00 00 02 AB CD'), 'lrc');
    const r = await exchange(reader, msg(0x6f, 0, 1, block));
    expect(r.status).toBe(0);
    const answer = parseBlock(r.data, 'lrc');
    expect(answer).not.toBeNull();
    expect(hex(answer!.inf)).toBe('ab cd 90 00');
  });

  it('answers ICC_MUTE when the card does not answer the block', async () => {
    const card = new TestCard({ protocol: 1 });
    const reader = await powered('gempc-twin', card);
    card.powered = false; // the test card ignores blocks when unpowered
    const r = await exchange(reader, msg(0x6f, 0, 1, buildBlock(0, 0, bytes('00 84 00 00 08'), 'lrc')));
    expect(r.status).toBe(0x40);
    expect(r.error).toBe(0xfe);
  });

  it('works with the simulated JCOP-like card from src/sim/card', async () => {
    const reader = await powered('gempc-twin', helloWorldCardT1());
    const r = await exchange(reader, msg(0x6f, 0, 1, buildBlock(0, 0x00, bytes('80 EE 00 00 03 01 02 03'), 'lrc')));
    const answer = parseBlock(r.data, 'lrc');
    expect(answer).not.toBeNull();
    expect(hex(answer!.inf.subarray(-2))).toBe('90 00');
  });

  it('takes a PPS request as the first exchange after the ATR and passes the echo back', async () => {
    const card = new TestCard({ protocol: 1, ta1: 0x13 });
    const reader = await powered('gempc-twin', card);
    const r = await exchange(reader, msg(0x6f, 0, 1, [0xff, 0x11, 0x13, 0xfd]));
    expect(hex(r.data)).toBe('ff 11 13 fd');
    expect(card.ppsRequests).toHaveLength(1);
    expect(hex((await exchange(reader, msg(0x6c, 0, 2))).data.subarray(0, 1))).toBe('13');
  });
});

describe('TPDU level, T=0: the reader plays the procedure bytes (ISO 7816-3 §10.3.3)', () => {
  it('case 3: sends the data after the INS procedure byte and returns SW1 SW2', async () => {
    const card = new TestCard({ protocol: 0 });
    const reader = await powered('gempc-twin', card);
    const r = await exchange(reader, msg(0x6f, 0, 1, bytes('80 EE 00 00 03 01 02 03')));
    expect(hex(r.data)).toBe('61 03');
    expect(hex(card.apdus[0]!)).toBe('80 ee 00 00 03 01 02 03');
  });

  it('case 2: collects the data after NULL and INS bytes; 61xx/6Cxx are left to the host', async () => {
    const reader = await powered('gempc-twin', new TestCard({ protocol: 0 }));
    const r = await exchange(reader, msg(0x6f, 0, 1, bytes('00 84 00 00 08')));
    expect(hex(r.data)).toBe('00 01 02 03 04 05 06 07 90 00');
    const wrongLe = await exchange(reader, msg(0x6f, 0, 2, bytes('00 84 00 00 04')));
    expect(hex(wrongLe.data)).toBe('6c 08');
  });

  it('refuses a TPDU whose data length is not P3 with bError 14 (P3)', async () => {
    const reader = await powered('gempc-twin', new TestCard({ protocol: 0 }));
    const r = await exchange(reader, msg(0x6f, 0, 1, bytes('80 EE 00 00 05 01 02')));
    expect(r.error).toBe(14);
    expect((await exchange(reader, msg(0x6f, 0, 2, bytes('00 84')))).error).toBe(10);
  });
});

describe('short APDU level: the reader is the transport layer', () => {
  it('over T=0 fetches 61xx with GET RESPONSE in the APDU class (bClassGetResponse 0xFF)', async () => {
    const card = new TestCard({ protocol: 0 });
    const reader = await powered('short-apdu', card);
    const r = await exchange(reader, msg(0x6f, 0, 1, bytes('80 EE 00 00 03 0A 0B 0C 00')));
    expect(r.status).toBe(0);
    expect(hex(r.data)).toBe('0a 0b 0c 90 00');
  });

  it('over T=0 re-sends a case 2 command with the Le the card asks for (6Cxx)', async () => {
    const reader = await powered('short-apdu', new TestCard({ protocol: 0 }));
    const r = await exchange(reader, msg(0x6f, 0, 1, bytes('00 84 00 00 04')));
    expect(hex(r.data)).toBe('00 01 02 03 04 05 06 07 90 00');
  });

  it('over T=1 chains the APDU to the card IFSC and collects a chained answer', async () => {
    const card = new TestCard({ protocol: 1, ifsc: 16 });
    const reader = await powered('short-apdu', card);
    const data = Uint8Array.from({ length: 200 }, (_, i) => i);
    const r = await exchange(reader, msg(0x6f, 0, 1, concat(bytes('80 EE 00 00 C8'), data)));
    expect(r.status).toBe(0);
    expect(r.data).toEqual(concat(data, bytes('90 00')));
    // The reader negotiated IFSD itself (dwFeatures 0x400) and chained in blocks of at most IFSC = 16.
    expect(card.ifsd).toBe(254);
    expect(card.blocksReceived.filter((b) => (b[1]! & 0x80) === 0).every((b) => b[2]! <= 16)).toBe(true);
  });

  it('refuses an extended APDU with bError 14 (the length field)', async () => {
    const reader = await powered('short-apdu', new TestCard({ protocol: 1 }));
    const r = await exchange(reader, msg(0x6f, 0, 1, bytes('80 EE 00 00 00 00 02 01 02')));
    expect(r.status & 0x40).toBe(0x40);
    expect(r.error).toBe(14);
  });

  it('refuses a malformed APDU and chaining parameters at the short level', async () => {
    const reader = await powered('short-apdu', new TestCard({ protocol: 1 }));
    expect((await exchange(reader, msg(0x6f, 0, 1, bytes('80 EE 00 00 05 01')))).error).toBe(14);
    expect((await exchange(reader, msg(0x6f, 0, 2, bytes('80 EE')))).error).toBe(10);
    expect((await exchange(reader, msg(0x6f, 0, 3, bytes('80 EE 00 00 01 01'), 0, 1))).error).toBe(8);
  });

  it('sends a time extension (bStatus 0x80, bError = multiplier) while the card asks for WTX', async () => {
    const reader = await powered('short-apdu', new TestCard({ protocol: 1, wtx: 5 }));
    await send(reader, msg(0x6f, 0, 1, bytes('80 EE 00 00 01 77')));
    const te = await receive(reader);
    expect(te.status).toBe(0x80);
    expect(te.error).toBe(5);
    expect(te.seq).toBe(1);
    expect(te.dwLength).toBe(0);
    const r = await receive(reader);
    expect(hex(r.data)).toBe('77 90 00');
  });

  it('activates on insertion and does the PPS itself when dwFeatures has automatic activation and PPS', async () => {
    const card = new TestCard({ protocol: 1, ta1: 0x13 });
    const reader = await openReader('short-apdu');
    reader.insertCard(card);
    expect(card.powered).toBe(true);
    expect(card.ppsRequests.map((p) => hex(p))).toEqual(['ff 11 13 fd']);
    // IccPowerOn on the active card is a warm reset: negotiable mode again, so the reader negotiates again.
    expect((await exchange(reader, msg(0x62, 0, 1))).status).toBe(0);
    expect(card.ppsRequests).toHaveLength(2);
    expect(hex((await exchange(reader, msg(0x6c, 0, 2))).data.subarray(0, 1))).toBe('13');
  });
});

describe('extended APDU level: chaining with the host (CCID 1.1 §6.1.4)', () => {
  const ECHO_SIZE = 65535;
  const data = Uint8Array.from({ length: ECHO_SIZE }, (_, i) => (i * 7) & 0xff);
  const apdu = concat(bytes('80 EE 00 00 00'), Uint8Array.of(ECHO_SIZE >> 8, ECHO_SIZE & 0xff), data);

  it('carries a 64 KiB ECHO to a T=1 card and back in 261-byte pieces', async () => {
    const reader = await powered('extended-apdu', new TestCard({ protocol: 1, ifsc: 254 }));
    const { data: answer, responses } = await chainedApdu(reader, apdu, 261);
    expect(answer.length).toBe(ECHO_SIZE + 2);
    expect(answer.subarray(0, ECHO_SIZE)).toEqual(data);
    expect(hex(answer.subarray(ECHO_SIZE))).toBe('90 00');
    const replies = responses.filter((r) => r.dwLength > 0);
    expect(replies[0]!.byte9).toBe(0x01);
    expect(replies[replies.length - 1]!.byte9).toBe(0x02);
    expect(replies.every((r) => r.dwLength <= 261)).toBe(true);
  });

  it('carries a long case 4E command to a T=0 card in ENVELOPE commands and fetches the answer with GET RESPONSE', async () => {
    const card = new TestCard({ protocol: 0 });
    const reader = await powered('extended-apdu', card);
    const small = concat(
      bytes('80 EE 00 00 00 01 2C'),
      Uint8Array.from({ length: 300 }, (_, i) => i & 0xff),
      bytes('00 00'),
    );
    const { data: answer } = await chainedApdu(reader, small, 261);
    expect(answer.length).toBe(302);
    expect(hex(answer.subarray(300))).toBe('90 00');
    expect(hex(card.apdus[0]!.subarray(0, 7))).toBe('80 ee 00 00 00 01 2c');
  });

  it('leaves 61xx to the host for a case 3 command over T=0 (no Le: ISO 7816-3 §12.2.3)', async () => {
    const reader = await powered('extended-apdu', new TestCard({ protocol: 0 }));
    const r = await exchange(reader, msg(0x6f, 0, 1, bytes('80 EE 00 00 02 01 02')));
    expect(hex(r.data)).toBe('61 02');
  });

  it('refuses a chain continuation without a beginning, and an empty-continue with nothing pending', async () => {
    const reader = await powered('extended-apdu', new TestCard({ protocol: 1 }));
    expect((await exchange(reader, msg(0x6f, 0, 1, [1, 2], 0, 3))).error).toBe(8);
    expect((await exchange(reader, msg(0x6f, 0, 2, [1, 2], 0, 2))).error).toBe(8);
    expect((await exchange(reader, msg(0x6f, 0, 3, [], 0, 0x10))).error).toBe(8);
  });
});

describe('character level: wLevelParameter says how many characters come back (CCID 1.1 §6.1.4)', () => {
  /** XfrBlock with `data` asking for `count` characters (wLevelParameter, little-endian in bytes 8-9). */
  const chars = (seq: number, data: string, count: number) =>
    msg(0x6f, 0, seq, bytes(data), 0, count & 0xff, count >> 8);

  it('T=0: the card’s characters form one stream, handed out exactly as asked', async () => {
    const reader = await powered('character-level', new TestCard({ protocol: 0 }));
    // GET CHALLENGE 8: the header, one character back (a procedure byte: NULL or INS).
    const stream: number[] = [];
    let r = await exchange(reader, chars(1, '00 84 00 00 08', 1));
    expect(r.status).toBe(0);
    stream.push(...r.data);
    // The rest, one character at a time, until the card has nothing more to say (ICC_MUTE, bError 0xFE).
    for (let seq = 2; seq < 40; seq++) {
      r = await exchange(reader, chars(seq, '', 1));
      if (r.status !== 0) break;
      expect(r.data.length).toBe(1);
      stream.push(...r.data);
    }
    expect([r.status >> 6, r.error]).toEqual([1, 0xfe]);
    // NULL bytes (if any), INS, the 8 challenge bytes, 90 00 (ISO 7816-3 §10.3.3).
    expect(hex(stream.slice(stream.findIndex((b) => b !== 0x60)))).toBe('84 00 01 02 03 04 05 06 07 90 00');
  });

  it('T=0: more characters than the card sends is ICC_MUTE; a case 3 command takes its data after INS', async () => {
    const card = new TestCard({ protocol: 0 });
    const reader = await powered('character-level', card);
    let r = await exchange(reader, chars(1, '80 EE 00 00 03', 1));
    while (r.data[0] === 0x60) r = await exchange(reader, chars(2, '', 1));
    expect(hex(r.data)).toBe('ee');
    r = await exchange(reader, chars(3, '01 02 03', 2));
    expect(hex(r.data)).toBe('61 03');
    expect(hex(card.apdus[0]!)).toBe('80 ee 00 00 03 01 02 03');
    r = await exchange(reader, chars(4, '', 1));
    expect([r.status >> 6, r.error]).toEqual([1, 0xfe]);
  });
});
