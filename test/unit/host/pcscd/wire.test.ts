import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CMD,
  HEADER_SIZE,
  READER_NOT_INITIALIZED,
  READER_STATES_SIZE,
  REQUEST_STRUCT,
  WireError,
  commandName,
  decodeCString,
  decodeHeader,
  decodeReaderStates,
  decodeStruct,
  encodeCString,
  encodeHeader,
  encodeReaderStates,
  encodeRequest,
  encodeStruct,
  encodeWaitMessage,
  isCommand,
  requestSize,
  structSize,
  type StructName,
} from '../../../../src/host/pcscd/wire.js';

const u32 = (b: Uint8Array, off: number): number => new DataView(b.buffer, b.byteOffset).getUint32(off, true);
const i32 = (b: Uint8Array, off: number): number => new DataView(b.buffer, b.byteOffset).getInt32(off, true);

describe('pcscd protocol 4.4 codec', () => {
  it("has winscard_msg.h's command ids", () => {
    expect(CMD).toEqual({
      ESTABLISH_CONTEXT: 1,
      RELEASE_CONTEXT: 2,
      CONNECT: 4,
      RECONNECT: 5,
      DISCONNECT: 6,
      BEGIN_TRANSACTION: 7,
      END_TRANSACTION: 8,
      TRANSMIT: 9,
      CONTROL: 10,
      STATUS: 11,
      CANCEL: 13,
      GET_ATTRIB: 15,
      SET_ATTRIB: 16,
      VERSION: 17,
      GET_READERS_STATE: 18,
      WAIT_READER_STATE_CHANGE: 19,
      STOP_WAITING_READER_STATE_CHANGE: 20,
    });
    // Listed in the enum but sent by no 1.9.9 client: not commands this server takes.
    for (const c of [0, 3, 12, 14, 21, 0xffffffff]) expect(isCommand(c)).toBe(false);
    expect(commandName(3)).toBe('unknown command 0x3');
    expect(commandName(9)).toBe('TRANSMIT');
  });

  it('has the struct sizes of pcsc-lite 1.9.9 on x86_64 / arm64', () => {
    const sizes: Record<StructName, number> = {
      version: 12,
      establish: 12,
      release: 8,
      connect: 152,
      reconnect: 24,
      disconnect: 12,
      begin: 8,
      end: 12,
      cancel: 8,
      status: 8,
      transmit: 32,
      control: 24,
      getset: 280,
      waitReaderStateChange: 8,
    };
    for (const [name, size] of Object.entries(sizes)) expect(structSize(name as StructName), name).toBe(size);
    expect(requestSize(CMD.GET_READERS_STATE)).toBe(0);
    expect(requestSize(CMD.WAIT_READER_STATE_CHANGE)).toBe(0);
    expect(requestSize(CMD.STOP_WAITING_READER_STATE_CHANGE)).toBe(0);
    expect(requestSize(CMD.GET_ATTRIB)).toBe(280);
    expect(REQUEST_STRUCT[CMD.SET_ATTRIB]).toBe('getset');
  });

  it('lays fields out little-endian at their C offsets', () => {
    const connect = encodeStruct('connect', {
      hContext: 0x01020304,
      szReader: encodeCString('Reader 00 00', 128),
      dwShareMode: 2,
      dwPreferredProtocols: 3,
      hCard: -2,
      dwActiveProtocol: 2,
      rv: 0x80100069,
    });
    expect(connect.length).toBe(152);
    expect([...connect.subarray(0, 4)]).toEqual([4, 3, 2, 1]);
    expect(decodeCString(connect.subarray(4, 132))).toBe('Reader 00 00');
    expect(u32(connect, 132)).toBe(2);
    expect(u32(connect, 136)).toBe(3);
    expect(i32(connect, 140)).toBe(-2);
    expect(u32(connect, 144)).toBe(2);
    expect(u32(connect, 148)).toBe(0x80100069);

    const getset = encodeStruct('getset', {
      hCard: 7,
      dwAttrId: 0x90303,
      pbAttr: Uint8Array.of(1, 2, 3),
      cbAttrLen: 3,
      rv: 0,
    });
    expect(u32(getset, 4)).toBe(0x90303);
    expect([...getset.subarray(8, 12)]).toEqual([1, 2, 3, 0]);
    expect(u32(getset, 272)).toBe(3);

    const t = encodeStruct('transmit', {
      hCard: 1,
      ioSendPciProtocol: 2,
      ioSendPciLength: 16,
      cbSendLength: 5,
      ioRecvPciProtocol: 3,
      ioRecvPciLength: 16,
      pcbRecvLength: 258,
      rv: 0,
    });
    expect([1, 2, 16, 5, 3, 16, 258, 0].map((_, k) => u32(t, k * 4))).toEqual([1, 2, 16, 5, 3, 16, 258, 0]);
  });

  it('reads and writes the transmit struct (its own hand-written codec) field by field at its C offsets', () => {
    const names = [
      'hCard',
      'ioSendPciProtocol',
      'ioSendPciLength',
      'cbSendLength',
      'ioRecvPciProtocol',
      'ioRecvPciLength',
      'pcbRecvLength',
      'rv',
    ];
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const t = decodeStruct('transmit', bytes) as Record<string, number>;
        expect(Object.keys(t)).toEqual(names);
        expect(names.map((n) => t[n])).toEqual(names.map((_, k) => (k === 0 ? i32(bytes, 0) : u32(bytes, k * 4))));
        expect(encodeStruct('transmit', decodeStruct('transmit', bytes))).toEqual(bytes);
      }),
    );
    const good = decodeStruct('transmit', new Uint8Array(32));
    expect(() => decodeStruct('transmit', new Uint8Array(31))).toThrow(/struct transmit is 32 bytes; 31/);
    expect(() => encodeStruct('transmit', { ...good, cbSendLength: Number.NaN })).toThrow(
      /^field transmit\.cbSendLength must be a number$/,
    );
    // The first bad field in layout order is the one named, as the generic codec does.
    expect(() =>
      encodeStruct('transmit', { ...good, rv: 'x' as unknown as number, ioSendPciLength: Infinity }),
    ).toThrow(/transmit\.ioSendPciLength/);
  });

  it('round-trips every struct', () => {
    const names = Object.keys({
      version: 0,
      establish: 0,
      release: 0,
      connect: 0,
      reconnect: 0,
      disconnect: 0,
      begin: 0,
      end: 0,
      cancel: 0,
      status: 0,
      transmit: 0,
      control: 0,
      getset: 0,
      waitReaderStateChange: 0,
    }) as StructName[];
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.uint8Array({ minLength: 280, maxLength: 280 }), (name, raw) => {
        const bytes = raw.slice(0, structSize(name));
        const decoded = decodeStruct(name, bytes);
        expect(encodeStruct(name, decoded)).toEqual(bytes);
      }),
    );
  });

  it('refuses a wrong length or an oversized field, never cutting', () => {
    expect(() => decodeStruct('establish', new Uint8Array(11))).toThrow(WireError);
    expect(() => decodeStruct('establish', new Uint8Array(13))).toThrow(/12 bytes; 13/);
    expect(() =>
      encodeStruct('getset', { hCard: 0, dwAttrId: 0, pbAttr: new Uint8Array(265), cbAttrLen: 0, rv: 0 }),
    ).toThrow(WireError);
    expect(() => encodeCString('x'.repeat(128), 128)).toThrow(/does not fit/);
    expect(encodeCString('x'.repeat(127), 128)[127]).toBe(0);
    expect(() => decodeHeader(new Uint8Array(7))).toThrow(WireError);
  });

  it('encodes the header and a whole request', () => {
    expect(decodeHeader(encodeHeader({ size: 32, command: CMD.TRANSMIT }))).toEqual({ size: 32, command: 9 });
    const body = encodeStruct('status', { hCard: 5, rv: 0 });
    const req = encodeRequest(CMD.STATUS, body, Uint8Array.of(0xaa));
    expect(req.length).toBe(HEADER_SIZE + 8 + 1);
    expect(u32(req, 0)).toBe(8);
    expect(u32(req, 4)).toBe(CMD.STATUS);
    expect(req[16]).toBe(0xaa);
  });

  it('encodes READER_STATE[16]: 184 bytes each, unused entries with cardAtrLength 34', () => {
    const atr = Uint8Array.of(0x3b, 0x8c, 0x80, 0x01);
    const bytes = encodeReaderStates([
      {
        name: 'Gemalto PC Twin Reader 00 00',
        eventCounter: 3,
        readerState: 0x34,
        readerSharing: -1,
        atr,
        cardProtocol: 2,
      },
      {
        name: 'Other 01 00',
        eventCounter: 0,
        readerState: 0x02,
        readerSharing: 0,
        atr: new Uint8Array(0),
        cardProtocol: 0,
      },
    ]);
    expect(bytes.length).toBe(READER_STATES_SIZE);
    expect(READER_STATES_SIZE).toBe(2944);
    expect(decodeCString(bytes.subarray(0, 128))).toBe('Gemalto PC Twin Reader 00 00');
    expect(u32(bytes, 128)).toBe(3);
    expect(u32(bytes, 132)).toBe(0x34);
    expect(i32(bytes, 136)).toBe(-1);
    expect([...bytes.subarray(140, 144)]).toEqual([...atr]);
    expect(u32(bytes, 176)).toBe(4);
    expect(u32(bytes, 180)).toBe(2);
    expect(decodeCString(bytes.subarray(184, 184 + 128))).toBe('Other 01 00');
    expect(u32(bytes, 184 + 176)).toBe(0);
    for (let i = 2; i < 16; i++) {
      expect(bytes[i * 184]).toBe(0);
      expect(u32(bytes, i * 184 + 176)).toBe(READER_NOT_INITIALIZED);
    }
    const back = decodeReaderStates(bytes);
    expect(back.map((r) => r.name)).toEqual(['Gemalto PC Twin Reader 00 00', 'Other 01 00']);
    expect(back[0]!.readerSharing).toBe(-1);
    expect([...back[0]!.atr]).toEqual([...atr]);
  });

  it('refuses more than 16 readers or an ATR over 33 bytes', () => {
    const r = { name: 'R', eventCounter: 0, readerState: 2, readerSharing: 0, atr: new Uint8Array(0), cardProtocol: 0 };
    expect(() => encodeReaderStates(Array.from({ length: 17 }, (_, i) => ({ ...r, name: `R${i}` })))).toThrow(
      WireError,
    );
    expect(() => encodeReaderStates([{ ...r, atr: new Uint8Array(34) }])).toThrow(/ATR of 34/);
    expect(() => decodeReaderStates(new Uint8Array(100))).toThrow(WireError);
  });

  it('writes the event / cancel message as {timeOut 0, rv}', () => {
    expect([...encodeWaitMessage(0x80100002)]).toEqual([0, 0, 0, 0, 0x02, 0x00, 0x10, 0x80]);
  });
});
