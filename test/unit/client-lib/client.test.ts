import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectorRouter } from '../../../src/connector/router.js';
import { createPortPair, type PortLike } from '../../../src/protocol/port.js';
import {
  PcscError,
  connect,
  describePcscError,
  isPcscError,
  pcscErrorName,
  type Connection,
  SCARD_E_CANCELLED,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_PARAMETER,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_SERVICE,
  SCARD_E_SERVICE_STOPPED,
  SCARD_E_TIMEOUT,
  SCARD_E_UNKNOWN_READER,
  SCARD_F_COMM_ERROR,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  SCARD_STATE_PRESENT,
  SCARD_W_REMOVED_CARD,
  MAX_BUFFER_SIZE_EXTENDED,
  INFINITE,
} from '../../../client-lib/src/index.js';
import * as daemonConstants from '../../../src/pcsc/constants.js';
import * as libConstants from '../../../client-lib/src/constants.js';
import { ATR, FakeDaemon, HELLO_RESPONSE, READERS, attachClient, flush } from '../connector/fake-daemon.js';

const open: Connection[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
  vi.useRealTimers();
});

async function setup(options: Parameters<typeof attachClient>[1] = {}) {
  const daemon = new FakeDaemon();
  const router = new ConnectorRouter({ daemon, instance: 'instance-A', version: '9.9.9' });
  const conn = await attachClient(router, options);
  open.push(conn);
  return { daemon, router, conn, client: () => daemon.clients[0]! };
}

/** A connector endpoint scripted by the test: answers pings with `instance`, records everything else. */
function scriptedConnector() {
  const [clientPort, serverPort] = createPortPair('scripted');
  const state = { instance: 'one', answerPings: true, received: [] as { kind: string; id: number; fn?: string }[] };
  serverPort.onMessage.addListener((m) => {
    const msg = m as { kind: string; id: number };
    if (msg.kind === 'ping') {
      if (state.answerPings)
        serverPort.postMessage({ v: 1, kind: 'pong', id: msg.id, instance: state.instance, version: '1' });
    } else state.received.push(msg);
  });
  return { clientPort, serverPort, state };
}

describe('client library ↔ JSON ports ↔ router ↔ daemon: every function', () => {
  it('connects and learns the connector instance', async () => {
    const { conn } = await setup();
    expect(conn.instance).toBe('instance-A');
    expect(conn.connected).toBe(true);
  });

  it('round-trips every SCard* function with its inputs and outputs', async () => {
    const { conn, client } = await setup();
    const { hContext } = await conn.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    expect(hContext).toBe(0x1001);
    await expect(conn.SCardIsValidContext(hContext)).resolves.toBeUndefined();
    await expect(conn.SCardListReaders(hContext)).resolves.toEqual({ readers: READERS });
    await expect(conn.SCardListReaders(hContext, 'SCard$DefaultReaders', { bufferLength: 100 })).resolves.toEqual({
      readers: READERS,
    });
    await expect(conn.SCardListReaderGroups(hContext)).resolves.toEqual({ groups: ['SCard$DefaultReaders'] });

    const { hCard, dwActiveProtocol } = await conn.SCardConnect(
      hContext,
      READERS[0]!,
      SCARD_SHARE_SHARED,
      SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
    );
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    await expect(conn.SCardReconnect(hCard, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0, 1)).resolves.toEqual({
      dwActiveProtocol: 1,
    });
    await conn.SCardBeginTransaction(hCard);
    const status = await conn.SCardStatus(hCard);
    expect(status).toEqual({ szReaderName: READERS[0], dwState: 0x10034, dwProtocol: 2, atr: ATR });
    expect(status.atr).toBeInstanceOf(Uint8Array);

    const apdu = Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x02, 0x3f, 0x00);
    const t = await conn.SCardTransmit(hCard, { dwProtocol: 2 }, apdu);
    expect(t.recvPci).toEqual({ dwProtocol: 2 });
    expect(t.recvBuffer).toBeInstanceOf(Uint8Array);
    expect([...t.recvBuffer]).toEqual([...apdu, 0x90, 0x00]);
    const hello = await conn.SCardTransmit(hCard, { dwProtocol: 2 }, new Uint8Array(4), { recvLength: 258 });
    expect(new TextDecoder().decode(hello.recvBuffer.subarray(0, -2))).toBe('Hello world!');
    expect(hello.recvBuffer).toEqual(HELLO_RESPONSE);

    const ctl = await conn.SCardControl(hCard, 0x42000d48, Uint8Array.of(1, 2, 0xff));
    expect([...ctl.output]).toEqual([0xff, 2, 1]);
    await conn.SCardSetAttrib(hCard, 0x7fff0003, Uint8Array.of(0, 0x80, 0xff));
    expect([...(await conn.SCardGetAttrib(hCard, 0x7fff0003)).attr]).toEqual([0, 0x80, 0xff]);
    expect([...(await conn.SCardGetAttrib(hCard, 0x00090303, { bufferLength: 33 })).attr]).toEqual([
      0x00, 0x09, 0x03, 0x03,
    ]);
    await conn.SCardEndTransaction(hCard, SCARD_LEAVE_CARD);
    await conn.SCardDisconnect(hCard, SCARD_LEAVE_CARD);

    const gsc = await conn.SCardGetStatusChange(hContext, 1000, [
      { szReader: READERS[0]!, dwCurrentState: 0, pvUserData: { mine: 1 } },
      { szReader: READERS[1]!, dwCurrentState: 0 },
    ]);
    expect(gsc.readerStates).toHaveLength(2);
    expect(gsc.readerStates[0]).toEqual({
      szReader: READERS[0],
      dwCurrentState: 0,
      dwEventState: 0x10022,
      rgbAtr: ATR,
      pvUserData: { mine: 1 },
    });
    expect('pvUserData' in gsc.readerStates[1]!).toBe(false);
    await conn.SCardCancel(hContext);
    await conn.SCardReleaseContext(hContext);

    // The daemon got exactly what the caller passed, bytes as bytes, absent options as undefined.
    const seen = client().calls;
    expect(seen.find((c) => c.fn === 'SCardListReaders')!.args).toEqual([hContext, null, undefined]);
    expect(seen.filter((c) => c.fn === 'SCardListReaders')[1]!.args).toEqual([
      hContext,
      'SCard$DefaultReaders',
      { bufferLength: 100 },
    ]);
    const tx = seen.find((c) => c.fn === 'SCardTransmit')!;
    expect(tx.args[2]).toBeInstanceOf(Uint8Array);
    expect(tx.args).toEqual([hCard, { dwProtocol: 2 }, apdu, undefined]);
    // pvUserData never reached the connector
    const gscArgs = seen.find((c) => c.fn === 'SCardGetStatusChange')!.args[2] as object[];
    expect(gscArgs[0]).toEqual({ szReader: READERS[0], dwCurrentState: 0 });
    expect(new Set(seen.map((c) => c.fn)).size).toBe(17);
  });

  it('pcsc_stringify_error, constants and helpers match pcsc-lite', async () => {
    const { conn } = await setup();
    expect(conn.pcsc_stringify_error(SCARD_W_REMOVED_CARD)).toBe('Card was removed.');
    expect(conn.pcsc_stringify_error(0x80100031)).toBe('Unknown error: 0x80100031');
    expect(pcscErrorName(SCARD_E_NO_SERVICE)).toBe('SCARD_E_NO_SERVICE');
    expect(pcscErrorName(0x8010001f)).toBe('SCARD_E_UNSUPPORTED_FEATURE');
    // every constant of the daemon is re-exported, same values
    for (const [k, v] of Object.entries(daemonConstants)) expect((libConstants as Record<string, unknown>)[k]).toBe(v);
    expect(describePcscError(new PcscError(SCARD_E_TIMEOUT))).toBe('SCARD_E_TIMEOUT: Command timeout. (0x8010000A)');
    expect(describePcscError(new Error('x'))).toBe('x');
  });
});

describe('client library: errors', () => {
  it('rejects with PcscError carrying the daemon code and detail', async () => {
    const { conn } = await setup();
    const e = await conn.SCardEstablishContext(7).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PcscError);
    expect(isPcscError(e, SCARD_E_INVALID_VALUE)).toBe(true);
    expect((e as PcscError).message).toBe('Invalid value given. (0x80100011): scope 7');
    const { hContext } = await conn.SCardEstablishContext(0);
    await expect(conn.SCardConnect(hContext, 'No such reader', 2, 3)).rejects.toMatchObject({
      code: SCARD_E_UNKNOWN_READER,
    });
    await expect(conn.SCardStatus(12345)).rejects.toMatchObject({
      code: SCARD_E_INVALID_HANDLE,
      message: 'Invalid handle. (0x80100003)',
    });
  });

  it('carries `needed` for SCARD_E_INSUFFICIENT_BUFFER', async () => {
    const { conn } = await setup();
    const { hContext } = await conn.SCardEstablishContext(0);
    await expect(conn.SCardListReaders(hContext, null, { bufferLength: 3 })).rejects.toMatchObject({
      code: SCARD_E_INSUFFICIENT_BUFFER,
      needed: 41,
    });
    const { hCard } = await conn.SCardConnect(hContext, READERS[0]!, 2, 3);
    await expect(
      conn.SCardTransmit(hCard, { dwProtocol: 2 }, new Uint8Array(4), { recvLength: 2 }),
    ).rejects.toMatchObject({
      code: SCARD_E_INSUFFICIENT_BUFFER,
      needed: 14,
    });
    await expect(conn.SCardControl(hCard, 1, Uint8Array.of(1, 2, 3), { recvLength: 1 })).rejects.toMatchObject({
      needed: 3,
    });
  });

  it('carries readerStates (with pvUserData put back) on SCARD_E_TIMEOUT and SCARD_E_CANCELLED', async () => {
    const { conn } = await setup();
    const { hContext } = await conn.SCardEstablishContext(0);
    const e = (await conn
      .SCardGetStatusChange(hContext, 0, [
        { szReader: READERS[0]!, dwCurrentState: SCARD_STATE_PRESENT, pvUserData: 'tag' },
      ])
      .catch((x: unknown) => x)) as PcscError;
    expect(e.code).toBe(SCARD_E_TIMEOUT);
    expect(e.readerStates).toEqual([
      {
        szReader: READERS[0],
        dwCurrentState: SCARD_STATE_PRESENT,
        dwEventState: 0x10020,
        rgbAtr: ATR,
        pvUserData: 'tag',
      },
    ]);
    const waiting = conn.SCardGetStatusChange(hContext, INFINITE, [
      { szReader: READERS[0]!, dwCurrentState: SCARD_STATE_PRESENT },
    ]);
    await flush();
    await conn.SCardCancel(hContext);
    await expect(waiting).rejects.toMatchObject({ code: SCARD_E_CANCELLED });
  });

  it('refuses wrong argument types locally with SCARD_E_INVALID_PARAMETER, sending nothing', async () => {
    const { conn, daemon } = await setup();
    const anyConn = conn as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const cases: [string, unknown[]][] = [
      ['SCardEstablishContext', ['2']],
      ['SCardEstablishContext', [-1]],
      ['SCardEstablishContext', [NaN]],
      ['SCardEstablishContext', [2 ** 32]],
      ['SCardConnect', [1, 42, 2, 3]],
      ['SCardTransmit', [1, { dwProtocol: 2 }, [0, 0, 0, 0]]],
      ['SCardTransmit', [1, 2, new Uint8Array(1)]],
      ['SCardGetStatusChange', [1, 0, 'x']],
      ['SCardGetStatusChange', [1, 0, [{ szReader: 5, dwCurrentState: 0 }]]],
      ['SCardListReaders', [1, null, { bufferLength: -3 }]],
      ['SCardStatus', []],
    ];
    for (const [fn, args] of cases) {
      const e = (await anyConn[fn]!.apply(conn, args).catch((x: unknown) => x)) as PcscError;
      expect(e, `${fn}(${JSON.stringify(args)})`).toBeInstanceOf(PcscError);
      expect(e.code).toBe(SCARD_E_INVALID_PARAMETER);
    }
    expect(daemon.clients).toHaveLength(0);
    // an input above MAX_BUFFER_SIZE_EXTENDED is pcsc-lite's INSUFFICIENT_BUFFER
    await expect(
      conn.SCardTransmit(1, { dwProtocol: 2 }, new Uint8Array(MAX_BUFFER_SIZE_EXTENDED + 1)),
    ).rejects.toMatchObject({
      code: SCARD_E_INSUFFICIENT_BUFFER,
    });
    // ArrayBuffer and other views are accepted as bytes
    const { hContext } = await conn.SCardEstablishContext(0);
    const { hCard } = await conn.SCardConnect(hContext, READERS[0]!, 2, 3);
    const r = await conn.SCardTransmit(hCard, { dwProtocol: 2 }, new Uint8Array(4).buffer as unknown as Uint8Array);
    expect(r.recvBuffer).toEqual(HELLO_RESPONSE);
  });

  it('turns malformed answers into SCARD_F_COMM_ERROR and ignores unknown ids', async () => {
    const { clientPort, serverPort, state } = scriptedConnector();
    const logs: string[] = [];
    const conn = await connect('x', { port: clientPort, pingIntervalMs: 0, log: (_l, m) => logs.push(m) });
    open.push(conn);
    const a = conn.SCardEstablishContext(0);
    const b = conn.SCardStatus(1);
    const c = conn.SCardListReaders(1);
    const d = conn.SCardTransmit(1, { dwProtocol: 2 }, new Uint8Array(1));
    await flush();
    const [ia, ib, ic, id] = state.received.map((m) => m.id);
    serverPort.postMessage({ v: 1, kind: 'result', id: 999, ok: true, value: null }); // unknown id: ignored
    serverPort.postMessage({ v: 1, kind: 'result', id: ia, ok: true, value: { hContext: -1 } });
    serverPort.postMessage({ v: 1, kind: 'result', id: ib, ok: 'yes' });
    serverPort.postMessage({ v: 1, kind: 'error', id: ic, message: 'args[0]: nope' });
    serverPort.postMessage({
      v: 1,
      kind: 'result',
      id,
      ok: true,
      value: { recvPci: { dwProtocol: 2 }, recvBuffer: 'xyz' },
    });
    serverPort.postMessage({ v: 1, kind: 'surprise' });
    await expect(a).rejects.toMatchObject({ code: SCARD_F_COMM_ERROR });
    await expect(b).rejects.toMatchObject({ code: SCARD_F_COMM_ERROR });
    await expect(c).rejects.toMatchObject({
      code: SCARD_F_COMM_ERROR,
      message: expect.stringContaining('args[0]: nope'),
    });
    await expect(d).rejects.toMatchObject({ code: SCARD_F_COMM_ERROR });
    await flush();
    expect(conn.pendingCalls).toBe(0);
    expect(conn.connected).toBe(true);
    expect(logs.some((l) => /unknown kind a string of 8 characters/.test(l))).toBe(true);
  });
});

describe('client library: connector death and restarts', () => {
  it('rejects every pending call at once with SCARD_E_NO_SERVICE when the port disconnects', async () => {
    const { clientPort, serverPort } = scriptedConnector();
    const conn = await connect('x', { port: clientPort, pingIntervalMs: 0 });
    const closes: PcscError[] = [];
    conn.onClose((e) => closes.push(e));
    const calls = [
      conn.SCardEstablishContext(0),
      conn.SCardGetStatusChange(1, INFINITE, []),
      conn.SCardTransmit(1, { dwProtocol: 1 }, new Uint8Array(5)),
    ];
    await flush();
    expect(conn.pendingCalls).toBe(3);
    serverPort.disconnect();
    const results = await Promise.allSettled(calls);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({
        code: SCARD_E_NO_SERVICE,
        message: expect.stringContaining('disconnected'),
      });
    }
    expect(conn.pendingCalls).toBe(0);
    expect(conn.connected).toBe(false);
    expect(closes.map((e) => e.code)).toEqual([SCARD_E_NO_SERVICE]);
    // later calls fail at once, never hang
    await expect(conn.SCardEstablishContext(0)).rejects.toMatchObject({ code: SCARD_E_NO_SERVICE });
  });

  it('close() rejects pending calls and ends the router session', async () => {
    const { conn, router, daemon } = await setup();
    const { hContext } = await conn.SCardEstablishContext(0);
    const waiting = conn.SCardGetStatusChange(hContext, INFINITE, [
      { szReader: READERS[0]!, dwCurrentState: SCARD_STATE_PRESENT },
    ]);
    await flush();
    conn.close();
    await expect(waiting).rejects.toMatchObject({
      code: SCARD_E_NO_SERVICE,
      message: expect.stringContaining('closed'),
    });
    await flush();
    expect(router.stats).toEqual({ ports: 0, pendingCalls: 0, subscribers: 0, daemonClients: 0 });
    expect(daemon.clients[0]!.closed).toBe(true);
  });

  it('detects a new instance in a pong: pending calls get SCARD_E_SERVICE_STOPPED, listeners learn, the link goes on', async () => {
    const { clientPort, serverPort, state } = scriptedConnector();
    const conn = await connect('x', { port: clientPort, pingIntervalMs: 20 });
    open.push(conn);
    expect(conn.instance).toBe('one');
    const restarts: unknown[] = [];
    conn.onConnectorRestart((i) => restarts.push(i));
    const pending = conn.SCardGetStatusChange(1, INFINITE, []);
    await flush();
    state.instance = 'two';
    await expect(pending).rejects.toMatchObject({
      code: SCARD_E_SERVICE_STOPPED,
      message: expect.stringContaining('one → two'),
    });
    expect(restarts).toEqual([{ instance: 'two', previousInstance: 'one' }]);
    expect(conn.instance).toBe('two');
    expect(conn.connected).toBe(true);
    // new calls go to the new instance
    const next = conn.SCardEstablishContext(0);
    await flush();
    const last = state.received.at(-1)!;
    serverPort.postMessage({ v: 1, kind: 'result', id: last.id, ok: true, value: { hContext: 77 } });
    await expect(next).resolves.toEqual({ hContext: 77 });
  });

  it('pings periodically and gives up with SCARD_E_NO_SERVICE when pongs stop', async () => {
    const { clientPort, state } = scriptedConnector();
    let pings = 0;
    const counting: PortLike = {
      name: clientPort.name,
      postMessage: (m) => {
        if ((m as { kind: string }).kind === 'ping') pings++;
        clientPort.postMessage(m);
      },
      disconnect: () => clientPort.disconnect(),
      onMessage: clientPort.onMessage,
      onDisconnect: clientPort.onDisconnect,
    };
    const conn = await connect('x', { port: counting, pingIntervalMs: 10, pongTimeoutMs: 60 });
    const pending = conn.SCardEstablishContext(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(pings).toBeGreaterThanOrEqual(3);
    state.answerPings = false;
    await expect(pending).rejects.toMatchObject({
      code: SCARD_E_NO_SERVICE,
      message: expect.stringContaining('has not answered a ping'),
    });
    expect(conn.connected).toBe(false);
  });

  it('reconnect() opens a new port; a different instance there is reported as a restart', async () => {
    const daemon = new FakeDaemon();
    let router = new ConnectorRouter({ daemon, instance: 'first', version: '1' });
    const conn = await attachClient(router, {}, { id: 'e' });
    open.push(conn);
    const { hContext } = await conn.SCardEstablishContext(0);
    const restarts: unknown[] = [];
    conn.onConnectorRestart((i) => restarts.push(i));
    // the worker dies: its router closes every port
    await router.close();
    await flush();
    await expect(conn.SCardIsValidContext(hContext)).rejects.toMatchObject({ code: SCARD_E_NO_SERVICE });
    // a new worker (another instance) … the factory of attachClient attaches to the router it closed over,
    // so build a connection whose factory follows `router`
    router = new ConnectorRouter({ daemon, instance: 'second', version: '1' });
    const conn2 = await connect('x', {
      pingIntervalMs: 0,
      port: () => {
        const [c, s] = createPortPair('x');
        router.attach(s, { id: 'e' });
        return c;
      },
    });
    open.push(conn2);
    expect(conn2.instance).toBe('second');
    router = new ConnectorRouter({ daemon, instance: 'third', version: '1' });
    const seen: unknown[] = [];
    conn2.onConnectorRestart((i) => seen.push(i));
    await conn2.reconnect();
    expect(seen).toEqual([{ instance: 'third', previousInstance: 'second' }]);
    await expect(conn2.SCardEstablishContext(0)).resolves.toMatchObject({ hContext: expect.any(Number) });
    expect(restarts).toEqual([]);
  });

  it('connect() fails with SCARD_E_NO_SERVICE when the port dies at once or nothing answers', async () => {
    const [c1, s1] = createPortPair('x');
    s1.disconnect();
    await expect(connect('x', { port: c1 })).rejects.toMatchObject({ code: SCARD_E_NO_SERVICE });
    const [c2] = createPortPair('x');
    await expect(connect('x', { port: c2, connectTimeoutMs: 30 })).rejects.toMatchObject({
      code: SCARD_E_NO_SERVICE,
      message: expect.stringContaining('did not answer'),
    });
    // without a port and outside an extension there is no chrome.runtime
    await expect(connect('x')).rejects.toMatchObject({
      code: SCARD_E_NO_SERVICE,
      message: expect.stringContaining('chrome.runtime.connect'),
    });
    // a single port cannot be reused by reconnect()
    const { clientPort } = scriptedConnector();
    const conn = await connect('x', { port: clientPort, pingIntervalMs: 0 });
    await expect(conn.reconnect()).rejects.toMatchObject({
      code: SCARD_E_NO_SERVICE,
      message: expect.stringContaining('factory'),
    });
  });

  it('uses chrome.runtime.connect(connectorId, {name}) when no port is given', async () => {
    const daemon = new FakeDaemon();
    const router = new ConnectorRouter({ daemon, instance: 'c', version: '1' });
    const calls: unknown[] = [];
    vi.stubGlobal('chrome', {
      runtime: {
        connect: (id: string, info: { name: string }) => {
          calls.push([id, info]);
          const [c, s] = createPortPair(info.name);
          router.attach(s, { id: 'caller' });
          return c;
        },
      },
    });
    try {
      const conn = await connect('abcdefghijklmnop', { name: 'My app', pingIntervalMs: 0 });
      open.push(conn);
      expect(calls).toEqual([['abcdefghijklmnop', { name: 'My app' }]]);
      await conn.SCardEstablishContext(0);
      expect(daemon.clients[0]!.name).toBe('My app');
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('client library: reader events', () => {
  it('subscribes with the first listener, gets the current list then changes, unsubscribes with the last', async () => {
    const { conn, router } = await setup();
    router.publishReaders([{ name: 'R', state: 0x10, atr: new Uint8Array(0) }]);
    const seen: unknown[] = [];
    const off = conn.onReadersChanged((r) => seen.push(r));
    await flush();
    expect(router.stats.subscribers).toBe(1);
    router.publishReaders([{ name: 'R', state: 0x10022, atr: Uint8Array.of(0x3b, 0x00) }]);
    await flush();
    expect(seen).toEqual([
      [{ name: 'R', state: 0x10, atr: new Uint8Array(0) }],
      [{ name: 'R', state: 0x10022, atr: Uint8Array.of(0x3b, 0x00) }],
    ]);
    off();
    await flush();
    expect(router.stats.subscribers).toBe(0);
    router.publishReaders([]);
    await flush();
    expect(seen).toHaveLength(2);
  });

  it('subscribes again after reconnect()', async () => {
    const daemon = new FakeDaemon();
    const router = new ConnectorRouter({ daemon, instance: 'i', version: '1' });
    const conn = await attachClient(router);
    open.push(conn);
    const seen: unknown[] = [];
    conn.onReadersChanged((r) => seen.push(r));
    await flush();
    await conn.reconnect();
    await flush();
    expect(router.stats).toMatchObject({ ports: 1, subscribers: 1 });
    router.publishReaders([{ name: 'X', state: 0x20, atr: Uint8Array.of(1) }]);
    await flush();
    expect(seen).toEqual([[{ name: 'X', state: 0x20, atr: Uint8Array.of(1) }]]);
  });
});
