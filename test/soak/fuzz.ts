/**
 * Campaign (c): fuzzing the decoders that take bytes or messages from outside, with fast-check — random inputs and,
 * above all, MUTATED valid ones (valid encodings with bytes flipped, inserted, deleted, cut or repeated; valid JSON
 * messages with values replaced, keys dropped or added, and their text mutated then re-parsed):
 *
 * - the public message decoders of the connector protocol (src/protocol/codec.ts decodeClientMessage,
 *   decodeConnectorMessage, decodeResultValue): only ProtocolError;
 * - the CCID response and interrupt parsers (src/ccid/messages.ts decodeResponse, decodeInterrupt): only DriverError;
 * - the ATR parser (src/ccid/atr.ts parseAtr): only DriverError;
 * - the T=1 block parser (src/ccid/t1-block.ts decodeBlock): documented never to throw.
 *
 * Any other exception, or one decode taking longer than HANG_MS (they are synchronous: a hang would be a loop), is a
 * violation.
 */
import fc from 'fast-check';
import { parseAtr } from '../../src/ccid/atr.js';
import { DriverError } from '../../src/ifd/errors.js';
import { decodeInterrupt, decodeResponse } from '../../src/ccid/messages.js';
import { decodeBlock, encodeBlock, type T1Block } from '../../src/ccid/t1-block.js';
import {
  ProtocolError,
  decodeClientMessage,
  decodeConnectorMessage,
  decodeResultValue,
  encodeCall,
  encodeErrResult,
  encodeOkResult,
  encodePing,
  encodePong,
  encodeReadersEvent,
  encodeSubscribe,
} from '../../src/protocol/codec.js';
import { FUNCTION_NAMES, type FunctionName } from '../../src/protocol/functions.js';
import { PcscError } from '../../src/pcsc/index.js';
import {
  dualProtocolCard,
  encodeResponse,
  helloWorldCardT0,
  helloWorldCardT1,
  lowVoltageCard,
  pinCard,
  specificModeCard,
} from '../../src/sim/index.js';
import { bump, violation, type Totals } from './common.js';

const HANG_MS = 1000;

// ---------------------------------------------------------------------------------------------------------------------
// Byte mutations

type Mutation =
  | { op: 'flip'; at: number; mask: number }
  | { op: 'insert'; at: number; byte: number }
  | { op: 'delete'; at: number }
  | { op: 'cut'; at: number }
  | { op: 'repeat'; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cut' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  },
);

export function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Array.from(input);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + (m.op === 'insert' ? 1 : 0));
    switch (m.op) {
      case 'flip':
        if (b.length > 0) b[at] = b[at]! ^ m.mask;
        break;
      case 'insert':
        b.splice(at, 0, m.byte);
        break;
      case 'delete':
        b.splice(at, 1);
        break;
      case 'cut':
        b = b.slice(0, at);
        break;
      case 'repeat':
        b.splice(at, 0, ...b.slice(at, at + m.length));
        break;
    }
  }
  return Uint8Array.from(b);
}

/** Valid inputs, mutated 1..4 times, or (a third of the time) plain random bytes. */
function mutated(valid: fc.Arbitrary<Uint8Array>, maxRandom = 300): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    {
      weight: 2,
      arbitrary: fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([v, ms]) => mutate(v, ms)),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: maxRandom }) },
  );
}

// ---------------------------------------------------------------------------------------------------------------------
// Valid encodings

const ccidResponse: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom(0x80, 0x81, 0x82, 0x83, 0x84),
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(0x00, 0x01, 0x02, 0x40, 0x41, 0x42, 0x80),
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x10),
    fc.uint8Array({ maxLength: 300 }),
  )
  .map(([type, slot, seq, status, error, b9, data]) => encodeResponse(type, slot, seq, status, error, b9, data));

const ccidInterrupt: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map((bits) => Uint8Array.from([0x50, ...bits])),
  fc
    .tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }))
    .map(([s, q, c]) => Uint8Array.of(0x51, s, q, c)),
);

const REAL_ATRS = [
  '3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 03 00 00 00 00 68',
  '3B DB 96 00 80 B1 FE 45 1F 83 00 31 C0 64 C7 FC 10 00 01 90 00 74',
  '3B 7D 96 00 00 80 31 80 65 B0 83 11 11 AC 83 00 90 00',
  '3F 65 25 00 2C 09 69 90 00',
  '3B 02 14 50',
].map((s) => Uint8Array.from(s.split(' ').map((x) => parseInt(x, 16))));
const SIM_ATRS = [
  helloWorldCardT1(),
  helloWorldCardT0(),
  dualProtocolCard(),
  specificModeCard(),
  pinCard(),
  lowVoltageCard(),
].map((c) => c.atr);
const atr: fc.Arbitrary<Uint8Array> = fc.constantFrom(...REAL_ATRS, ...SIM_ATRS);

const t1Block: fc.Arbitrary<T1Block> = fc.oneof(
  fc.record({
    type: fc.constant('I' as const),
    ns: fc.constantFrom(0 as const, 1 as const),
    more: fc.boolean(),
    inf: fc.uint8Array({ maxLength: 254 }),
  }),
  fc.record({
    type: fc.constant('R' as const),
    nr: fc.constantFrom(0 as const, 1 as const),
    error: fc.constantFrom('none' as const, 'edc' as const, 'other' as const),
  }),
  fc.oneof(
    fc.record({
      type: fc.constant('S' as const),
      kind: fc.constantFrom('resynch' as const, 'abort' as const),
      response: fc.boolean(),
    }),
    fc.record({
      type: fc.constant('S' as const),
      kind: fc.constantFrom('ifs' as const, 'wtx' as const),
      response: fc.boolean(),
      value: fc.integer({ min: 1, max: 254 }),
    }),
  ),
);

// ---------------------------------------------------------------------------------------------------------------------
// Protocol messages (JSON)

const h = fc.integer({ min: 1, max: 0x7fffffff });
const bytes = fc.uint8Array({ maxLength: 64 });
const callArgs: Record<FunctionName, fc.Arbitrary<unknown[]>> = {
  SCardEstablishContext: fc.tuple(fc.integer({ min: 0, max: 3 })),
  SCardReleaseContext: fc.tuple(h),
  SCardIsValidContext: fc.tuple(h),
  SCardListReaders: fc.tuple(h, fc.constant(null), fc.option(fc.nat(1000), { nil: undefined })),
  SCardListReaderGroups: fc.tuple(h, fc.option(fc.nat(1000), { nil: undefined })),
  SCardConnect: fc.tuple(
    h,
    fc.string({ maxLength: 40 }),
    fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
  ),
  SCardReconnect: fc.tuple(
    h,
    fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
  ),
  SCardDisconnect: fc.tuple(h, fc.integer({ min: 0, max: 3 })),
  SCardBeginTransaction: fc.tuple(h),
  SCardEndTransaction: fc.tuple(h, fc.integer({ min: 0, max: 3 })),
  SCardStatus: fc.tuple(h),
  SCardGetStatusChange: fc.tuple(
    h,
    fc.nat(),
    fc.array(fc.record({ szReader: fc.string({ maxLength: 30 }), dwCurrentState: fc.nat() }), { maxLength: 4 }),
  ),
  SCardControl: fc.tuple(h, fc.nat(), bytes, fc.option(fc.nat(1000), { nil: undefined })),
  SCardGetAttrib: fc.tuple(h, fc.nat(), fc.option(fc.nat(1000), { nil: undefined })),
  SCardSetAttrib: fc.tuple(h, fc.nat(), bytes),
  SCardTransmit: fc.tuple(
    h,
    fc.record({ dwProtocol: fc.constantFrom(1, 2, 4) }),
    fc.uint8Array({ minLength: 1, maxLength: 64 }),
    fc.option(fc.nat(1000), { nil: undefined }),
  ),
  SCardCancel: fc.tuple(h),
};

/** A valid client message, or null when the generated arguments were not encodable (rare; counted). */
const clientMessage: fc.Arbitrary<unknown> = fc.oneof(
  fc.tuple(fc.nat(), fc.constantFrom(...FUNCTION_NAMES)).chain(([id, fn]) =>
    callArgs[fn].map((args) => {
      try {
        return encodeCall(id, fn, args) as unknown;
      } catch {
        return null;
      }
    }),
  ),
  fc.nat().map((id) => encodePing(id) as unknown),
  fc.tuple(fc.nat(), fc.boolean()).map(([id, s]) => encodeSubscribe(id, s) as unknown),
);

const connectorMessage: fc.Arbitrary<{ fn: FunctionName; message: unknown }> = fc.oneof(
  fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 64 })).map(([id, r]) => ({
    fn: 'SCardTransmit' as FunctionName,
    message: encodeOkResult(id, 'SCardTransmit', { recvPci: { dwProtocol: 2 }, recvBuffer: r }) as unknown,
  })),
  fc.tuple(fc.nat(), h).map(([id, c]) => ({
    fn: 'SCardEstablishContext' as FunctionName,
    message: encodeOkResult(id, 'SCardEstablishContext', { hContext: c }) as unknown,
  })),
  fc.tuple(fc.nat(), fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 })).map(([id, readers]) => ({
    fn: 'SCardListReaders' as FunctionName,
    message: encodeOkResult(id, 'SCardListReaders', { readers }) as unknown,
  })),
  fc.tuple(fc.nat(), fc.integer({ min: 0x80100001, max: 0x80100070 })).map(([id, code]) => ({
    fn: 'SCardConnect' as FunctionName,
    message: encodeErrResult(id, new PcscError(code, 'fuzz')) as unknown,
  })),
  fc
    .tuple(fc.nat(), fc.string({ maxLength: 20 }))
    .map(([id, s]) => ({ fn: 'SCardStatus' as FunctionName, message: encodePong(id, s, '0.1.0') as unknown })),
  fc
    .array(fc.record({ name: fc.string({ maxLength: 20 }), state: fc.nat(), atr: fc.uint8Array({ maxLength: 33 }) }), {
      maxLength: 3,
    })
    .map((readers) => ({
      fn: 'SCardStatus' as FunctionName,
      message: encodeReadersEvent(readers) as unknown,
    })),
);

/** Structural mutation of a JSON value: replace a value somewhere, drop or add a key, wrap or unwrap. */
type JsonMutation = { path: number[]; action: 'replace' | 'drop' | 'add' | 'wrap'; value: unknown; key: string };
const jsonValue = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    2 ** 32,
    Number.MAX_SAFE_INTEGER + 2,
    '',
    'zz',
    '0',
    [],
    {},
    { v: 1 },
    '__proto__',
    'constructor',
  ),
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 10 }),
  fc.integer(),
);
const jsonMutation: fc.Arbitrary<JsonMutation> = fc.record({
  path: fc.array(fc.nat(), { maxLength: 4 }),
  action: fc.constantFrom('replace' as const, 'drop' as const, 'add' as const, 'wrap' as const),
  value: jsonValue,
  key: fc.constantFrom(
    'v',
    'kind',
    'id',
    'fn',
    'args',
    'ok',
    'value',
    'code',
    'x',
    '__proto__',
    'recvBuffer',
    'readers',
  ),
});

export function mutateJson(root: unknown, m: JsonMutation): unknown {
  const copy: unknown = JSON.parse(JSON.stringify(root ?? null));
  const wrap = { root: copy } as Record<string, unknown>;
  let parent: Record<string, unknown> | unknown[] = wrap;
  let key: string | number = 'root';
  for (const step of m.path) {
    const cur: unknown = (parent as Record<string | number, unknown>)[key];
    if (cur === null || typeof cur !== 'object') break;
    const keys = Array.isArray(cur) ? cur.map((_, i) => i) : Object.keys(cur);
    if (keys.length === 0) break;
    parent = cur as Record<string, unknown>;
    key = keys[step % keys.length]!;
  }
  const p = parent as Record<string | number, unknown>;
  switch (m.action) {
    case 'replace':
      p[key] = m.value;
      break;
    case 'drop':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete p[key];
      break;
    case 'add': {
      const cur = p[key];
      if (Array.isArray(cur)) cur.push(m.value);
      else if (cur !== null && typeof cur === 'object')
        Object.defineProperty(cur, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
      else p[key] = m.value;
      break;
    }
    case 'wrap':
      p[key] = [p[key]];
      break;
  }
  return wrap.root;
}

/** JSON text mutated as bytes and parsed back; undefined when it no longer parses (Chrome would not deliver it). */
function textMutated(v: unknown, ms: readonly Mutation[]): unknown {
  const text = new TextEncoder().encode(JSON.stringify(v));
  try {
    return JSON.parse(new TextDecoder().decode(mutate(text, ms))) as unknown;
  } catch {
    return undefined;
  }
}

function mutatedMessage<T>(
  valid: fc.Arbitrary<T>,
  get: (t: T) => unknown,
): fc.Arbitrary<{ base: T; message: unknown }> {
  return fc.oneof(
    { weight: 1, arbitrary: valid.map((b) => ({ base: b, message: get(b) })) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(valid, fc.array(jsonMutation, { minLength: 1, maxLength: 3 }))
        .map(([b, ms]) => ({ base: b, message: ms.reduce((acc, m) => mutateJson(acc, m), get(b)) })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 3 }))
        .map(([b, ms]) => ({ base: b, message: textMutated(get(b), ms) })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(valid, fc.jsonValue({ maxDepth: 3 })).map(([b, j]) => ({ base: b, message: j as unknown })),
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------------
// The campaign

export interface FuzzOptions {
  seed: number;
  /** fast-check runs per target (8 targets). */
  runsPerTarget: number;
  totals: Totals;
}

export function fuzzCampaign(o: FuzzOptions): void {
  const t = o.totals;
  /** Runs one decode: allowed errors are fine; anything else, or a slow decode, is a violation. */
  const guard = (target: string, input: () => string, allowed: (e: unknown) => boolean, f: () => void): void => {
    t.fuzzCases += 1;
    bump(t.byKind, `fuzz:${target}`);
    const t0 = performance.now();
    try {
      f();
    } catch (e) {
      if (!allowed(e))
        violation(
          t,
          `${target}: threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} on ${input()} (SOAK_SEED=${o.seed})`,
        );
    }
    const ms = performance.now() - t0;
    if (ms > HANG_MS) violation(t, `${target}: took ${ms.toFixed(0)} ms on ${input()} (SOAK_SEED=${o.seed})`);
  };
  const hex = (b: Uint8Array): string =>
    Array.from(b.subarray(0, 64), (x) => x.toString(16).padStart(2, '0')).join('') +
    (b.length > 64 ? `… (${b.length} bytes)` : '');
  const json = (v: unknown): string => {
    try {
      return (JSON.stringify(v) ?? String(v)).slice(0, 300);
    } catch {
      return String(v);
    }
  };
  const isDriverError = (e: unknown) => e instanceof DriverError;
  const isProtocolError = (e: unknown) => e instanceof ProtocolError;
  const params = (k: number) => ({ seed: (o.seed + k) | 0, numRuns: o.runsPerTarget });

  fc.assert(
    fc.property(mutated(ccidResponse), (b) =>
      guard(
        'decodeResponse',
        () => hex(b),
        isDriverError,
        () => void decodeResponse(b),
      ),
    ),
    params(1),
  );
  fc.assert(
    fc.property(mutated(ccidInterrupt, 16), fc.integer({ min: 0, max: 31 }), (b, maxSlot) =>
      guard(
        'decodeInterrupt',
        () => `${hex(b)} maxSlot ${maxSlot}`,
        isDriverError,
        () => void decodeInterrupt(b, maxSlot),
      ),
    ),
    params(2),
  );
  fc.assert(
    fc.property(mutated(atr, 40), (b) =>
      guard(
        'parseAtr',
        () => hex(b),
        isDriverError,
        () => void parseAtr(b),
      ),
    ),
    params(3),
  );
  fc.assert(
    fc.property(
      fc.constantFrom('lrc' as const, 'crc' as const),
      fc.integer({ min: 0, max: 255 }),
      fc.array(mutation, { maxLength: 4 }),
      t1Block,
      (edc, nad, ms, block) => {
        const valid = encodeBlock(block, { nad, edc });
        const b = mutate(valid, ms);
        guard(
          'decodeBlock',
          () => `${edc} ${hex(b)}`,
          () => false,
          () => {
            const r = decodeBlock(b, edc);
            // The unmutated block must come back as it went.
            if (ms.length === 0 && !r.ok) throw new Error(`a valid block was refused: ${r.reason}`);
          },
        );
      },
    ),
    params(4),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom('lrc' as const, 'crc' as const), (b, edc) =>
      guard(
        'decodeBlock',
        () => `${edc} ${hex(b)}`,
        () => false,
        () => void decodeBlock(b, edc),
      ),
    ),
    params(5),
  );
  fc.assert(
    fc.property(
      mutatedMessage(clientMessage, (m) => m),
      ({ message }) =>
        guard(
          'decodeClientMessage',
          () => json(message),
          isProtocolError,
          () => void decodeClientMessage(message),
        ),
    ),
    params(6),
  );
  fc.assert(
    fc.property(
      mutatedMessage(connectorMessage, (m) => m.message),
      ({ base, message }) =>
        guard(
          'decodeConnectorMessage',
          () => json(message),
          isProtocolError,
          () => {
            const d = decodeConnectorMessage(message);
            if (d.kind === 'result' && d.ok) decodeResultValue(base.fn, d.value, d.id);
          },
        ),
    ),
    params(7),
  );
  fc.assert(
    fc.property(fc.anything({ maxDepth: 3, withNullPrototype: true, withMap: true, withTypedArray: true }), (v) => {
      guard(
        'decodeClientMessage',
        () => json(v),
        isProtocolError,
        () => void decodeClientMessage(v),
      );
      guard(
        'decodeConnectorMessage',
        () => json(v),
        isProtocolError,
        () => void decodeConnectorMessage(v),
      );
    }),
    params(8),
  );
}
