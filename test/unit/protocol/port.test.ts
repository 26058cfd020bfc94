import { describe, expect, it } from 'vitest';
import { createPortPair } from '../../../src/protocol/port.js';
import { flush } from '../connector/fake-daemon.js';

describe('in-memory port pair', () => {
  it('copies messages as Chrome does (JSON), asynchronously and in order', async () => {
    const [a, b] = createPortPair('n');
    const got: unknown[] = [];
    b.onMessage.addListener((m) => got.push(m));
    a.postMessage({ bytes: Uint8Array.of(1, 2), buf: new ArrayBuffer(2), gone: undefined, nan: NaN });
    a.postMessage(2);
    expect(got).toEqual([]);
    await flush();
    expect(got).toEqual([{ bytes: { 0: 1, 1: 2 }, buf: {}, nan: null }, 2]);
    expect(() => a.postMessage(10n)).toThrow();
  });

  it('tells only the other end about a disconnect, after messages already sent; posting afterwards throws', async () => {
    const [a, b] = createPortPair();
    const events: string[] = [];
    a.onDisconnect.addListener(() => events.push('a'));
    b.onDisconnect.addListener(() => events.push('b'));
    b.onMessage.addListener(() => events.push('msg'));
    a.postMessage(1);
    a.disconnect();
    await flush();
    expect(events).toEqual(['msg', 'b']);
    expect(() => a.postMessage(1)).toThrow(/disconnected port/);
    expect(() => b.postMessage(1)).toThrow(/disconnected port/);
  });
});
