/**
 * The Node host as a library (src/host/index.ts): openPcsc() gives the SCard* API in-process over the demo reader,
 * simulated readers and a vpcd reader; close() powers cards down and releases everything.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  openPcsc,
  PcscError,
  SCARD_E_NO_SERVICE,
  SCARD_E_UNKNOWN_READER,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNKNOWN,
  type Pcsc,
} from '../../src/host/index.js';
import { encodeVpcdFrame, VpcdFrameDecoder } from '../../src/host/readers/vpcd.js';
import { helloWorldCardT1 } from '../../src/sim/index.js';
import { SELECT_HELLO } from '../support/hello.js';

const HELLO = Uint8Array.of(0, 0, 0, 0);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

const opened: Pcsc[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((p) => p.close()));
});

async function open(options: Parameters<typeof openPcsc>[0]): Promise<Pcsc> {
  const p = await openPcsc({ usb: false, ...options });
  opened.push(p);
  return p;
}

describe('openPcsc', () => {
  it('runs the hello-world exchange on the demo reader, in-process', async () => {
    const pcsc = await open({ demo: true });
    const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readers } = await pcsc.SCardListReaders(hContext, null);
    expect(readers).toEqual(['Gemalto PC Twin Reader 00 00']);
    const { hCard, dwActiveProtocol } = await pcsc.SCardConnect(
      hContext,
      readers[0]!,
      SCARD_SHARE_SHARED,
      SCARD_PROTOCOL_T1,
    );
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    expect((await pcsc.SCardTransmit(hCard, { dwProtocol: dwActiveProtocol }, SELECT_HELLO)).recvBuffer).toEqual(
      Uint8Array.of(0x90, 0),
    );
    const { recvBuffer } = await pcsc.SCardTransmit(hCard, { dwProtocol: dwActiveProtocol }, HELLO);
    expect(text(recvBuffer.subarray(0, -2))).toBe('Hello world!');
    await pcsc.SCardDisconnect(hCard, 0);
    await pcsc.SCardReleaseContext(hContext);
  });

  it('combines the demo reader with simulated profiles, each with its default card', async () => {
    const pcsc = await open({ demo: true, sim: ['two-slot', 'pinpad', 'short-apdu:none'] });
    const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readers } = await pcsc.SCardListReaders(hContext, null);
    expect(readers).toHaveLength(5);
    const { readerStates } = await pcsc.SCardGetStatusChange(
      hContext,
      0,
      readers.map((r) => ({ szReader: r, dwCurrentState: 0 })),
    );
    const present = readerStates.map((s) => (s.dwEventState & SCARD_STATE_PRESENT) !== 0);
    // demo, two-slot slot 0 (T=1 card), slot 1 (T=0 card), pinpad (PIN card), short-apdu (empty).
    expect(present).toEqual([true, true, true, true, false]);
    const t0 = await pcsc.SCardConnect(
      hContext,
      readers[2]!,
      SCARD_SHARE_SHARED,
      SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
    );
    expect(t0.dwActiveProtocol).toBe(SCARD_PROTOCOL_T0);
  });

  it('rejects an unknown profile with the list of valid ones, and starts nothing', async () => {
    await expect(openPcsc({ usb: false, demo: true, sim: ['no-such-reader'] })).rejects.toThrow(
      /unknown reader profile "no-such-reader": one of gempc-twin/,
    );
  });

  it('serves a vpcd reader: a virtual card connecting is a card insertion', async () => {
    const pcsc = await open({ vpcd: 0 });
    const port = pcsc.readers.vpcd!.port;
    const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readers } = await pcsc.SCardListReaders(hContext, null);
    expect(readers).toEqual(['Virtual PCD 00 00']);
    const waiting = pcsc.SCardGetStatusChange(hContext, 5000, [
      { szReader: readers[0]!, dwCurrentState: 0x10 /* EMPTY */ },
    ]);
    // A minimal card: answers "get ATR" and echoes SW 90 00 to any APDU.
    const card = net.connect(port, '127.0.0.1');
    const decoder = new VpcdFrameDecoder();
    card.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        if (f.length === 1 && f[0] === 4) card.write(encodeVpcdFrame(Uint8Array.of(0x3b, 0x02, 0x14, 0x50)));
        else if (f.length > 1) card.write(encodeVpcdFrame(Uint8Array.of(0x90, 0x00)));
      }
    });
    const { readerStates } = await waiting;
    expect(readerStates[0]!.dwEventState & SCARD_STATE_PRESENT).toBe(SCARD_STATE_PRESENT);
    const { hCard, dwActiveProtocol } = await pcsc.SCardConnect(
      hContext,
      readers[0]!,
      SCARD_SHARE_SHARED,
      SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
    );
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T0);
    expect((await pcsc.SCardTransmit(hCard, { dwProtocol: dwActiveProtocol }, HELLO)).recvBuffer).toEqual(
      Uint8Array.of(0x90, 0),
    );
    card.destroy();
  });

  it('follows simulated hot-plug: card out and in, reader unplugged', async () => {
    const pcsc = await open({ demo: true });
    const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const reader = 'Gemalto PC Twin Reader 00 00';
    const device = pcsc.readers.sim!.devices[0]!;
    const wait = async (current: number) =>
      (await pcsc.SCardGetStatusChange(hContext, 5000, [{ szReader: reader, dwCurrentState: current }]))
        .readerStates[0]!;
    const before = await wait(0);
    expect(before.dwEventState & SCARD_STATE_PRESENT).toBe(SCARD_STATE_PRESENT);
    device.removeCard(0);
    const out = await wait(before.dwEventState);
    expect(out.dwEventState & SCARD_STATE_EMPTY).toBe(SCARD_STATE_EMPTY);
    device.insertCard(helloWorldCardT1());
    const back = await wait(out.dwEventState);
    expect(back.dwEventState & SCARD_STATE_PRESENT).toBe(SCARD_STATE_PRESENT);
    // The wait starts while the reader is there, and is let run until it blocks (its path is promise turns only)
    // before the unplug: a call that began after the daemon had dropped the reader would rightly get
    // SCARD_E_UNKNOWN_READER instead (pcsc-lite checks the names when the call starts).
    const waiting = wait(back.dwEventState);
    await new Promise((resolve) => setImmediate(resolve));
    device.unplug();
    const gone = await waiting;
    expect(gone.dwEventState & SCARD_STATE_UNKNOWN).toBe(SCARD_STATE_UNKNOWN);
    expect(pcsc.daemon.readerNames).toEqual([]);
    await expect(wait(gone.dwEventState)).rejects.toSatisfy(
      (e: unknown) => e instanceof PcscError && e.code === SCARD_E_UNKNOWN_READER,
    );
  });

  it('close() ends the client and the daemon; later calls fail with SCARD_E_NO_SERVICE', async () => {
    const pcsc = await openPcsc({ usb: false, demo: true });
    const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readers } = await pcsc.SCardListReaders(hContext, null);
    await pcsc.SCardConnect(hContext, readers[0]!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const sim = pcsc.readers.sim!.devices[0]!;
    await pcsc.close();
    await pcsc.close();
    expect(pcsc.daemon.readerNames).toEqual([]);
    expect(sim.opened).toBe(false);
    const other = pcsc.daemon.connect();
    await expect(other.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).rejects.toSatisfy(
      (e: unknown) => e instanceof PcscError && e.code === SCARD_E_NO_SERVICE,
    );
  });

  it('with usb on and no USB bus, says so in the log and serves the other readers', async () => {
    const logs: string[] = [];
    const pcsc = await open({
      demo: true,
      usb: { busStatus: { available: false, reason: 'no USB bus: /sys/bus/usb/devices does not exist' } },
      log: (level, message) => logs.push(`${level} ${message}`),
    });
    expect(pcsc.readers.usb?.active).toBe(false);
    expect(logs).toContain('warn no USB bus: /sys/bus/usb/devices does not exist');
    expect(pcsc.daemon.readerNames).toEqual(['Gemalto PC Twin Reader 00 00']);
  });
});
