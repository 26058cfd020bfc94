import { describe, expect, it } from 'vitest';
import { ConnectorRouter } from '../../../src/connector/router.js';
import { createPortPair } from '../../../src/protocol/port.js';
import {
  SCARD_E_NO_MEMORY,
  SCARD_E_NO_SERVICE,
  SCARD_F_INTERNAL_ERROR,
  SCARD_W_SECURITY_VIOLATION,
} from '../../../src/pcsc/constants.js';
import { FakeDaemon, attachClient, attachRaw, flush, READERS } from './fake-daemon.js';

const INSTANCE = 'inst-1';
const make = (extra: Partial<ConstructorParameters<typeof ConnectorRouter>[0]> = {}) => {
  const daemon = new FakeDaemon();
  const logs: string[] = [];
  const router = new ConnectorRouter({
    daemon,
    instance: INSTANCE,
    version: '0.1.0',
    log: (l, m) => logs.push(`${l} ${m}`),
    ...extra,
  });
  return { daemon, router, logs };
};

const call = (id: number, fn: string, args: unknown[]) => ({ v: 1, kind: 'call', id, fn, args });
const big = 'x'.repeat(5000);

/** Messages a hostile or buggy client may send; each must be answered with `error` (never crash, never hang). */
const BAD_MESSAGES: [string, unknown, RegExp][] = [
  ['null', null, /expected an object/],
  ['a number', 42, /expected an object/],
  ['a string', 'hello', /expected an object/],
  ['an array', [1, 2, 3], /expected an object/],
  ['an empty object', {}, /missing protocol version/],
  ['version 2', { v: 2, kind: 'ping', id: 1 }, /unsupported protocol version/],
  ['version "1"', { v: '1', kind: 'ping', id: 1 }, /unsupported protocol version/],
  ['no kind', { v: 1, id: 1 }, /unknown kind/],
  ['unknown kind', { v: 1, kind: 'explode', id: 1 }, /unknown kind a string of 7 characters/],
  ['kind "result" from a client', { v: 1, kind: 'result', id: 1, ok: true, value: null }, /unknown kind/],
  ['ping without id', { v: 1, kind: 'ping' }, /missing field "id"/],
  ['ping with a string id', { v: 1, kind: 'ping', id: '7' }, /id: expected a request id/],
  ['ping with a negative id', { v: 1, kind: 'ping', id: -1 }, /id: expected a request id/],
  ['ping with a fractional id', { v: 1, kind: 'ping', id: 1.5 }, /id: expected a request id/],
  ['ping with an extra field', { v: 1, kind: 'ping', id: 1, extra: true }, /unexpected field "extra"/],
  ['call without fn', { v: 1, kind: 'call', id: 1, args: [] }, /missing field "fn"/],
  ['unknown function', call(1, 'SCardFormatDisk', []), /unknown function a string of 15 characters/],
  ['prototype key as function', call(1, 'constructor', []), /unknown function a string of 11 characters/],
  ['__proto__ as function', call(1, '__proto__', []), /unknown function/],
  ['args not an array', { v: 1, kind: 'call', id: 1, fn: 'SCardStatus', args: { 0: 1 } }, /args: expected an array/],
  ['too few arguments', call(1, 'SCardConnect', [1, 'r']), /takes 4 arguments/],
  ['too many arguments', call(1, 'SCardStatus', [1, 2]), /takes 1 arguments/],
  ['string handle', call(1, 'SCardStatus', ['1']), /args\[0\].*unsigned 32-bit integer/],
  ['negative handle', call(1, 'SCardStatus', [-5]), /non-negative/],
  ['handle > 0xFFFFFFFF', call(1, 'SCardStatus', [0x100000000]), /≤ 0xFFFFFFFF/],
  ['fractional handle', call(1, 'SCardStatus', [1.25]), /an integer/],
  ['NaN handle (arrives as null)', call(1, 'SCardStatus', [NaN]), /got null/],
  ['boolean scope', call(1, 'SCardEstablishContext', [true]), /unsigned 32-bit integer, got a boolean/],
  ['reader name a number', call(1, 'SCardConnect', [1, 5, 2, 3]), /args\[1\].*expected a string/],
  ['huge reader name', call(1, 'SCardConnect', [1, big, 2, 3]), /5000 characters exceeds/],
  ['groups an object', call(1, 'SCardListReaders', [1, {}, null]), /expected a string/],
  ['bufferLength a string', call(1, 'SCardListReaders', [1, null, '10']), /args\[2\]/],
  [
    'bytes as a Uint8Array (JSON object)',
    call(1, 'SCardTransmit', [1, { dwProtocol: 2 }, Uint8Array.of(0, 0, 0, 0), null]),
    /expected a hex string, got an object/,
  ],
  [
    'bytes as an array of numbers',
    call(1, 'SCardTransmit', [1, { dwProtocol: 2 }, [0, 0, 0, 0], null]),
    /expected a hex string, got an array/,
  ],
  ['odd-length hex', call(1, 'SCardTransmit', [1, { dwProtocol: 2 }, 'abc', null]), /odd length/],
  ['non-hex characters', call(1, 'SCardTransmit', [1, { dwProtocol: 2 }, 'zz', null]), /not a hex string/],
  ['hex with 0x prefix', call(1, 'SCardControl', [1, 0x42000d48, '0x00', null]), /not a hex string/],
  [
    'oversized buffer',
    call(1, 'SCardTransmit', [1, { dwProtocol: 2 }, '00'.repeat(65549), null]),
    /65549 bytes exceed the limit of 65548/,
  ],
  ['PCI as a number', call(1, 'SCardTransmit', [1, 2, '00', null]), /args\[1\].*expected an object/],
  [
    'PCI with extra field',
    call(1, 'SCardTransmit', [1, { dwProtocol: 2, cbPciLength: 8 }, '00', null]),
    /unexpected field "cbPciLength"/,
  ],
  ['reader states not an array', call(1, 'SCardGetStatusChange', [1, 0, 'all']), /expected an array/],
  [
    'too many reader states',
    call(1, 'SCardGetStatusChange', [1, 0, Array.from({ length: 65 }, () => ({ szReader: 'r', dwCurrentState: 0 }))]),
    /65 entries exceed the limit of 64/,
  ],
  [
    'reader state with pvUserData',
    call(1, 'SCardGetStatusChange', [1, 0, [{ szReader: 'r', dwCurrentState: 0, pvUserData: 1 }]]),
    /unexpected field "pvUserData"/,
  ],
  [
    'reader state missing dwCurrentState',
    call(1, 'SCardGetStatusChange', [1, 0, [{ szReader: 'r' }]]),
    /missing field "dwCurrentState"/,
  ],
  ['set attrib with bad hex', call(1, 'SCardSetAttrib', [1, 2, 'g0']), /not a hex string/],
  ['subscribe with extra field', { v: 1, kind: 'subscribe', id: 1, filter: '*' }, /unexpected field "filter"/],
];

describe('ConnectorRouter: hostile and malformed messages', () => {
  it(`has a table of at least 30 bad messages (${BAD_MESSAGES.length})`, () => {
    expect(BAD_MESSAGES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(BAD_MESSAGES)(
    'answers %s with an error, and a second port keeps being served',
    async (_label, message, pattern) => {
      const { router, daemon } = make();
      const hostile = attachRaw(router);
      const good = await attachClient(router);
      hostile.send(message);
      await flush();
      expect(hostile.received).toHaveLength(1);
      const answer = hostile.received[0] as { v: number; kind: string; message: string };
      expect(answer).toMatchObject({ v: 1, kind: 'error' });
      expect(answer.message).toMatch(pattern);
      // nothing reached the daemon
      expect(daemon.clients.every((c) => c.calls.length === 0)).toBe(true);
      // the well-behaved client is unaffected
      const { hContext } = await good.SCardEstablishContext(2);
      await expect(good.SCardListReaders(hContext)).resolves.toEqual({ readers: READERS });
      expect(router.stats.pendingCalls).toBe(0);
      good.close();
    },
  );

  it('carries the request id in the error when one was readable', async () => {
    const { router } = make();
    const raw = attachRaw(router);
    raw.send(call(17, 'SCardStatus', ['x']));
    raw.send({ v: 9, kind: 'call', id: 18 });
    raw.send({ v: 1, kind: 'call', id: 'nineteen', fn: 'SCardStatus', args: [1] });
    await flush();
    expect(raw.received.map((m) => (m as { id?: number }).id)).toEqual([17, 18, undefined]);
  });

  it('disconnects a port after 10 malformed messages and closes its daemon client', async () => {
    const { router, daemon } = make();
    const raw = attachRaw(router);
    raw.send(call(1, 'SCardEstablishContext', [0]));
    await flush();
    expect(daemon.openClients).toBe(1);
    for (let i = 0; i < 9; i++) raw.send({ junk: i });
    await flush();
    expect(raw.disconnected).toBe(false);
    raw.send({ junk: 10 });
    await flush();
    expect(raw.disconnected).toBe(true);
    expect(raw.received.filter((m) => (m as { kind: string }).kind === 'error')).toHaveLength(10);
    expect(router.stats).toEqual({ ports: 0, pendingCalls: 0, subscribers: 0, daemonClients: 0 });
    expect(daemon.openClients).toBe(0);
  });

  it('honours a custom malformed budget', async () => {
    const { router } = make({ maxMalformed: 1 });
    const raw = attachRaw(router);
    raw.send('junk');
    await flush();
    expect(raw.disconnected).toBe(true);
  });

  it('refuses a duplicate id of a pending call; the original call is still answered', async () => {
    const { router, daemon } = make();
    const raw = attachRaw(router);
    raw.send(call(1, 'SCardEstablishContext', [0]));
    await flush();
    const hContext = (raw.received[0] as { value: { hContext: number } }).value.hContext;
    daemon.clients[0]!.holdFns.add('SCardIsValidContext');
    raw.send(call(2, 'SCardIsValidContext', [hContext]));
    raw.send(call(2, 'SCardIsValidContext', [hContext]));
    await flush();
    expect(raw.received[1]).toMatchObject({
      kind: 'error',
      id: 2,
      message: expect.stringMatching(/duplicate request id 2/),
    });
    expect(router.stats.pendingCalls).toBe(1);
    daemon.clients[0]!.release();
    await flush();
    expect(raw.received[2]).toMatchObject({ kind: 'result', id: 2, ok: true, value: null });
    expect(router.stats.pendingCalls).toBe(0);
    // an id may be reused once answered
    daemon.clients[0]!.holdFns.clear();
    raw.send(call(2, 'SCardIsValidContext', [hContext]));
    await flush();
    expect(raw.received[3]).toMatchObject({ kind: 'result', id: 2, ok: true });
  });

  it('sheds load beyond maxPendingPerPort with SCARD_E_NO_MEMORY', async () => {
    const { router, daemon } = make({ maxPendingPerPort: 3 });
    const raw = attachRaw(router);
    raw.send(call(1, 'SCardEstablishContext', [0]));
    await flush();
    daemon.clients[0]!.holdFns.add('SCardIsValidContext');
    for (let id = 2; id <= 5; id++) raw.send(call(id, 'SCardIsValidContext', [0x1001]));
    await flush();
    expect(raw.received[1]).toMatchObject({
      kind: 'result',
      id: 5,
      ok: false,
      code: SCARD_E_NO_MEMORY,
      name: 'SCARD_E_NO_MEMORY',
    });
    expect(router.stats.pendingCalls).toBe(3);
    daemon.clients[0]!.release();
    await flush();
    expect(router.stats.pendingCalls).toBe(0);
  });

  it('survives a daemon that throws non-PC/SC errors or returns values the protocol cannot carry', async () => {
    const { router, daemon } = make();
    const raw = attachRaw(router);
    raw.send(call(1, 'SCardEstablishContext', [0]));
    await flush();
    const c = daemon.clients[0]!;
    c.SCardStatus = () => {
      throw new TypeError('boom');
    };
    c.SCardListReaders = () => Promise.resolve({ readers: [42] as unknown as string[] });
    c.SCardTransmit = (() =>
      Promise.resolve({ recvPci: { dwProtocol: 2 }, recvBuffer: 'not bytes' })) as unknown as typeof c.SCardTransmit;
    raw.send(call(2, 'SCardStatus', [1]));
    raw.send(call(3, 'SCardListReaders', [0x1001, null, null]));
    raw.send(call(4, 'SCardTransmit', [1, { dwProtocol: 2 }, '00', null]));
    await flush();
    for (const id of [2, 3, 4]) {
      expect(raw.received.find((m) => (m as { id: number }).id === id)).toMatchObject({
        kind: 'result',
        ok: false,
        code: SCARD_F_INTERNAL_ERROR,
      });
    }
    expect(router.stats.pendingCalls).toBe(0);
  });

  it('answers SCARD_E_NO_SERVICE when the daemon refuses new clients', async () => {
    const { router, daemon } = make();
    daemon.refuse = true;
    const raw = attachRaw(router);
    raw.send(call(1, 'SCardEstablishContext', [0]));
    await flush();
    expect(raw.received[0]).toMatchObject({ kind: 'result', id: 1, ok: false, code: SCARD_E_NO_SERVICE });
  });

  it('does not break when the port is already gone while answering', async () => {
    const { router, daemon } = make();
    const raw = attachRaw(router);
    raw.send(call(1, 'SCardEstablishContext', [0]));
    await flush();
    daemon.clients[0]!.holdFns.add('SCardIsValidContext');
    raw.send(call(2, 'SCardIsValidContext', [0x1001]));
    await flush();
    expect(router.stats.pendingCalls).toBe(1);
    raw.port.disconnect();
    await flush();
    expect(router.stats).toEqual({ ports: 0, pendingCalls: 0, subscribers: 0, daemonClients: 0 });
    expect(daemon.clients[0]!.closed).toBe(true);
  });
});

describe('ConnectorRouter: serving', () => {
  it('answers pings with the instance and version, before any authorization decision', async () => {
    let decide!: (ok: boolean) => void;
    const { router } = make({ authorize: () => new Promise<boolean>((r) => (decide = r)) });
    const raw = attachRaw(router);
    raw.send({ v: 1, kind: 'ping', id: 5 });
    await flush();
    expect(raw.received).toEqual([{ v: 1, kind: 'pong', id: 5, instance: INSTANCE, version: '0.1.0' }]);
    raw.send(call(6, 'SCardEstablishContext', [0]));
    await flush();
    expect(raw.received).toHaveLength(1); // waits for the decision
    decide(true);
    await flush();
    expect(raw.received[1]).toMatchObject({ kind: 'result', id: 6, ok: true });
  });

  it('gives each port its own daemon client, named by the port, and closes it when the port goes', async () => {
    const { router, daemon } = make();
    const a = await attachClient(router, { name: 'App A' });
    const b = await attachClient(router, { name: 'App B' });
    const ca = await a.SCardEstablishContext(0);
    await b.SCardEstablishContext(0);
    expect(daemon.clients.map((c) => c.name)).toEqual(['App A', 'App B']);
    // a's context is unknown to b's daemon client
    await expect(b.SCardIsValidContext(ca.hContext)).rejects.toMatchObject({ code: 0x80100003 });
    expect(router.stats).toMatchObject({ ports: 2, daemonClients: 2 });
    a.close();
    await flush();
    expect(daemon.clients[0]!.closed).toBe(true);
    expect(daemon.clients[1]!.closed).toBe(false);
    expect(router.stats).toMatchObject({ ports: 1, daemonClients: 1 });
    b.close();
  });

  it('runs calls of one port concurrently: a waiting call does not hold back the next', async () => {
    const { router, daemon } = make();
    const conn = await attachClient(router);
    const { hContext } = await conn.SCardEstablishContext(0);
    const waiting = conn.SCardGetStatusChange(hContext, 0xffffffff, [
      { szReader: READERS[0]!, dwCurrentState: 0x10020 },
    ]);
    await expect(conn.SCardListReaders(hContext)).resolves.toEqual({ readers: READERS });
    expect(router.stats.pendingCalls).toBe(1);
    await conn.SCardCancel(hContext);
    await expect(waiting).rejects.toMatchObject({ code: 0x80100002 });
    expect(daemon.clients[0]!.calls.map((c) => c.fn)).toEqual([
      'SCardEstablishContext',
      'SCardGetStatusChange',
      'SCardListReaders',
      'SCardCancel',
    ]);
    conn.close();
  });

  it('denies every call and subscription of an unauthorized sender without revealing reader names', async () => {
    const { router, daemon } = make({ authorize: (s) => s.id === 'allowed' });
    router.publishReaders([{ name: READERS[0]!, state: 0x20, atr: Uint8Array.of(0x3b) }]);
    const raw = attachRaw(router, { id: 'intruder' });
    raw.send({ v: 1, kind: 'subscribe', id: 1 });
    raw.send(call(2, 'SCardEstablishContext', [0]));
    raw.send(call(3, 'SCardListReaders', [1, null, null]));
    await flush();
    expect(raw.received).toHaveLength(3);
    for (const m of raw.received) {
      expect(m).toMatchObject({
        kind: 'result',
        ok: false,
        code: SCARD_W_SECURITY_VIOLATION,
        name: 'SCARD_W_SECURITY_VIOLATION',
      });
      expect(JSON.stringify(m)).not.toContain('Fake Reader');
    }
    expect(daemon.clients).toHaveLength(0);
    router.publishReaders([]);
    await flush();
    expect(raw.received).toHaveLength(3);
  });

  it('treats an authorize callback that throws as a denial', async () => {
    const { router } = make({
      authorize: () => {
        throw new Error('policy store unavailable');
      },
    });
    const raw = attachRaw(router);
    raw.send(call(1, 'SCardEstablishContext', [0]));
    await flush();
    expect(raw.received[0]).toMatchObject({ ok: false, code: SCARD_W_SECURITY_VIOLATION });
  });

  it('pushes reader events to subscribed ports only, the current list first', async () => {
    const { router } = make();
    router.publishReaders([{ name: 'R1', state: 0x10, atr: new Uint8Array(0) }]);
    const sub = attachRaw(router, { id: 'sub' });
    const other = attachRaw(router, { id: 'other' });
    sub.send({ v: 1, kind: 'subscribe', id: 1 });
    await flush();
    expect(sub.received).toEqual([
      { v: 1, kind: 'result', id: 1, ok: true, value: null },
      { v: 1, kind: 'event', event: { type: 'readers', readers: [{ name: 'R1', state: 0x10, atr: '' }] } },
    ]);
    expect(router.stats.subscribers).toBe(1);
    router.publishReaders([{ name: 'R1', state: 0x10022, atr: Uint8Array.of(0x3b, 0x00) }]);
    await flush();
    expect(sub.received[2]).toEqual({
      v: 1,
      kind: 'event',
      event: { type: 'readers', readers: [{ name: 'R1', state: 0x10022, atr: '3b00' }] },
    });
    expect(other.received).toEqual([]);
    sub.send({ v: 1, kind: 'unsubscribe', id: 2 });
    await flush();
    router.publishReaders([]);
    await flush();
    expect(sub.received).toHaveLength(4);
    expect(router.stats.subscribers).toBe(0);
  });

  it('close() disconnects every port and closes every daemon client', async () => {
    const { router, daemon } = make();
    const raw = attachRaw(router);
    const conn = await attachClient(router);
    await conn.SCardEstablishContext(0);
    raw.send(call(1, 'SCardEstablishContext', [0]));
    await flush();
    await router.close();
    await flush();
    expect(raw.disconnected).toBe(true);
    expect(conn.connected).toBe(false);
    expect(daemon.openClients).toBe(0);
    expect(router.stats.ports).toBe(0);
  });

  it('a chrome-like port pair: the router posts on a port that the client disconnected only after delivery', async () => {
    const { router } = make();
    const [client, server] = createPortPair('x');
    router.attach(server, { id: 'e' });
    client.postMessage({ v: 1, kind: 'ping', id: 1 });
    client.disconnect();
    await flush();
    expect(router.stats.ports).toBe(0);
  });
});

describe('ConnectorRouter: consent and the call log', () => {
  it('asks on the first call, not on attach or ping; a denial carries the message the authorizer gave', async () => {
    let asked = 0;
    const { router } = make({
      authorize: () => {
        asked++;
        return { allowed: false, message: 'the user blocked "X"; open the window to change this' };
      },
    });
    const raw = attachRaw(router, { id: 'x' });
    raw.send({ v: 1, kind: 'ping', id: 1 });
    await flush();
    expect(asked).toBe(0);
    raw.send(call(2, 'SCardEstablishContext', [0]));
    await flush();
    expect(asked).toBe(1);
    expect(raw.received[1]).toMatchObject({
      ok: false,
      code: SCARD_W_SECURITY_VIOLATION,
      message: expect.stringContaining('the user blocked "X"'),
    });
  });

  it('revoke closes the daemon clients of the matching ports at once, ends their subscriptions and asks again on the next call', async () => {
    let allow = true;
    let asked = 0;
    const { router, daemon } = make({
      authorize: () => {
        asked++;
        return allow;
      },
    });
    const a = await attachClient(router, { name: 'A' }, { id: 'app-a' });
    const b = await attachClient(router, { name: 'B' }, { id: 'app-b' });
    const { hContext } = await a.SCardEstablishContext(0);
    await b.SCardEstablishContext(0);
    expect(asked).toBe(2);
    allow = false;
    await expect(router.revoke((s) => s.id === 'app-a')).resolves.toBe(1);
    expect(daemon.clients[0]!.closed).toBe(true);
    expect(daemon.clients[1]!.closed).toBe(false);
    await expect(a.SCardIsValidContext(hContext)).rejects.toMatchObject({ code: SCARD_W_SECURITY_VIOLATION });
    expect(asked).toBe(3);
    // Allowed again: a new daemon client, the old context is gone.
    allow = true;
    await router.revoke((s) => s.id === 'app-a');
    await expect(a.SCardIsValidContext(hContext)).rejects.toMatchObject({ code: 0x80100003 });
    expect(router.stats).toMatchObject({ ports: 2, daemonClients: 2 });
    a.close();
    b.close();
  });

  it('logs each call by client and result, APDU bytes as lengths unless the switch is on', async () => {
    let apdus = false;
    const { router, logs } = make({ redaction: () => ({ apdus }) });
    const conn = await attachClient(router, { name: 'Logged app' }, { id: 'app-l' });
    const { hContext } = await conn.SCardEstablishContext(0);
    const { hCard } = await conn.SCardConnect(hContext, READERS[0]!, 2, 3);
    await conn.SCardTransmit(hCard, { dwProtocol: 2 }, Uint8Array.of(0, 0, 0, 0));
    apdus = true;
    await conn.SCardTransmit(hCard, { dwProtocol: 2 }, Uint8Array.of(0, 0, 0, 0));
    await conn
      .SCardTransmit(hCard, { dwProtocol: 2 }, Uint8Array.of(0, 0x20, 0, 0x80, 4, 0x31, 0x32, 0x33, 0x34))
      .catch(() => {});
    await conn.SCardControl(hCard, 0x42000d48, Uint8Array.of(0x31, 0x32, 0x33, 0x34)).catch(() => {});
    await expect(conn.SCardIsValidContext(0x7777)).rejects.toBeDefined();
    const calls = logs.filter((l) => l.includes('client "Logged app" (app-l)'));
    expect(calls[0]).toBe('info client "Logged app" (app-l): SCardEstablishContext → SCARD_S_SUCCESS');
    expect(calls).toContain(`info client "Logged app" (app-l): SCardConnect → SCARD_S_SUCCESS ("${READERS[0]}")`);
    expect(calls).toContain(
      'info client "Logged app" (app-l): SCardTransmit → SCARD_S_SUCCESS (APDU (4 bytes), response (14 bytes))',
    );
    expect(calls).toContain(
      'info client "Logged app" (app-l): SCardTransmit → SCARD_S_SUCCESS (APDU (4 bytes): 00 00 00 00, response (14 bytes): 48 65 6C 6C 6F 20 77 6F 72 6C 64 21 90 00)',
    );
    expect(calls.some((l) => l.includes('SCardIsValidContext → SCARD_E_INVALID_HANDLE'))).toBe(true);
    const all = logs.join('\n');
    expect(all).toContain('00 20 00 80 [PIN data redacted: 5 bytes]');
    expect(all).not.toMatch(/31 32 33 34/);
    expect(all).toContain('SCardControl');
    expect(all).toContain('input (4 bytes)');
    conn.close();
  });
});

describe('ConnectorRouter: the call log built when read', () => {
  it('hands logLine each call line unbuilt, under the redaction of the call: lengths only while APDU logging was off', async () => {
    let apdus = false;
    const lines: { level: string; line: () => string }[] = [];
    const { router, logs } = make({
      redaction: () => ({ apdus }),
      logLine: (level, line) => lines.push({ level, line }),
    });
    const conn = await attachClient(router, { name: 'Lazy app' }, { id: 'app-z' });
    const { hContext } = await conn.SCardEstablishContext(0);
    const { hCard } = await conn.SCardConnect(hContext, READERS[0]!, 2, 3);
    await conn.SCardTransmit(hCard, { dwProtocol: 2 }, Uint8Array.of(0, 0x20, 0, 0x80, 4, 0x31, 0x32, 0x33, 0x34));
    apdus = true;
    await conn.SCardTransmit(hCard, { dwProtocol: 2 }, Uint8Array.of(0, 0, 0, 0));
    await conn.SCardTransmit(hCard, { dwProtocol: 2 }, Uint8Array.of(0, 0x20, 0, 0x80, 4, 0x31, 0x32, 0x33, 0x34));
    apdus = false;
    await expect(conn.SCardIsValidContext(0x7777)).rejects.toBeDefined();
    // Nothing of the call log went to `log`; the lines are read only now, after the switch changed twice.
    expect(logs.filter((l) => l.includes('client "Lazy app"'))).toEqual([]);
    expect(lines.map((l) => `${l.level} ${l.line()}`)).toEqual([
      'info client "Lazy app" (app-z): SCardEstablishContext → SCARD_S_SUCCESS',
      `info client "Lazy app" (app-z): SCardConnect → SCARD_S_SUCCESS ("${READERS[0]}")`,
      'info client "Lazy app" (app-z): SCardTransmit → SCARD_S_SUCCESS (APDU (9 bytes), response (11 bytes))',
      'info client "Lazy app" (app-z): SCardTransmit → SCARD_S_SUCCESS (APDU (4 bytes): 00 00 00 00, response (14 bytes): 48 65 6C 6C 6F 20 77 6F 72 6C 64 21 90 00)',
      'info client "Lazy app" (app-z): SCardTransmit → SCARD_S_SUCCESS (APDU (9 bytes): 00 20 00 80 [PIN data redacted: 5 bytes], response (11 bytes): [data redacted: 9 bytes] 90 00)',
      'info client "Lazy app" (app-z): SCardIsValidContext → SCARD_E_INVALID_HANDLE',
    ]);
    conn.close();
  });
});

describe('ConnectorRouter: connections per sender', () => {
  it('refuses a sender past maxPortsPerSender connections with an error, serves it again once one closes, and never limits other senders', async () => {
    const { router } = make({ maxPortsPerSender: 3 });
    const mine = [1, 2, 3].map(() => attachRaw(router, { id: 'greedy-extension' }));
    const extra = attachRaw(router, { id: 'greedy-extension' });
    await flush();
    expect(extra.disconnected).toBe(true);
    expect(extra.received).toHaveLength(1);
    expect(extra.received[0]).toMatchObject({
      v: 1,
      kind: 'error',
      message: expect.stringMatching(/too many connections/),
    });
    expect(router.stats.ports).toBe(3);
    // Another extension is unaffected.
    const other = await attachClient(router, {}, { id: 'other-extension' });
    await expect(other.SCardEstablishContext(2)).resolves.toMatchObject({ hContext: expect.any(Number) });
    // One of the greedy sender's ports goes: a new one is accepted.
    mine[0]!.port.disconnect();
    await flush();
    const again = attachRaw(router, { id: 'greedy-extension' });
    again.send({ v: 1, kind: 'ping', id: 1 });
    await flush();
    expect(again.disconnected).toBe(false);
    expect(again.received[0]).toMatchObject({ kind: 'pong', id: 1 });
  });
});
