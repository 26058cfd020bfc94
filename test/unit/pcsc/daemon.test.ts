/**
 * End-to-end checks of the daemon through PcscDaemon with a simulated GemPC Twin behind the CCID driver.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CcidReader } from '../../../src/ccid/reader.js';
import { createSimulatedReader, helloWorldCardT0, helloWorldCardT1 } from '../../../src/sim/index.js';
import {
  INFINITE,
  PNP_NOTIFICATION_READER_NAME,
  SCARD_ATTR_ATR_STRING,
  SCARD_ATTR_DEVICE_FRIENDLY_NAME_A,
  SCARD_ATTR_DEVICE_FRIENDLY_NAME_W,
  SCARD_E_CANCELLED,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_PARAMETER,
  SCARD_E_NO_READERS_AVAILABLE,
  SCARD_E_NO_SMARTCARD,
  SCARD_E_NOT_TRANSACTED,
  SCARD_E_PROTO_MISMATCH,
  SCARD_E_SHARING_VIOLATION,
  SCARD_E_TIMEOUT,
  SCARD_E_UNKNOWN_READER,
  SCARD_E_UNSUPPORTED_FEATURE,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_STATE_CHANGED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAWARE,
  SCARD_W_REMOVED_CARD,
  SCARD_W_RESET_CARD,
  SCARD_PROTOCOL_UNDEFINED,
} from '../../../src/pcsc/constants.js';
import { PcscDaemon, PcscError, type PcscClient } from '../../../src/pcsc/index.js';

const hex = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .split(/\s+/)
      .filter(Boolean)
      .map((b) => parseInt(b, 16)),
  );
const SELECT = hex('00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01');
const HELLO = hex('00 00 00 00');
const HELLO_RESPONSE = Uint8Array.from([...new TextEncoder().encode('Hello world!'), 0x90, 0x00]);
const T1 = { dwProtocol: SCARD_PROTOCOL_T1 };

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PcscError) return e.code;
    throw e;
  }
  throw new Error('resolved where it had to fail');
}

let daemons: PcscDaemon[] = [];
afterEach(async () => {
  for (const d of daemons) await d.shutdown();
  daemons = [];
});

async function rig(opts: { card?: 'T1' | 'T0' | 'none'; grace?: number } = {}) {
  let n = 0;
  const daemon = new PcscDaemon({
    powerOffGraceMs: opts.grace ?? 20,
    random: () => ((n = (n * 7919 + 104729) % 2147483647), n / 2147483648),
  });
  daemons.push(daemon);
  const sim = createSimulatedReader('gempc-twin');
  if (opts.card === 'T0') sim.insertCard(helloWorldCardT0());
  else if (opts.card !== 'none') sim.insertCard(helloWorldCardT1());
  const reader = await CcidReader.open(sim, { timeoutScale: 0.01 });
  const names = await daemon.addReader(reader);
  const client = daemon.connect({ name: 'test' });
  const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  return { daemon, sim, reader, names, client, hContext, name: names[0]! };
}

/** Waits (through GetStatusChange) until the reader's state differs from `known`. */
async function nextState(client: PcscClient, hContext: number, name: string, known: number): Promise<number> {
  const r = await client.SCardGetStatusChange(hContext, 2000, [{ szReader: name, dwCurrentState: known }]);
  return r.readerStates[0]!.dwEventState;
}

describe('PcscDaemon end to end', () => {
  it('names the reader, lists it, and reports an idle card as 0x0000_0022 + CHANGED for UNAWARE', async () => {
    const { client, hContext, names, daemon } = await rig();
    expect(names).toEqual(['Gemalto PC Twin Reader 00 00']);
    expect(daemon.readerNames).toEqual(names);
    expect((await client.SCardListReaders(hContext)).readers).toEqual(names);
    const r = await client.SCardGetStatusChange(hContext, 0, [
      { szReader: names[0]!, dwCurrentState: SCARD_STATE_UNAWARE },
    ]);
    expect(r.readerStates[0]!.dwEventState).toBe(0x22);
    expect(r.readerStates[0]!.rgbAtr.length).toBeGreaterThan(0);
  });

  it('connects T=1, exchanges APDUs, reports Status and the name attribute fallback', async () => {
    const { client, hContext, name } = await rig();
    const { hCard, dwActiveProtocol } = await client.SCardConnect(
      hContext,
      name,
      SCARD_SHARE_SHARED,
      SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
    );
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    expect((await client.SCardTransmit(hCard, T1, SELECT)).recvBuffer).toEqual(hex('90 00'));
    expect((await client.SCardTransmit(hCard, T1, HELLO)).recvBuffer).toEqual(HELLO_RESPONSE);
    const st = await client.SCardStatus(hCard);
    expect(st.szReaderName).toBe(name);
    expect(st.dwState).toBe(0x34);
    expect(st.dwProtocol).toBe(SCARD_PROTOCOL_T1);
    expect((await client.SCardGetAttrib(hCard, SCARD_ATTR_ATR_STRING)).attr).toEqual(st.atr);
    const friendly = (await client.SCardGetAttrib(hCard, SCARD_ATTR_DEVICE_FRIENDLY_NAME_A)).attr;
    expect(new TextDecoder().decode(friendly)).toBe(`${name}\0`);
    expect(await code(client.SCardGetAttrib(hCard, SCARD_ATTR_DEVICE_FRIENDLY_NAME_W))).toBe(
      SCARD_E_UNSUPPORTED_FEATURE,
    );
    expect(await code(client.SCardGetAttrib(hCard, SCARD_ATTR_DEVICE_FRIENDLY_NAME_A, { bufferLength: 3 }))).toBe(
      SCARD_E_INSUFFICIENT_BUFFER,
    );
    expect(await code(client.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T0 }, HELLO))).toBe(
      SCARD_E_PROTO_MISMATCH,
    );
    await client.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
    expect(await code(client.SCardStatus(hCard))).toBe(SCARD_E_INVALID_HANDLE);
  });

  it('runs the APDU before INSUFFICIENT_BUFFER and says how much was needed', async () => {
    const { client, hContext, name } = await rig();
    const { hCard } = await client.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    await client.SCardTransmit(hCard, T1, SELECT);
    try {
      await client.SCardTransmit(hCard, T1, HELLO, { recvLength: 4 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PcscError);
      expect((e as PcscError).code).toBe(SCARD_E_INSUFFICIENT_BUFFER);
      expect((e as PcscError).needed).toBe(14);
    }
  });

  it('negotiates T=0 with a T=0 card and refuses T=1 only', async () => {
    const { client, hContext, name } = await rig({ card: 'T0' });
    expect(await code(client.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1))).toBe(
      SCARD_E_PROTO_MISMATCH,
    );
    const { dwActiveProtocol } = await client.SCardConnect(
      hContext,
      name,
      SCARD_SHARE_SHARED,
      SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
    );
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T0);
  });

  it('checks names, contexts and handles of other clients', async () => {
    const { client, hContext, name, daemon } = await rig();
    const other = daemon.connect();
    expect(await code(other.SCardListReaders(hContext))).toBe(SCARD_E_INVALID_HANDLE);
    expect(await code(client.SCardConnect(hContext, 'nope 00 00', SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1))).toBe(
      SCARD_E_UNKNOWN_READER,
    );
    const { hCard } = await client.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(await code(other.SCardTransmit(hCard, T1, SELECT))).toBe(SCARD_E_INVALID_HANDLE);
    expect(await code(client.SCardGetStatusChange(hContext, 0, [{ szReader: 'nope', dwCurrentState: 0 }]))).toBe(
      SCARD_E_UNKNOWN_READER,
    );
    const many = Array.from({ length: 17 }, () => ({ szReader: name, dwCurrentState: 0 }));
    expect(await code(client.SCardGetStatusChange(hContext, 0, many))).toBe(SCARD_E_INVALID_PARAMETER);
  });

  it('exclusive connections exclude, and a transaction makes the other handle wait until it ends', async () => {
    const { client, hContext, name, daemon } = await rig();
    const other = daemon.connect();
    const ctx2 = (await other.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    const a = (await client.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).hCard;
    expect(await code(other.SCardConnect(ctx2, name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1))).toBe(
      SCARD_E_SHARING_VIOLATION,
    );
    const b = (await other.SCardConnect(ctx2, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).hCard;
    await client.SCardBeginTransaction(a);
    await client.SCardBeginTransaction(a); // re-entrant
    expect(await code(other.SCardControl(b, 0x42000d48, new Uint8Array(1)))).toBe(SCARD_E_SHARING_VIOLATION);
    let done = false;
    const waiting = other.SCardTransmit(b, T1, SELECT).then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    await client.SCardEndTransaction(a, SCARD_LEAVE_CARD);
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    await client.SCardEndTransaction(a, SCARD_LEAVE_CARD);
    expect((await waiting).recvBuffer).toEqual(hex('90 00'));
    expect(await code(client.SCardEndTransaction(a, SCARD_LEAVE_CARD))).toBe(SCARD_E_NOT_TRANSACTED);
  });

  it('flags every handle W_RESET_CARD after a reset; Reconnect clears only its own flag', async () => {
    const { client, hContext, name } = await rig();
    const a = (await client.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).hCard;
    const b = (await client.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).hCard;
    await client.SCardReconnect(a, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD);
    expect((await client.SCardTransmit(a, T1, SELECT)).recvBuffer).toEqual(hex('90 00'));
    expect(await code(client.SCardTransmit(b, T1, SELECT))).toBe(SCARD_W_RESET_CARD);
    expect(await code(client.SCardStatus(b))).toBe(SCARD_W_RESET_CARD);
    await client.SCardReconnect(b, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD);
    await client.SCardTransmit(b, T1, SELECT);
  });

  it('sees removal and insertion through GetStatusChange, with the event counter', async () => {
    const { client, hContext, name, sim } = await rig();
    const { hCard } = await client.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const wait = nextState(client, hContext, name, 0x0122);
    sim.removeCard();
    const removed = await wait;
    expect(removed).toBe(0x0001_0012 | SCARD_STATE_CHANGED);
    expect(await code(client.SCardTransmit(hCard, T1, SELECT))).toBe(SCARD_W_REMOVED_CARD);
    const wait2 = nextState(client, hContext, name, 0x0001_0012);
    sim.insertCard(helloWorldCardT1());
    expect(await wait2).toBe(0x0002_0122); // PRESENT | INUSE (the handle is still open) | CHANGED
    // still flagged after reinsertion, until Reconnect
    expect(await code(client.SCardStatus(hCard))).toBe(SCARD_W_REMOVED_CARD);
    await client.SCardReconnect(hCard, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD);
    expect((await client.SCardStatus(hCard)).dwState >>> 16).toBe(2);
  });

  it('times out with the states, is cancelled by SCardCancel, and fires for PnP when a reader comes', async () => {
    const { client, hContext, name, daemon } = await rig();
    try {
      await client.SCardGetStatusChange(hContext, 3, [{ szReader: name, dwCurrentState: 0x22 }]);
      expect.unreachable();
    } catch (e) {
      expect((e as PcscError).code).toBe(SCARD_E_TIMEOUT);
      expect((e as PcscError).readerStates?.[0]?.dwEventState).toBe(SCARD_STATE_PRESENT);
    }
    const pending = code(client.SCardGetStatusChange(hContext, INFINITE, [{ szReader: name, dwCurrentState: 0x22 }]));
    await new Promise((r) => setTimeout(r, 2));
    await client.SCardCancel(hContext);
    expect(await pending).toBe(SCARD_E_CANCELLED);

    const pnp = client.SCardGetStatusChange(hContext, INFINITE, [
      { szReader: PNP_NOTIFICATION_READER_NAME, dwCurrentState: 0 },
    ]);
    const second = await CcidReader.open(createSimulatedReader('gempc-twin'), { timeoutScale: 0.01 });
    expect(await daemon.addReader(second)).toEqual(['Gemalto PC Twin Reader 01 00']);
    expect((await pnp).readerStates[0]!.dwEventState & SCARD_STATE_CHANGED).toBe(SCARD_STATE_CHANGED);
    await daemon.removeReader(second);
    expect(daemon.readerNames).toEqual([name]);
  });

  it('a second call on a context waiting forever queues; IsValidContext and Cancel still answer (libpcsclite deadlocks)', async () => {
    // libpcsclite 1.9.9 would block the second call on the context mutex while holding its global mutex, and every
    // later call of the process (Cancel and IsValidContext included) on that global mutex: see README's departures.
    const { client, hContext, name } = await rig();
    const order: string[] = [];
    const pending = code(client.SCardGetStatusChange(hContext, INFINITE, [{ szReader: name, dwCurrentState: 0x22 }]));
    void pending.then(() => order.push('gsc'));
    const list = client.SCardListReaders(hContext, null).then((r) => (order.push('list'), r));
    await new Promise((r) => setTimeout(r, 2));
    await client.SCardIsValidContext(hContext);
    expect(order).toEqual([]);
    await client.SCardCancel(hContext);
    expect(await pending).toBe(SCARD_E_CANCELLED);
    expect((await list).readers).toEqual([name]);
    expect(order).toEqual(['gsc', 'list']);
  });

  it('DIRECT connects without a card; no card otherwise → NO_SMARTCARD; no readers → NO_READERS_AVAILABLE', async () => {
    const { client, hContext, name, daemon, reader } = await rig({ card: 'none' });
    expect(await code(client.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1))).toBe(
      SCARD_E_NO_SMARTCARD,
    );
    const d = await client.SCardConnect(hContext, name, SCARD_SHARE_DIRECT, 0);
    expect(d.dwActiveProtocol).toBe(SCARD_PROTOCOL_UNDEFINED);
    const st = await client.SCardStatus(d.hCard);
    expect(st.dwState & 0xffff).toBe(0x02);
    const r = await client.SCardGetStatusChange(hContext, 0, [{ szReader: name, dwCurrentState: 0 }]);
    // a DIRECT handle without a card is not INUSE
    expect(r.readerStates[0]!.dwEventState).toBe(SCARD_STATE_EMPTY | SCARD_STATE_CHANGED);
    await daemon.removeReader(reader);
    expect(await code(client.SCardListReaders(hContext))).toBe(SCARD_E_NO_READERS_AVAILABLE);
    await client.SCardDisconnect(d.hCard, SCARD_LEAVE_CARD);
  });

  it('client close disconnects its handles and resets the card of the lock holder', async () => {
    const { client, hContext, name, daemon } = await rig();
    const other = daemon.connect();
    const ctx2 = (await other.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    const b = (await other.SCardConnect(ctx2, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).hCard;
    const a = (await client.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).hCard;
    await client.SCardBeginTransaction(a);
    await client.close();
    expect(await code(other.SCardTransmit(b, T1, SELECT))).toBe(SCARD_W_RESET_CARD);
    const st = await other.SCardGetStatusChange(ctx2, 0, [{ szReader: name, dwCurrentState: 0 }]);
    expect(st.readerStates[0]!.dwEventState & 0xffff).toBe(SCARD_STATE_PRESENT | SCARD_STATE_CHANGED | 0x100);
  });
});
