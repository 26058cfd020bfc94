/**
 * A small scripted PC/SC daemon for the protocol tests: deterministic answers for every SCard* function, recorded
 * calls, errors with codes / needed / readerStates, calls that wait (GetStatusChange INFINITE, `hold`), and client
 * death bookkeeping. Not pcsc-lite semantics: just enough to see every value cross the wire both ways.
 */
import type { ReaderStateIn, ReaderStateOut, ScardIoRequest } from '../../../src/pcsc/api.js';
import { PcscError } from '../../../src/pcsc/errors.js';
import {
  SCARD_E_CANCELLED,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_SERVICE,
  SCARD_E_TIMEOUT,
  SCARD_E_UNKNOWN_READER,
  SCARD_STATE_CHANGED,
  SCARD_STATE_PRESENT,
  INFINITE,
} from '../../../src/pcsc/constants.js';
import type { ConnectorRouter, RouterDaemon, RouterDaemonClient } from '../../../src/connector/router.js';
import { createPortPair, type PortLike } from '../../../src/protocol/port.js';
import { connect, type ConnectOptions, type Connection } from '../../../client-lib/src/index.js';

export const READERS = ['Fake Reader A 00 00', 'Fake Reader B 00 00'];
export const ATR = Uint8Array.of(0x3b, 0x8a, 0x80, 0x01, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
export const HELLO_RESPONSE = Uint8Array.of(...new TextEncoder().encode('Hello world!'), 0x90, 0x00);

const multiStringLength = (list: string[]) => list.reduce((n, s) => n + s.length + 1, 1);

export class FakeClient implements RouterDaemonClient {
  readonly calls: { fn: string; args: unknown[] }[] = [];
  readonly contexts = new Set<number>();
  readonly cards = new Set<number>();
  closed = false;
  private nextHandle: number;
  private waiters = new Map<number, ((e: PcscError) => void)[]>();
  /** Calls of these functions wait until `release()`. */
  holdFns = new Set<string>();
  private held: (() => void)[] = [];

  constructor(
    readonly name: string | undefined,
    base: number,
  ) {
    this.nextHandle = base;
  }

  release(): void {
    const h = this.held;
    this.held = [];
    for (const r of h) r();
  }

  private async enter(fn: string, args: unknown[]): Promise<void> {
    this.calls.push({ fn, args });
    if (this.closed) throw new PcscError(SCARD_E_NO_SERVICE, 'client closed');
    if (this.holdFns.has(fn)) await new Promise<void>((r) => this.held.push(r));
  }
  private ctx(h: number): void {
    if (!this.contexts.has(h)) throw new PcscError(SCARD_E_INVALID_HANDLE);
  }
  private card(h: number): void {
    if (!this.cards.has(h)) throw new PcscError(SCARD_E_INVALID_HANDLE);
  }

  async SCardEstablishContext(dwScope: number) {
    await this.enter('SCardEstablishContext', [dwScope]);
    if (dwScope > 3) throw new PcscError(SCARD_E_INVALID_VALUE, `scope ${dwScope}`);
    const hContext = this.nextHandle++;
    this.contexts.add(hContext);
    return { hContext };
  }
  async SCardReleaseContext(hContext: number) {
    await this.enter('SCardReleaseContext', [hContext]);
    this.ctx(hContext);
    this.contexts.delete(hContext);
  }
  async SCardIsValidContext(hContext: number) {
    await this.enter('SCardIsValidContext', [hContext]);
    this.ctx(hContext);
  }
  async SCardListReaders(hContext: number, groups?: string | null, options?: { bufferLength?: number }) {
    await this.enter('SCardListReaders', [hContext, groups, options]);
    this.ctx(hContext);
    const needed = multiStringLength(READERS);
    if (options?.bufferLength !== undefined && options.bufferLength < needed)
      throw new PcscError(SCARD_E_INSUFFICIENT_BUFFER, undefined, { needed });
    return { readers: [...READERS] };
  }
  async SCardListReaderGroups(hContext: number, options?: { bufferLength?: number }) {
    await this.enter('SCardListReaderGroups', [hContext, options]);
    this.ctx(hContext);
    return { groups: ['SCard$DefaultReaders'] };
  }
  async SCardConnect(hContext: number, szReader: string, dwShareMode: number, dwPreferredProtocols: number) {
    await this.enter('SCardConnect', [hContext, szReader, dwShareMode, dwPreferredProtocols]);
    this.ctx(hContext);
    if (!READERS.includes(szReader)) throw new PcscError(SCARD_E_UNKNOWN_READER, szReader);
    const hCard = this.nextHandle++;
    this.cards.add(hCard);
    return { hCard, dwActiveProtocol: dwPreferredProtocols & 2 ? 2 : 1 };
  }
  async SCardReconnect(hCard: number, dwShareMode: number, dwPreferredProtocols: number, dwInitialization: number) {
    await this.enter('SCardReconnect', [hCard, dwShareMode, dwPreferredProtocols, dwInitialization]);
    this.card(hCard);
    return { dwActiveProtocol: 1 };
  }
  async SCardDisconnect(hCard: number, dwDisposition: number) {
    await this.enter('SCardDisconnect', [hCard, dwDisposition]);
    this.card(hCard);
    this.cards.delete(hCard);
  }
  async SCardBeginTransaction(hCard: number) {
    await this.enter('SCardBeginTransaction', [hCard]);
    this.card(hCard);
  }
  async SCardEndTransaction(hCard: number, dwDisposition: number) {
    await this.enter('SCardEndTransaction', [hCard, dwDisposition]);
    this.card(hCard);
  }
  async SCardStatus(hCard: number) {
    await this.enter('SCardStatus', [hCard]);
    this.card(hCard);
    return { szReaderName: READERS[0]!, dwState: 0x10034, dwProtocol: 2, atr: ATR.slice() };
  }
  async SCardGetStatusChange(hContext: number, dwTimeout: number, readerStates: ReaderStateIn[]) {
    await this.enter('SCardGetStatusChange', [hContext, dwTimeout, readerStates]);
    this.ctx(hContext);
    const out: ReaderStateOut[] = readerStates.map((s) => ({
      szReader: s.szReader,
      dwCurrentState: s.dwCurrentState,
      dwEventState: 0x10000 | SCARD_STATE_PRESENT | (s.dwCurrentState === 0 ? SCARD_STATE_CHANGED : 0),
      rgbAtr: ATR.slice(),
      // a daemon that echoes pvUserData: the router must never send it
      pvUserData: s.pvUserData,
    }));
    if (out.some((s) => s.dwEventState & SCARD_STATE_CHANGED)) return { readerStates: out };
    if (dwTimeout !== INFINITE) throw new PcscError(SCARD_E_TIMEOUT, undefined, { readerStates: out });
    return new Promise<{ readerStates: ReaderStateOut[] }>((_, reject) => {
      const list = this.waiters.get(hContext) ?? [];
      list.push(reject);
      this.waiters.set(hContext, list);
    });
  }
  async SCardControl(hCard: number, dwControlCode: number, input: Uint8Array, options?: { recvLength?: number }) {
    await this.enter('SCardControl', [hCard, dwControlCode, input, options]);
    this.card(hCard);
    const output = input.slice().reverse();
    if (options?.recvLength !== undefined && options.recvLength < output.length) {
      throw new PcscError(SCARD_E_INSUFFICIENT_BUFFER, undefined, { needed: output.length });
    }
    return { output };
  }
  readonly attrs = new Map<number, Uint8Array>();
  async SCardGetAttrib(hCard: number, dwAttrId: number, options?: { bufferLength?: number }) {
    await this.enter('SCardGetAttrib', [hCard, dwAttrId, options]);
    this.card(hCard);
    const attr =
      this.attrs.get(dwAttrId) ??
      Uint8Array.of(dwAttrId >>> 24, (dwAttrId >>> 16) & 0xff, (dwAttrId >>> 8) & 0xff, dwAttrId & 0xff);
    if (options?.bufferLength !== undefined && options.bufferLength < attr.length)
      throw new PcscError(SCARD_E_INSUFFICIENT_BUFFER, undefined, { needed: attr.length });
    return { attr };
  }
  async SCardSetAttrib(hCard: number, dwAttrId: number, attr: Uint8Array) {
    await this.enter('SCardSetAttrib', [hCard, dwAttrId, attr]);
    this.card(hCard);
    this.attrs.set(dwAttrId, attr.slice());
  }
  async SCardTransmit(
    hCard: number,
    ioSendPci: ScardIoRequest,
    sendBuffer: Uint8Array,
    options?: { recvLength?: number },
  ) {
    await this.enter('SCardTransmit', [hCard, ioSendPci, sendBuffer, options]);
    this.card(hCard);
    const isHello = sendBuffer.length === 4 && sendBuffer.every((b) => b === 0);
    const recvBuffer = isHello ? HELLO_RESPONSE.slice() : Uint8Array.of(...sendBuffer, 0x90, 0x00);
    if (options?.recvLength !== undefined && options.recvLength < recvBuffer.length) {
      throw new PcscError(SCARD_E_INSUFFICIENT_BUFFER, undefined, { needed: recvBuffer.length });
    }
    return { recvPci: { dwProtocol: ioSendPci.dwProtocol }, recvBuffer };
  }
  async SCardCancel(hContext: number) {
    await this.enter('SCardCancel', [hContext]);
    this.ctx(hContext);
    const list = this.waiters.get(hContext) ?? [];
    this.waiters.delete(hContext);
    for (const r of list) r(new PcscError(SCARD_E_CANCELLED));
  }
  async close(): Promise<void> {
    this.closed = true;
    for (const list of this.waiters.values())
      for (const r of list) r(new PcscError(SCARD_E_CANCELLED, 'client closed'));
    this.waiters.clear();
    this.release();
  }
}

export class FakeDaemon implements RouterDaemon {
  readonly clients: FakeClient[] = [];
  /** Makes connect() throw (the daemon shutting down). */
  refuse = false;
  connect(info?: { name?: string }): FakeClient {
    if (this.refuse) throw new Error('daemon is shut down');
    const c = new FakeClient(info?.name, 0x1000 * (this.clients.length + 1) + 1);
    this.clients.push(c);
    return c;
  }
  get openClients(): number {
    return this.clients.filter((c) => !c.closed).length;
  }
}

/** Settles pending microtasks and zero-delay timers a few times over. */
export async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setTimeout(r, 0));
}

/** A raw client port attached to the router, recording everything the router sends back. */
export interface RawClient {
  port: PortLike;
  received: unknown[];
  disconnected: boolean;
  send(message: unknown): void;
}

export function attachRaw(router: ConnectorRouter, sender = { id: 'hostile-extension' }, name = 'raw'): RawClient {
  const [client, server] = createPortPair(name);
  const raw: RawClient = {
    port: client,
    received: [],
    disconnected: false,
    send(message) {
      client.postMessage(message);
    },
  };
  client.onMessage.addListener((m) => raw.received.push(m));
  client.onDisconnect.addListener(() => {
    raw.disconnected = true;
  });
  router.attach(server, sender);
  return raw;
}

/** A client-library connection to the router through a JSON port pair. */
export async function attachClient(
  router: ConnectorRouter,
  options: ConnectOptions = {},
  sender = { id: 'good-extension' },
): Promise<Connection> {
  return connect('connector-id', {
    pingIntervalMs: 0,
    ...options,
    port: () => {
      const [client, server] = createPortPair(options.name ?? 'test client');
      router.attach(server, sender);
      return client;
    },
  });
}
