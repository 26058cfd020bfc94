import { describe, expect, it } from 'vitest';
import {
  ProtocolError,
  bytesToHex,
  decodeClientMessage,
  decodeConnectorMessage,
  encodeCall,
  encodeErrResult,
  encodeReadersEvent,
  errorName,
  hexToBytes,
} from '../../../src/protocol/codec.js';
import { PcscError } from '../../../src/pcsc/errors.js';
import { SCARD_E_TIMEOUT, SCARD_F_INTERNAL_ERROR, SCARD_W_REMOVED_CARD } from '../../../src/pcsc/constants.js';

describe('codec', () => {
  it('encodes bytes as lowercase hex and reads either case', () => {
    expect(bytesToHex(Uint8Array.of(0, 0xab, 0x0f, 0xff))).toBe('00ab0fff');
    expect(hexToBytes('00AB0fFf')).toEqual(Uint8Array.of(0, 0xab, 0x0f, 0xff));
    expect(() => hexToBytes('0')).toThrow(ProtocolError);
  });

  it('every byte value goes to hex and back, in either case', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const hex = bytesToHex(all);
    expect(hex).toBe(Array.from(all, (b) => b.toString(16).padStart(2, '0')).join(''));
    expect(hexToBytes(hex)).toEqual(all);
    expect(hexToBytes(hex.toUpperCase())).toEqual(all);
    expect(() => hexToBytes('0g')).toThrow(ProtocolError);
  });

  it('builds the documented call shape, options as null', () => {
    expect(encodeCall(7, 'SCardTransmit', [5, { dwProtocol: 2 }, Uint8Array.of(0, 0xa4)])).toEqual({
      v: 1,
      kind: 'call',
      id: 7,
      fn: 'SCardTransmit',
      args: [5, { dwProtocol: 2 }, '00a4', null],
    });
    expect(encodeCall(1, 'SCardListReaders', [3])).toEqual({
      v: 1,
      kind: 'call',
      id: 1,
      fn: 'SCardListReaders',
      args: [3, null, null],
    });
    expect(() => encodeCall(1, 'SCardStatus', [1, 2])).toThrow(/at most 1 arguments/);
    const e = (() => {
      try {
        encodeCall(4, 'SCardStatus', ['x']);
      } catch (x) {
        return x;
      }
    })() as ProtocolError;
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e.id).toBe(4);
  });

  it('round-trips an error with code, name, needed, readerStates; the message is not doubled', () => {
    const err = new PcscError(SCARD_E_TIMEOUT, 'no change', {
      readerStates: [{ szReader: 'R', dwCurrentState: 0x20, dwEventState: 0x10020, rgbAtr: Uint8Array.of(0x3b) }],
    });
    const wire = JSON.parse(JSON.stringify(encodeErrResult(3, err))) as unknown;
    expect(wire).toMatchObject({
      kind: 'result',
      id: 3,
      ok: false,
      code: SCARD_E_TIMEOUT,
      name: 'SCARD_E_TIMEOUT',
      message: 'Command timeout. (0x8010000A): no change',
    });
    const back = decodeConnectorMessage(wire);
    if (back.kind !== 'result' || back.ok) throw new Error('not an error result');
    expect(back.error).toBeInstanceOf(PcscError);
    expect(back.error.message).toBe(err.message);
    expect(back.error.readerStates).toEqual(err.readerStates);
    expect(encodeErrResult(1, new Error('kaput'))).toMatchObject({
      code: SCARD_F_INTERNAL_ERROR,
      message: 'Internal error. (0x80100001): kaput',
    });
    expect(errorName(SCARD_W_REMOVED_CARD)).toBe('SCARD_W_REMOVED_CARD');
    expect(() =>
      decodeConnectorMessage({ v: 1, kind: 'result', id: 1, ok: false, code: 0, name: 'x', message: '' }),
    ).toThrow(/SCARD_S_SUCCESS/);
  });

  it('checks reader events both ways and never throws anything but ProtocolError', () => {
    expect(encodeReadersEvent([{ name: 'R', state: 0x22, atr: Uint8Array.of(0x3b, 0) }]).event.readers).toEqual([
      { name: 'R', state: 0x22, atr: '3b00' },
    ]);
    expect(() => encodeReadersEvent([{ name: 'R', state: -1, atr: new Uint8Array(0) }])).toThrow(ProtocolError);
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf: () => {
          throw new Error('trap');
        },
      },
    );
    expect(() => decodeClientMessage(hostile)).toThrow(ProtocolError);
    const cyclic: Record<string, unknown> = { v: 1, kind: 'call', id: 1, fn: 'SCardStatus' };
    cyclic.args = [cyclic];
    expect(() => decodeClientMessage(cyclic)).toThrow(ProtocolError);
  });
});
