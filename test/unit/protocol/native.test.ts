import { describe, expect, it } from 'vitest';
import {
  ProtocolError,
  decodeHello,
  decodeHelloReply,
  encodeHello,
  encodeHelloReply,
  isHello,
  MAX_NATIVE_MESSAGE_TO_BROWSER,
} from '../../../src/protocol/index.js';

const reply = encodeHelloReply({
  id: 3,
  version: '0.1.0',
  platform: 'linux',
  backend: 'system',
  system: { available: true, detail: 'pcsc-lite' },
  own: { available: true, detail: 'no USB bus' },
});

describe('native messaging hello', () => {
  it('round-trips both directions through JSON', () => {
    const hello = encodeHello(1, 'auto');
    expect(decodeHello(JSON.parse(JSON.stringify(hello)))).toEqual(hello);
    expect(decodeHelloReply(JSON.parse(JSON.stringify(reply)))).toEqual(reply);
    expect(reply.protocol).toBe(1);
    expect(isHello(hello) && isHello(reply)).toBe(true);
    expect(isHello({ v: 1, kind: 'ping', id: 1 })).toBe(false);
    expect(MAX_NATIVE_MESSAGE_TO_BROWSER).toBe(1048576);
  });

  it('refuses an unknown backend, an extra field and a wrong version, keeping the id', () => {
    expect(() => decodeHello({ v: 1, kind: 'hello', id: 4, backend: 'pcscd' })).toThrow(
      /message.backend: expected one of auto, system, own/,
    );
    expect(() => decodeHello({ v: 1, kind: 'hello', id: 4, backend: 'own', x: 1 })).toThrow(/unexpected field "x"/);
    try {
      decodeHello({ v: 2, kind: 'hello', id: 9, backend: 'own' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      expect((e as ProtocolError).id).toBe(9);
    }
    expect(() => decodeHelloReply({ ...reply, backend: 'both' })).toThrow(/message.backend/);
    expect(() => decodeHelloReply({ ...reply, system: { available: 'yes', detail: '' } })).toThrow(
      /message.system.available/,
    );
  });

  it('never echoes a long received string', () => {
    const long = 'x'.repeat(5000);
    expect(() => decodeHelloReply({ ...reply, version: long })).toThrow(/message.version: string of 5000 characters/);
    expect(() => decodeHello({ v: 1, kind: 'hello', id: 1, backend: long })).toThrow(
      /got a string of 5000 characters$/,
    );
  });
});
