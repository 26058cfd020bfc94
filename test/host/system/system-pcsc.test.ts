/**
 * openSystemPcsc() against Debian's pcscd, run privately (test/host/support/private-pcscd.ts) with a vpcd reader and
 * vicc's iso7816 card. libpcsclite is loaded into this test process and reads PCSCLITE_CSOCK_NAME at its first
 * connect (and keeps it): the variable is set before the first call, and pcscd is restarted on the same path.
 */
import { readFile } from 'node:fs/promises';
import { isMainThread } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INFINITE,
  SCARD_E_CANCELLED,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_PARAMETER,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_SERVICE,
  SCARD_E_SERVER_TOO_BUSY,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  SCARD_STATE_CHANGED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAWARE,
} from '../../../src/pcsc/constants.js';
import type { ReaderStateIn, ReaderStateOut } from '../../../src/pcsc/api.js';
import { PcscError, isPcscError } from '../../../src/pcsc/errors.js';
import { SETTLE_MS, settle } from '../../support/settle.js';
import { openSystemPcsc, parseMultiString, type SystemPcsc } from '../../../src/host/system/system-pcsc.js';
import {
  VICC_ISO7816_ATR,
  privatePcscdUnavailable,
  startPrivatePcscd,
  type PrivatePcscd,
} from '../support/private-pcscd.js';

const unavailable = privatePcscdUnavailable();
const skip = unavailable !== null && !process.env.CI;
if (skip) console.log(`skipping the system PC/SC tests: ${unavailable}`);

// SELECT MF with P2 = 0C (no response data): Debian's vicc crashes on any SELECT that returns FCI (P2 = 00), and
// pcsc-lite then answers the transmit with success and 0 bytes.
const SELECT_MF = Uint8Array.from([0x00, 0xa4, 0x00, 0x0c, 0x02, 0x3f, 0x00]);
const GET_CHALLENGE = Uint8Array.from([0x00, 0x84, 0x00, 0x00, 0x08]);
// The attribute vpcd's driver answers with the ATR (IFD handler tag TAG_IFD_ATR); Debian's pcscd 1.9.9 + vpcd answer
// SCARD_ATTR_ATR_STRING with SCARD_E_UNSUPPORTED_FEATURE and SCARD_ATTR_DEVICE_FRIENDLY_NAME with
// SCARD_E_INSUFFICIENT_BUFFER whatever the buffer.
const TAG_IFD_ATR = 0x0303;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

async function rejection(p: Promise<unknown>): Promise<PcscError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PcscError) return e;
    throw e;
  }
  throw new Error('expected a PcscError, the call succeeded');
}

describe.skipIf(skip)('system PC/SC through koffi (private pcscd + vpcd + vicc)', () => {
  let rig: PrivatePcscd;
  let pcsc: SystemPcsc;
  let hContext: number;
  let reader: string;

  /** Waits (in 5 s slices) until the reader's state satisfies `ok`; returns that state. */
  async function waitState(ok: (s: ReaderStateOut) => boolean): Promise<ReaderStateOut> {
    let current = SCARD_STATE_UNAWARE;
    for (let i = 0; i < 20; i++) {
      try {
        const states = [{ szReader: reader, dwCurrentState: current }];
        const { readerStates } = await pcsc.SCardGetStatusChange(hContext, 5000, states);
        const s = readerStates[0]!;
        if (ok(s)) return s;
        current = s.dwEventState & ~SCARD_STATE_CHANGED;
      } catch (e) {
        if (!isPcscError(e, 0x8010000a)) throw e; // SCARD_E_TIMEOUT: look again
        const s = e.readerStates?.[0];
        if (s && ok(s)) return s;
      }
    }
    throw new Error('the reader never reached the expected state');
  }

  beforeAll(async () => {
    // A worker thread's process.env is its own copy and never reaches the C environment libpcsclite reads.
    if (!isMainThread) throw new Error('run these tests in a process (vitest pool "forks"), not a worker thread');
    rig = await startPrivatePcscd();
    process.env.PCSCLITE_CSOCK_NAME = rig.socketPath;
    reader = rig.readerName;
    pcsc = openSystemPcsc();
    rig.startCard();
    ({ hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM));
  });

  afterAll(async () => {
    await pcsc?.close();
    await rig?.close();
  });

  it('lists the vpcd readers (multi-string parsed)', async () => {
    const { readers } = await pcsc.SCardListReaders(hContext, null);
    expect(readers).toContain('Virtual PCD 00 00');
    expect(readers).toContain('Virtual PCD 00 01');
    await pcsc.SCardIsValidContext(hContext);
  });

  it('SCardGetStatusChange sees the card and its ATR', async () => {
    const s = await waitState((s) => (s.dwEventState & SCARD_STATE_PRESENT) !== 0);
    expect(hex(s.rgbAtr)).toBe(hex(VICC_ISO7816_ATR));
    expect(s.szReader).toBe(reader);
  });

  it('connects T=1, transmits SELECT MF and GET CHALLENGE, reports its status, disconnects', async () => {
    const connected = await pcsc.SCardConnect(hContext, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const { hCard, dwActiveProtocol } = connected;
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    const sel = await pcsc.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_MF);
    expect(hex(sel.recvBuffer)).toBe('9000');
    expect(sel.recvPci.dwProtocol).toBe(SCARD_PROTOCOL_T1);
    const ch = await pcsc.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, GET_CHALLENGE);
    expect(ch.recvBuffer.length).toBe(10);
    expect(hex(ch.recvBuffer.subarray(8))).toBe('9000');
    const st = await pcsc.SCardStatus(hCard);
    expect(st.szReaderName).toBe(reader);
    expect(st.dwProtocol).toBe(SCARD_PROTOCOL_T1);
    expect(hex(st.atr)).toBe(hex(VICC_ISO7816_ATR));
    const { attr } = await pcsc.SCardGetAttrib(hCard, TAG_IFD_ATR);
    expect(hex(attr)).toBe(hex(VICC_ISO7816_ATR));
    await pcsc.SCardBeginTransaction(hCard);
    await pcsc.SCardEndTransaction(hCard, SCARD_LEAVE_CARD);
    await pcsc.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
    expect((await rejection(pcsc.SCardStatus(hCard))).code).toBe(SCARD_E_INVALID_HANDLE);
  });

  it('keeps every answer to its own call while receive buffers are reused (in turn and at once)', async () => {
    const { hCard } = await pcsc.SCardConnect(hContext, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const T1 = { dwProtocol: SCARD_PROTOCOL_T1 };
    // A 10-byte answer, then a 2-byte one in the same buffer: nothing of the first shows in the second.
    const first = await pcsc.SCardTransmit(hCard, T1, GET_CHALLENGE);
    expect(first.recvBuffer.length).toBe(10);
    const sel = await pcsc.SCardTransmit(hCard, T1, SELECT_MF);
    expect(hex(sel.recvBuffer)).toBe('9000');
    // A caller's answer is its own copy: a later call does not change it.
    const kept = hex(first.recvBuffer);
    // Calls on two contexts at once each get their own buffer and their own (random) challenge.
    const other = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const card2 = await pcsc.SCardConnect(other.hContext, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const both = await Promise.all([
      pcsc.SCardTransmit(hCard, T1, GET_CHALLENGE),
      pcsc.SCardTransmit(card2.hCard, T1, GET_CHALLENGE),
    ]);
    for (const r of both) expect(hex(r.recvBuffer.subarray(8))).toBe('9000');
    expect(hex(both[0].recvBuffer)).not.toBe(hex(both[1].recvBuffer));
    expect(hex(first.recvBuffer)).toBe(kept);
    await pcsc.SCardDisconnect(card2.hCard, SCARD_LEAVE_CARD);
    await pcsc.SCardReleaseContext(other.hContext);
    await pcsc.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
  });

  it('connects with T=0 as the system decides, and transmits with the T=0 PCI when it is granted', async () => {
    // The card's ATR offers T=1 only (TD1 = 81); vpcd/pcscd decide whether T=0 alone is granted.
    let granted: { hCard: number; dwActiveProtocol: number } | null = null;
    try {
      granted = await pcsc.SCardConnect(hContext, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0);
    } catch (e) {
      expect(isPcscError(e, 0x8010000f)).toBe(true); // SCARD_E_PROTOCOL_MISMATCH
    }
    if (granted) {
      expect(granted.dwActiveProtocol).toBe(SCARD_PROTOCOL_T0);
      const sel = await pcsc.SCardTransmit(granted.hCard, { dwProtocol: SCARD_PROTOCOL_T0 }, SELECT_MF);
      expect(hex(sel.recvBuffer)).toBe('9000');
      await pcsc.SCardDisconnect(granted.hCard, SCARD_LEAVE_CARD);
    }
  });

  it('answers SCARD_E_INSUFFICIENT_BUFFER with the length needed, as the system does', async () => {
    const lr = await rejection(pcsc.SCardListReaders(hContext, null, { bufferLength: 4 }));
    expect(lr.code).toBe(SCARD_E_INSUFFICIENT_BUFFER);
    expect(lr.needed).toBe('Virtual PCD 00 00\0Virtual PCD 00 01\0\0'.length);
    const { hCard } = await pcsc.SCardConnect(hContext, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const ga = await rejection(pcsc.SCardGetAttrib(hCard, TAG_IFD_ATR, { bufferLength: 2 }));
    expect(ga.code).toBe(SCARD_E_INSUFFICIENT_BUFFER);
    const T1 = { dwProtocol: SCARD_PROTOCOL_T1 };
    const tx = await rejection(pcsc.SCardTransmit(hCard, T1, GET_CHALLENGE, { recvLength: 4 }));
    expect(tx.code).toBe(SCARD_E_INSUFFICIENT_BUFFER);
    expect(tx.needed).toBe(10);
    // The handle still works afterwards.
    const sel = await pcsc.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_MF);
    expect(hex(sel.recvBuffer)).toBe('9000');
    await pcsc.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
  });

  it('rejects handles it never gave out with SCARD_E_INVALID_HANDLE', async () => {
    expect((await rejection(pcsc.SCardIsValidContext(987654))).code).toBe(SCARD_E_INVALID_HANDLE);
    const tx = await rejection(pcsc.SCardTransmit(987654, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_MF));
    expect(tx.code).toBe(SCARD_E_INVALID_HANDLE);
  });

  it('cancels an INFINITE wait while other calls and timers keep running', async () => {
    const now = await waitState((s) => (s.dwEventState & SCARD_STATE_PRESENT) !== 0);
    const pending = pcsc.SCardGetStatusChange(hContext, INFINITE, [
      { szReader: reader, dwCurrentState: now.dwEventState & ~SCARD_STATE_CHANGED, pvUserData: 'mine' },
    ]);
    let settled = false;
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    // The event loop is free: a timer fires while the wait is pending.
    const fired = await new Promise<boolean>((r) => setTimeout(() => r(true), 100));
    expect(fired).toBe(true);
    expect(settled).toBe(false);
    // Calls on the same caller context go on while it waits (the wait has its own system context).
    const { readers } = await pcsc.SCardListReaders(hContext, null);
    expect(readers).toContain(reader);
    const { hCard } = await pcsc.SCardConnect(hContext, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const sel = await pcsc.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_MF);
    expect(hex(sel.recvBuffer)).toBe('9000');
    await pcsc.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
    // libuv's pool still has threads for others (the wait holds one): fs goes on.
    expect((await readFile(rig.dir + '/reader.conf', 'utf8')).length).toBeGreaterThan(0);
    expect(settled).toBe(false);
    await pcsc.SCardCancel(hContext);
    const outcome = await settle(pending, SETTLE_MS, 'the cancelled wait');
    expect(outcome.ok).toBe(false);
    const err = outcome.ok ? null : (outcome.error as PcscError);
    expect(err?.code).toBe(SCARD_E_CANCELLED);
    expect(err?.readerStates?.[0]?.pvUserData).toBe('mine');
    // The context still works after the cancel.
    await pcsc.SCardIsValidContext(hContext);
  });

  it('a waiting SCardGetStatusChange sees the card removed (vicc killed) and inserted again', async () => {
    const present = await waitState((s) => (s.dwEventState & SCARD_STATE_PRESENT) !== 0);
    const removal = pcsc.SCardGetStatusChange(hContext, INFINITE, [
      { szReader: reader, dwCurrentState: present.dwEventState & ~SCARD_STATE_CHANGED },
    ]);
    await rig.stopCard();
    const r = (await removal).readerStates[0]!;
    expect(r.dwEventState & SCARD_STATE_CHANGED).toBe(SCARD_STATE_CHANGED);
    const isEmpty = (s: ReaderStateOut) => (s.dwEventState & SCARD_STATE_EMPTY) !== 0;
    const empty = isEmpty(r) ? r : await waitState(isEmpty);
    expect(empty.rgbAtr.length).toBe(0);
    const insertion = pcsc.SCardGetStatusChange(hContext, INFINITE, [
      { szReader: reader, dwCurrentState: empty.dwEventState & ~SCARD_STATE_CHANGED },
    ]);
    rig.startCard();
    const i = (await insertion).readerStates[0]!;
    expect(i.dwEventState & SCARD_STATE_CHANGED).toBe(SCARD_STATE_CHANGED);
    const isPresent = (s: ReaderStateOut) => (s.dwEventState & SCARD_STATE_PRESENT) !== 0;
    const back = isPresent(i) ? i : await waitState(isPresent);
    expect(hex(back.rgbAtr)).toBe(hex(VICC_ISO7816_ATR));
  });

  it('refuses malformed arguments with a PC/SC code, naming the field', async () => {
    const { hCard } = await pcsc.SCardConnect(hContext, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const badProtocol = await rejection(pcsc.SCardTransmit(hCard, { dwProtocol: 8 }, GET_CHALLENGE));
    expect(badProtocol.code).toBe(SCARD_E_INVALID_VALUE);
    expect(badProtocol.message).toMatch(/ioSendPci\.dwProtocol/);
    const notBytes = await rejection(
      pcsc.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, [0, 0x84] as unknown as Uint8Array),
    );
    expect(notBytes.code).toBe(SCARD_E_INVALID_PARAMETER);
    expect(notBytes.message).toMatch(/sendBuffer must be a Uint8Array/);
    const badLength = await rejection(pcsc.SCardControl(hCard, 0x42000001, new Uint8Array(0), { recvLength: -1 }));
    expect(badLength.code).toBe(SCARD_E_INVALID_PARAMETER);
    const badReader = await rejection(
      pcsc.SCardGetStatusChange(hContext, 0, [{ szReader: 5, dwCurrentState: 0 } as unknown as ReaderStateIn]),
    );
    expect(badReader.code).toBe(SCARD_E_INVALID_PARAMETER);
    await pcsc.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
  });

  it('refuses a wait that would take the last threads of the pool, naming UV_THREADPOOL_SIZE', async () => {
    // A pool of 3: one pending wait is the limit (one thread for other PC/SC calls, one for the rest of the host).
    const small = openSystemPcsc({ threadPoolSize: 3 });
    const { hContext: a } = await small.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { hContext: b } = await small.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readerStates } = await small.SCardGetStatusChange(a, 0, [{ szReader: reader, dwCurrentState: 0 }]);
    const now = readerStates[0]!.dwEventState & ~SCARD_STATE_CHANGED;
    const first = rejection(small.SCardGetStatusChange(a, INFINITE, [{ szReader: reader, dwCurrentState: now }]));
    const states = [{ szReader: reader, dwCurrentState: now }];
    const second = await rejection(small.SCardGetStatusChange(b, INFINITE, states));
    expect(second.code).toBe(SCARD_E_SERVER_TOO_BUSY);
    expect(second.message).toMatch(/UV_THREADPOOL_SIZE/);
    await small.SCardCancel(a);
    expect((await first).code).toBe(SCARD_E_CANCELLED);
    // Once the first wait has ended, the other context may wait.
    const again = await small.SCardGetStatusChange(b, 0, [{ szReader: reader, dwCurrentState: 0 }]);
    expect(again.readerStates[0]!.szReader).toBe(reader);
    await small.close();
  });

  it('close() ends a pending INFINITE wait with SCARD_E_CANCELLED and releases its contexts', async () => {
    const other = openSystemPcsc();
    const { hContext: h } = await other.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readerStates } = await other.SCardGetStatusChange(h, 0, [{ szReader: reader, dwCurrentState: 0 }]);
    const now = readerStates[0]!.dwEventState & ~SCARD_STATE_CHANGED;
    const pending = rejection(other.SCardGetStatusChange(h, INFINITE, [{ szReader: reader, dwCurrentState: now }]));
    await new Promise((r) => setTimeout(r, 50));
    await other.close();
    expect((await pending).code).toBe(SCARD_E_CANCELLED);
    expect((await rejection(other.SCardIsValidContext(h))).code).toBe(SCARD_E_INVALID_HANDLE);
  });

  it('answers SCARD_E_NO_SERVICE with what to do while pcscd is stopped, and recovers when it is back', async () => {
    await rig.stopPcscd();
    const err = await rejection(pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM));
    expect(err.code).toBe(SCARD_E_NO_SERVICE);
    expect(err.message).toMatch(/systemctl start pcscd/);
    await rig.startPcscd();
    const { hContext: fresh } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readers } = await pcsc.SCardListReaders(fresh, null);
    expect(readers).toContain(reader);
    await pcsc.SCardReleaseContext(fresh);
    expect((await rejection(pcsc.SCardIsValidContext(fresh))).code).toBe(SCARD_E_INVALID_HANDLE);
  });
});

describe('system PC/SC without its library', () => {
  it('answers every call with SCARD_E_NO_SERVICE and says which library could not be loaded', async () => {
    const pcsc = openSystemPcsc({ libraryPath: '/nonexistent/libpcsclite.so.1' });
    const err = await rejection(pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM));
    expect(err.code).toBe(SCARD_E_NO_SERVICE);
    expect(err.message).toMatch(/cannot load the PC\/SC library/);
    expect((await rejection(pcsc.SCardListReaders(1, null))).code).toBe(SCARD_E_INVALID_HANDLE);
    await pcsc.close();
  });
});

describe('parseMultiString', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it('splits at NULs and stops at the empty string, within the length the system gave', () => {
    const b = enc('Reader A\0Reader B\0\0garbage\0');
    expect(parseMultiString(b, 19)).toEqual(['Reader A', 'Reader B']);
    expect(parseMultiString(b, 9)).toEqual(['Reader A']);
    expect(parseMultiString(enc('\0'), 1)).toEqual([]);
    expect(parseMultiString(new Uint8Array(0), 0)).toEqual([]);
  });
});
