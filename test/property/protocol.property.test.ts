/**
 * Properties of the client protocol (src/connector): random JSON values and near-valid messages never throw out of the
 * decoders or the router, every message gets exactly one answer (or the port is closed), nothing stays pending, a
 * hostile port never affects another; valid calls survive the JSON round trip unchanged.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ProtocolError,
  checkedClientMessage,
  checkedConnectorMessage,
  decodeClientMessage,
  decodeConnectorMessage,
  decodeResultValue,
  encodeCall,
  bytesToHex,
  hexToBytes,
} from '../../src/protocol/codec.js';
import { FUNCTION_NAMES, FUNCTIONS, type FunctionName } from '../../src/protocol/functions.js';
import { ConnectorRouter } from '../../src/connector/router.js';
import { createPortPair } from '../../src/protocol/port.js';
import { connect, SCARD_E_NO_SERVICE } from '../../client-lib/src/index.js';
import { FakeDaemon, attachClient, attachRaw, flush, READERS } from '../unit/connector/fake-daemon.js';

const json = fc.jsonValue({ maxDepth: 4 });
const u32 = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 1, 2, 3, 0x1001, 0xffffffff));
const hex = fc.uint8Array({ maxLength: 40 }).map(bytesToHex);
const wireArg = fc.oneof(
  u32,
  hex,
  fc.constant(null),
  fc.constantFrom(...READERS),
  fc.record({ dwProtocol: u32 }),
  fc.array(fc.record({ szReader: fc.constantFrom(...READERS), dwCurrentState: u32 }), { maxLength: 3 }),
  json,
  fc.double(),
  fc.string({ maxLength: 10 }),
);
/** Messages shaped like calls, with each part sometimes right and sometimes wrong. */
const nearValid = fc.record(
  {
    v: fc.oneof(fc.constant(1), json),
    kind: fc.oneof(fc.constantFrom('call', 'ping', 'subscribe', 'unsubscribe'), fc.string({ maxLength: 8 })),
    id: fc.oneof(fc.nat({ max: 20 }), json),
    fn: fc.oneof(fc.constantFrom(...FUNCTION_NAMES), fc.string({ maxLength: 12 })),
    args: fc.oneof(fc.array(wireArg, { maxLength: 5 }), json),
    extra: json,
  },
  { requiredKeys: [] },
);
const anyMessage = fc.oneof(json, nearValid, fc.anything({ maxDepth: 3 }));

function onlyProtocolErrors(run: () => unknown): void {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
  }
}

describe('protocol properties', () => {
  it('decodeClientMessage returns or throws a ProtocolError, for any value', () => {
    fc.assert(
      fc.property(anyMessage, (m) => onlyProtocolErrors(() => decodeClientMessage(m))),
      { numRuns: 2000 },
    );
  });

  it('decodeConnectorMessage and decodeResultValue return or throw a ProtocolError, for any value', () => {
    const connectorish = fc.record(
      {
        v: fc.oneof(fc.constant(1), json),
        kind: fc.oneof(fc.constantFrom('result', 'pong', 'event', 'error'), fc.string({ maxLength: 8 })),
        id: fc.oneof(fc.nat({ max: 20 }), json),
        ok: fc.oneof(fc.boolean(), json),
        value: json,
        code: fc.oneof(u32, json),
        name: fc.string({ maxLength: 10 }),
        message: fc.oneof(fc.string(), json),
        needed: fc.oneof(u32, json),
        readerStates: json,
        instance: fc.oneof(fc.string(), json),
        version: fc.string(),
        event: fc.oneof(fc.record({ type: fc.constant('readers'), readers: json }), json),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(json, connectorish), fc.constantFrom(...FUNCTION_NAMES), json, (m, fn, value) => {
        onlyProtocolErrors(() => decodeConnectorMessage(m));
        onlyProtocolErrors(() => decodeResultValue(fn, value));
      }),
      { numRuns: 2000 },
    );
  });

  it('hex round-trips and rejects anything that is not hex', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        expect(hexToBytes(bytesToHex(b), 'x')).toEqual(b);
        expect(hexToBytes(bytesToHex(b).toUpperCase(), 'x')).toEqual(b);
      }),
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        const valid = /^([0-9a-fA-F]{2})*$/.test(s);
        try {
          hexToBytes(s, 'x');
          expect(valid).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          expect(valid).toBe(false);
        }
      }),
    );
  });

  it('valid calls survive encode → JSON → decode with the same arguments', () => {
    const bytes = fc.uint8Array({ maxLength: 300 });
    const optU32 = fc.option(u32, { nil: undefined });
    const argsFor: Record<FunctionName, fc.Arbitrary<unknown[]>> = {
      SCardEstablishContext: fc.tuple(u32),
      SCardReleaseContext: fc.tuple(u32),
      SCardIsValidContext: fc.tuple(u32),
      SCardListReaders: fc.tuple(
        u32,
        fc.option(fc.string({ maxLength: 50 })),
        optU32.map((b) => (b === undefined ? undefined : { bufferLength: b })),
      ),
      SCardListReaderGroups: fc.tuple(
        u32,
        optU32.map((b) => (b === undefined ? undefined : { bufferLength: b })),
      ),
      SCardConnect: fc.tuple(u32, fc.string({ maxLength: 200 }), u32, u32),
      SCardReconnect: fc.tuple(u32, u32, u32, u32),
      SCardDisconnect: fc.tuple(u32, u32),
      SCardBeginTransaction: fc.tuple(u32),
      SCardEndTransaction: fc.tuple(u32, u32),
      SCardStatus: fc.tuple(u32),
      SCardGetStatusChange: fc.tuple(
        u32,
        u32,
        fc.array(fc.record({ szReader: fc.string({ maxLength: 50 }), dwCurrentState: u32 }), { maxLength: 20 }),
      ),
      SCardControl: fc.tuple(
        u32,
        u32,
        bytes,
        optU32.map((b) => (b === undefined ? undefined : { recvLength: b })),
      ),
      SCardGetAttrib: fc.tuple(
        u32,
        u32,
        optU32.map((b) => (b === undefined ? undefined : { bufferLength: b })),
      ),
      SCardSetAttrib: fc.tuple(u32, u32, bytes),
      SCardTransmit: fc.tuple(
        u32,
        fc.record({ dwProtocol: u32 }),
        bytes,
        optU32.map((b) => (b === undefined ? undefined : { recvLength: b })),
      ),
      SCardCancel: fc.tuple(u32),
    };
    const call = fc.constantFrom(...FUNCTION_NAMES).chain((fn) => fc.tuple(fc.constant(fn), argsFor[fn], fc.nat()));
    fc.assert(
      fc.property(call, ([fn, args, id]) => {
        const wire = JSON.parse(JSON.stringify(encodeCall(id, fn, args))) as unknown;
        const decoded = decodeClientMessage(wire);
        expect(decoded).toEqual({
          kind: 'call',
          id,
          fn,
          args: args.map((a, i) => (a === undefined && FUNCTIONS[fn][i] === 'groups|null' ? null : a)),
        });
      }),
      { numRuns: 1000 },
    );
  });

  it('the quick paths accept exactly what the checked decoders accept, with the same result or the same error', () => {
    const outcome = (run: () => unknown): unknown => {
      try {
        return { value: run() };
      } catch (e) {
        return { error: e instanceof ProtocolError ? [e.message, e.id] : e };
      }
    };
    const okCall = fc
      .constantFrom(...FUNCTION_NAMES)
      .chain((fn) =>
        fc.tuple(
          fc.constant(fn),
          fc.array(wireArg, { minLength: FUNCTIONS[fn].length, maxLength: FUNCTIONS[fn].length }),
        ),
      )
      .map(([fn, args]) => ({ v: 1, kind: 'call', id: 3, fn, args }) as Record<string, unknown>);
    const transmit = fc
      .tuple(u32, fc.record({ dwProtocol: u32 }), hex, fc.option(u32))
      .map((args) => ({ v: 1, kind: 'call', id: 9, fn: 'SCardTransmit', args }) as Record<string, unknown>);
    const result = fc
      .tuple(fc.nat(), json)
      .map(([id, value]) => ({ v: 1, kind: 'result', id, ok: true, value }) as Record<string, unknown>);
    // Valid messages and their near misses: one field changed or dropped, or one more.
    const mutated = (base: fc.Arbitrary<Record<string, unknown>>) =>
      fc
        .tuple(base, fc.constantFrom('v', 'kind', 'id', 'fn', 'args', 'ok', 'value', 'extra'), json, fc.nat(2))
        .map(([m, key, value, how]) => {
          const out = { ...m };
          if (how === 0) out[key] = value;
          else if (how === 1) delete out[key];
          return out;
        });
    const inherited = Object.assign(Object.create({ v: 1 }) as Record<string, unknown>, {
      kind: 'call',
      id: 1,
      fn: 'SCardCancel',
      args: [1],
    });
    const hidden = Object.defineProperty({ v: 1, kind: 'call', id: 1, fn: 'SCardCancel', args: [1] }, 'extra', {
      value: 1,
      enumerable: false,
    });
    const clientSide = fc.oneof(okCall, transmit, mutated(okCall), mutated(transmit), anyMessage);
    fc.assert(
      fc.property(clientSide, (m) => {
        expect(outcome(() => decodeClientMessage(m))).toEqual(outcome(() => checkedClientMessage(m)));
      }),
      { numRuns: 3000 },
    );
    for (const m of [inherited, hidden])
      expect(outcome(() => decodeClientMessage(m))).toEqual(outcome(() => checkedClientMessage(m)));
    fc.assert(
      fc.property(fc.oneof(result, mutated(result), anyMessage), (m) => {
        expect(outcome(() => decodeConnectorMessage(m))).toEqual(outcome(() => checkedConnectorMessage(m)));
      }),
      { numRuns: 3000 },
    );
  });

  it('the router answers every message once or closes the port, leaves nothing pending, and keeps serving others', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyMessage, { minLength: 1, maxLength: 15 }), async (messages) => {
        const daemon = new FakeDaemon();
        const router = new ConnectorRouter({ daemon, instance: 'p', version: '1' });
        const good = await attachClient(router);
        const raw = attachRaw(router);
        let sent = 0;
        for (const m of messages) {
          try {
            raw.send(m);
            sent++;
          } catch {
            // a value JSON cannot carry (BigInt, cycles…) is refused by postMessage, as in Chrome
          }
        }
        await flush();
        if (!raw.disconnected && router.stats.pendingCalls === 0) expect(raw.received).toHaveLength(sent);
        if (!raw.disconnected) expect(raw.received.length).toBeLessThanOrEqual(sent);
        // the other client is unaffected
        const { hContext } = await good.SCardEstablishContext(0);
        await expect(good.SCardListReaders(hContext)).resolves.toEqual({ readers: READERS });
        // when the hostile port goes, nothing is left behind
        raw.port.disconnect();
        good.close();
        await flush();
        expect(router.stats).toEqual({ ports: 0, pendingCalls: 0, subscribers: 0, daemonClients: 0 });
        expect(daemon.openClients).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it('random connector messages never throw out of the client and never leave a call pending once the port dies', async () => {
    const connectorish = fc.oneof(
      json,
      fc.record(
        {
          v: fc.constant(1),
          kind: fc.constantFrom('result', 'pong', 'event', 'error'),
          id: fc.nat({ max: 12 }),
          ok: fc.boolean(),
          value: json,
          code: u32,
          name: fc.string({ maxLength: 5 }),
          message: fc.string({ maxLength: 10 }),
          instance: fc.constantFrom('one', 'two'),
          version: fc.constant('1'),
        },
        { requiredKeys: ['v', 'kind'] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(connectorish, { maxLength: 12 }), async (messages) => {
        const [clientPort, serverPort] = createPortPair('x');
        serverPort.onMessage.addListener((m) => {
          const msg = m as { kind: string; id: number };
          if (msg.kind === 'ping')
            serverPort.postMessage({ v: 1, kind: 'pong', id: msg.id, instance: 'one', version: '1' });
        });
        const conn = await connect('x', { port: clientPort, pingIntervalMs: 0 });
        conn.onReadersChanged(() => {});
        const calls = FUNCTION_NAMES.slice(0, 8).map((fn) => {
          const f = (conn as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[fn]!;
          const n = FUNCTIONS[fn].length;
          const args =
            fn === 'SCardConnect'
              ? [1, 'r', 2, 3]
              : Array.from({ length: n }, (_, i) => (FUNCTIONS[fn][i]!.endsWith('|null') ? null : 1));
          return f.apply(conn, args).then(
            () => 'ok',
            (e: unknown) => e,
          );
        });
        await flush(2);
        for (const m of messages) serverPort.postMessage(m);
        await flush(2);
        serverPort.disconnect();
        const outcomes = await Promise.all(calls);
        expect(conn.pendingCalls).toBe(0);
        // every call settled: resolved by a well-formed answer, or rejected with a PC/SC code
        for (const o of outcomes) if (o !== 'ok') expect(o).toHaveProperty('code');
        await expect(conn.SCardEstablishContext(0)).rejects.toMatchObject({ code: SCARD_E_NO_SERVICE });
      }),
      { numRuns: 150 },
    );
  });
});
