/**
 * What an app learns and costs before consent (issue 13, item 7): a sender not yet allowed may send only small messages
 * at a modest rate (a bigger or faster one loses its port, and its new ports are refused for a growing while); an
 * allowed sender is not held to that; error texts carry no daemon-wide client counter.
 */
import { describe, expect, it } from 'vitest';
import { ConnectorRouter, STRANGER_MAX_MESSAGE, approxSize } from '../../../src/connector/router.js';
import { PcscDaemon } from '../../../src/pcsc/daemon.js';
import { FakeDaemon, attachRaw, flush } from './fake-daemon.js';

const STRANGER = { id: 'abcdefghijklmnopabcdefghijklmnop' };
const FRIEND = { id: 'ponmlkjihgfedcbaponmlkjihgfedcba' };

function make() {
  let t = 1_000_000;
  const router = new ConnectorRouter({
    daemon: new FakeDaemon(),
    instance: 'i',
    version: '0',
    authorize: (s) => (s.id === FRIEND.id ? true : new Promise(() => {})), // the stranger waits for the user
    now: () => t,
  });
  return { router, advance: (ms: number) => (t += ms) };
}
const big = (n: number) => ({ v: 1, kind: 'call', id: 1, fn: 'SCardEstablishContext', args: ['x'.repeat(n)] });

describe('caps before consent', () => {
  it('measures a message by its strings, stopping once past the limit', () => {
    expect(approxSize({ a: 'xx', b: ['yyy'] }, 100)).toBeLessThan(20);
    expect(approxSize(big(1_000_000), 100)).toBeGreaterThan(100);
  });

  it('a stranger sending a large message loses its port, and its next ports are refused for a growing while', async () => {
    const { router, advance } = make();
    const raw = attachRaw(router, STRANGER, 'big');
    raw.send(big(STRANGER_MAX_MESSAGE + 1));
    await flush();
    expect(raw.disconnected).toBe(true);
    expect(JSON.stringify(raw.received)).toContain('message too large');
    const again = attachRaw(router, STRANGER, 'again');
    await flush();
    expect(again.disconnected).toBe(true);
    expect(router.stats.ports).toBe(0);
    advance(5_001);
    const later = attachRaw(router, STRANGER, 'later');
    await flush();
    expect(later.disconnected).toBe(false);
    later.send(big(STRANGER_MAX_MESSAGE + 1)); // a second time: 10 s
    await flush();
    advance(5_001);
    const soon = attachRaw(router, STRANGER, 'soon');
    await flush();
    expect(soon.disconnected).toBe(true);
    // Another sender is not affected, and an allowed one may send what a call needs.
    const friend = attachRaw(router, FRIEND, 'friend');
    friend.send({ v: 1, kind: 'call', id: 1, fn: 'SCardEstablishContext', args: [0] }); // asked and allowed
    await flush();
    await flush();
    friend.send({ ...big(STRANGER_MAX_MESSAGE + 1), id: 2 }); // malformed (bad scope) but not refused for its size
    await flush();
    expect(friend.disconnected).toBe(false);
  });

  it('a stranger sending too fast loses its port', async () => {
    const { router } = make();
    const raw = attachRaw(router, STRANGER, 'fast');
    for (let i = 0; i < 25; i++) raw.send({ v: 1, kind: 'ping', id: i });
    await flush();
    expect(raw.disconnected).toBe(true);
    expect(JSON.stringify(raw.received)).toContain('too many messages');
  });

  it('error texts name no daemon-wide client counter', async () => {
    const daemon = new PcscDaemon();
    for (let i = 0; i < 5; i++) await daemon.connect({ name: 'other' }).close();
    const client = daemon.connect({ name: 'me' });
    await client.close();
    const e = await client.SCardEstablishContext(0).catch((x: unknown) => x as Error);
    expect(String((e as Error).message)).not.toMatch(/#\d|me#/);
  });

  it('an app known to be allowed (a stored Allow) is not held to them while its authorization is on its way', async () => {
    const router = new ConnectorRouter({
      daemon: new FakeDaemon(),
      instance: 'i',
      version: '0',
      authorize: () => new Promise(() => {}),
      knownAllowed: (s) => s.id === FRIEND.id,
    });
    const friend = attachRaw(router, FRIEND, 'friend');
    for (let i = 0; i < 25; i++) friend.send({ v: 1, kind: 'ping', id: i });
    friend.send(big(STRANGER_MAX_MESSAGE + 1));
    await flush();
    expect(friend.disconnected).toBe(false);
  });
});
