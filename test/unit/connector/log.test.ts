import { describe, expect, it } from 'vitest';
import {
  LogBuffer,
  describeCommandApdu,
  describeControlInput,
  describeResponse,
  describeResponseTo,
  exportText,
  formatEntry,
  isPinCommand,
  redactText,
} from '../../../src/connector/log.js';

const bytes = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
const OFF = { apdus: false };
const ON = { apdus: true };

describe('LogBuffer', () => {
  it('builds a message given as a function only when it is read, once, cut and escaped like any other', () => {
    const log = new LogBuffer(10, () => 7);
    let made = 0;
    const entry = log.add('info', 'router', () => {
      made++;
      return `line\nforged ${'x'.repeat(3000)}`;
    });
    expect(made).toBe(0);
    const text = entry.message;
    expect(made).toBe(1);
    expect(text.startsWith('line\\nforged xxx')).toBe(true);
    expect(text).toMatch(/… \(3012 characters\)$/);
    expect(JSON.parse(JSON.stringify(log.entries()))).toEqual([
      { seq: 1, time: 7, level: 'info', source: 'router', message: text },
    ]);
    // What leaves the buffer is a plain object (a port or a test's evaluate copies own properties only).
    expect({ ...log.entries()[0] }).toEqual({ seq: 1, time: 7, level: 'info', source: 'router', message: text });
    // What crosses a port is JSON: the window gets the same five fields as for a plain entry.
    expect(JSON.parse(JSON.stringify(entry))).toEqual({
      seq: 1,
      time: 7,
      level: 'info',
      source: 'router',
      message: text,
    });
    expect(made).toBe(1);
    // A maker that throws leaves a line saying so, not an exception at the reader.
    const bad = log.add('warn', 'router', () => {
      throw new Error('boom');
    });
    expect(bad.message).toBe('(this log line could not be written: Error: boom)');
  });

  it('keeps the newest entries up to its capacity, with timestamps, levels and sources', () => {
    let t = 0;
    const log = new LogBuffer(3, () => ++t);
    const seen: number[] = [];
    log.onEntry((e) => seen.push(e.seq));
    for (let i = 1; i <= 5; i++) log.add('info', 'router', `m${i}`);
    expect(log.entries().map((e) => e.message)).toEqual(['m3', 'm4', 'm5']);
    expect(log.entries()[0]).toEqual({ seq: 3, time: 3, level: 'info', source: 'router', message: 'm3' });
    expect(log.dropped).toBe(2);
    expect(log.since(4).map((e) => e.seq)).toEqual([5]);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(formatEntry(log.entries()[0]!)).toBe('1970-01-01T00:00:00.003Z info  router: m3');
    expect(exportText(log.entries(), { version: '1.2.3', apdus: false, dropped: 2 })).toMatch(
      /^Smart Card Connector 1\.2\.3 log.*\nAPDU logging: off.*\n\(2 older entries/,
    );
  });

  it('holds 2000 entries by default and cuts huge messages', () => {
    const log = new LogBuffer();
    for (let i = 0; i < 2100; i++) log.add('debug', 's', 'x'.repeat(i === 2099 ? 10_000 : 1));
    expect(log.entries()).toHaveLength(2000);
    expect(log.entries().at(-1)!.message.length).toBeLessThan(2100);
  });
});

describe('redaction', () => {
  const select = bytes('00a404000aa0000000620301' + '0c0601');
  const verify = bytes('0020008008313233343536ffff');

  it('shows only lengths by default', () => {
    expect(describeCommandApdu(select, OFF)).toBe('APDU (15 bytes)');
    expect(describeResponse(bytes('9000'), OFF)).toBe('response (2 bytes)');
    expect(describeCommandApdu(verify, OFF)).toBe('APDU (13 bytes)');
  });

  it('shows APDUs with the switch on, but never the data of PIN commands', () => {
    expect(describeCommandApdu(select, ON)).toBe('APDU (15 bytes): 00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01');
    expect(describeResponse(bytes('48659000'), ON)).toBe('response (4 bytes): 48 65 90 00');
    const v = describeCommandApdu(verify, ON);
    expect(v).toBe('APDU (13 bytes): 00 20 00 80 [PIN data redacted: 9 bytes]');
    expect(v).not.toMatch(/31|32|33|34/);
    for (const ins of [0x20, 0x21, 0x24, 0x26, 0x28, 0x2c])
      expect(isPinCommand(Uint8Array.of(0, ins, 0, 0, 1, 0x31))).toBe(true);
    expect(isPinCommand(select)).toBe(false);
    expect(isPinCommand(Uint8Array.of(0, 0x20, 0, 0x80))).toBe(false); // no data: nothing to hide
  });

  it('shows only the status word of the response to a PIN command', () => {
    expect(describeResponseTo(verify, bytes('3132339000'), ON)).toBe(
      'response (5 bytes): [data redacted: 3 bytes] 90 00',
    );
    expect(describeResponseTo(verify, bytes('63c2'), ON)).toBe('response (2 bytes): 63 C2');
    expect(describeResponseTo(select, bytes('3132339000'), ON)).toBe('response (5 bytes): 31 32 33 90 00');
  });

  it('never shows SCardControl input', () => {
    expect(describeControlInput(bytes('00112233445566'))).toBe('input (7 bytes)');
  });

  it('redacts hex runs from free text unless APDU logging is on', () => {
    const t = 'args[2]: not hex: "00a4040012345678" and 00 A4 04 00 0A A0';
    expect(redactText(t, OFF)).toBe('args[2]: not hex: "[16 hex digits]" and [12 hex digits]');
    expect(redactText(t, ON)).toBe(t);
    expect(redactText('handle 0x1A2B3C4D, 5 ms', OFF)).toBe('handle 0x1A2B3C4D, 5 ms');
  });
});
