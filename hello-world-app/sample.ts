/**
 * The classic PC/SC hello-world sample (pcsc-lite's sample.c), step by step over any object with the SCard* methods:
 * establish a context, list the readers (waiting for one on `\\?PnP?\Notification` when there is none), connect to the
 * first, SELECT the hello-world applet, send `00 00 00 00`, print the answer and `Hello world!`.
 *
 * Every step logs one line, as sample.c's CHECK macro does ("SCardConnect: Command successful."); a failing step logs
 * the PC/SC name of its error and ends the run. Nothing here depends on Chrome: the page passes the client library's
 * connection, a Node test can pass the daemon itself.
 */
import { toHex } from '../src/util/hex.js';

/** The part of the client library's API the sample uses (bytes as Uint8Array, as in the client library). */
export interface SampleApi {
  SCardEstablishContext(dwScope: number): Promise<{ hContext: number }>;
  SCardReleaseContext(hContext: number): Promise<unknown>;
  SCardListReaders(hContext: number, groups?: string | null): Promise<{ readers: string[] }>;
  SCardGetStatusChange(
    hContext: number,
    dwTimeout: number,
    readerStates: { szReader: string; dwCurrentState: number }[],
  ): Promise<{ readerStates: { szReader: string; dwEventState: number }[] }>;
  SCardConnect(
    hContext: number,
    szReader: string,
    dwShareMode: number,
    dwPreferredProtocols: number,
  ): Promise<{ hCard: number; dwActiveProtocol: number }>;
  SCardTransmit(
    hCard: number,
    ioSendPci: { dwProtocol: number },
    sendBuffer: Uint8Array,
  ): Promise<{ recvBuffer: Uint8Array }>;
  SCardDisconnect(hCard: number, dwDisposition: number): Promise<unknown>;
}

export const SELECT_HELLO_WORLD = Uint8Array.of(
  0x00,
  0xa4,
  0x04,
  0x00,
  0x0a,
  0xa0,
  0x00,
  0x00,
  0x00,
  0x62,
  0x03,
  0x01,
  0x0c,
  0x06,
  0x01,
);
export const SAY_HELLO = Uint8Array.of(0x00, 0x00, 0x00, 0x00);

const SCARD_SCOPE_SYSTEM = 0x0002;
const SCARD_SHARE_SHARED = 0x0002;
const SCARD_PROTOCOL_T0 = 0x0001;
const SCARD_PROTOCOL_T1 = 0x0002;
const SCARD_LEAVE_CARD = 0x0000;
const SCARD_E_NO_READERS_AVAILABLE = 0x8010002e;
const SCARD_E_TIMEOUT = 0x8010000a;
const SCARD_STATE_CHANGED = 0x0002;
const INFINITE = 0xffffffff;
export const PNP_NOTIFICATION = '\\\\?PnP?\\Notification';

/** Bytes as the sample prints them: upper-case, space-separated (src/util/hex.ts). */
export const hex = (b: Uint8Array): string => toHex(b);

export interface SampleOptions {
  log: (line: string) => void;
  /** The PC/SC name of an error (SCARD_W_REMOVED_CARD …), or its message when it is not a PC/SC error. */
  describeError: (e: unknown) => string;
  /** How long to wait for a reader before giving up (default: forever, as the sample does). */
  readerWaitMs?: number;
}

/** An error already logged by the sample: the run is over. */
export class SampleFailed extends Error {
  constructor(
    readonly step: string,
    readonly reason: string,
  ) {
    super(`${step}: ${reason}`);
    this.name = 'SampleFailed';
  }
}

function codeOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code >>> 0 : undefined;
}

/** Runs the sample; resolves with the card's answer text ("Hello world!") or rejects with SampleFailed after logging. */
export async function runHelloWorld(api: SampleApi, options: SampleOptions): Promise<string> {
  const { log, describeError } = options;
  async function step<T>(name: string, f: () => Promise<T>, detail?: (v: T) => string): Promise<T> {
    let value: T;
    try {
      value = await f();
    } catch (e) {
      const reason = describeError(e);
      log(`${name}: ${reason}`);
      throw new SampleFailed(name, reason);
    }
    log(`${name}: Command successful.${detail ? ` ${detail(value)}` : ''}`);
    return value;
  }

  const { hContext } = await step('SCardEstablishContext', () => api.SCardEstablishContext(SCARD_SCOPE_SYSTEM));
  let released = false;
  try {
    const readers = await listOrWait(api, hContext, options, step);
    const reader = readers[0]!;
    log(`reader name: ${reader}`);
    const { hCard, dwActiveProtocol } = await step(
      'SCardConnect',
      () => api.SCardConnect(hContext, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1),
      (v) => `(protocol T=${v.dwActiveProtocol === SCARD_PROTOCOL_T1 ? 1 : 0})`,
    );
    const pci = { dwProtocol: dwActiveProtocol };
    log(`> ${hex(SELECT_HELLO_WORLD)}`);
    const selected = await step('SCardTransmit (SELECT)', () => api.SCardTransmit(hCard, pci, SELECT_HELLO_WORLD));
    log(`response: ${hex(selected.recvBuffer)}`);
    log(`> ${hex(SAY_HELLO)}`);
    const answer = await step('SCardTransmit (hello)', () => api.SCardTransmit(hCard, pci, SAY_HELLO));
    const r = answer.recvBuffer;
    log(`response: ${hex(r)}`);
    const sw = r.length >= 2 ? (r[r.length - 2]! << 8) | r[r.length - 1]! : -1;
    await step('SCardDisconnect', () => api.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    if (sw !== 0x9000) {
      const reason = `the card answered status word ${sw < 0 ? 'none' : sw.toString(16).toUpperCase().padStart(4, '0')}, not 90 00`;
      log(reason);
      throw new SampleFailed('hello', reason);
    }
    const text = new TextDecoder().decode(r.subarray(0, r.length - 2));
    released = true;
    await step('SCardReleaseContext', () => api.SCardReleaseContext(hContext));
    // The card's answer is the last line, as in the original sample.
    log(text);
    return text;
  } finally {
    if (!released) {
      await api.SCardReleaseContext(hContext).then(
        () => log('SCardReleaseContext: Command successful.'),
        (e: unknown) => log(`SCardReleaseContext: ${describeError(e)}`),
      );
    }
  }
}

type Step = <T>(name: string, f: () => Promise<T>, detail?: (v: T) => string) => Promise<T>;

/** SCardListReaders; with no reader, wait on the PnP notification pseudo-reader and list again. */
async function listOrWait(api: SampleApi, hContext: number, options: SampleOptions, step: Step): Promise<string[]> {
  const { log, describeError } = options;
  const deadline = options.readerWaitMs === undefined ? Infinity : Date.now() + options.readerWaitMs;
  let pnpState = 0;
  let announced = false;
  for (;;) {
    let readers: string[] = [];
    try {
      readers = (await api.SCardListReaders(hContext, null)).readers;
    } catch (e) {
      if (codeOf(e) !== SCARD_E_NO_READERS_AVAILABLE) {
        const reason = describeError(e);
        log(`SCardListReaders: ${reason}`);
        throw new SampleFailed('SCardListReaders', reason);
      }
    }
    if (readers.length > 0) {
      log(`SCardListReaders: Command successful. (${readers.length} reader${readers.length === 1 ? '' : 's'})`);
      return readers;
    }
    if (!announced) {
      log(`SCardListReaders: SCARD_E_NO_READERS_AVAILABLE`);
      log(`No reader yet: waiting for one (SCardGetStatusChange on ${PNP_NOTIFICATION})…`);
      announced = true;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new SampleFailed('SCardGetStatusChange', 'SCARD_E_TIMEOUT (no reader appeared)');
    try {
      const { readerStates } = await api.SCardGetStatusChange(
        hContext,
        Number.isFinite(remaining) ? Math.ceil(remaining) : INFINITE,
        [{ szReader: PNP_NOTIFICATION, dwCurrentState: pnpState }],
      );
      const ev = readerStates[0]?.dwEventState ?? 0;
      if (ev & SCARD_STATE_CHANGED) log('SCardGetStatusChange: Command successful. (the reader list changed)');
      pnpState = ev & ~SCARD_STATE_CHANGED;
    } catch (e) {
      if (codeOf(e) === SCARD_E_TIMEOUT) continue;
      await step('SCardGetStatusChange', () => Promise.reject(e));
    }
  }
}
