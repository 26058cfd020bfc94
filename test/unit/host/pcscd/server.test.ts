/**
 * The pcscd socket server against a raw protocol 4.4 client (no Debian package needed): every command's answer,
 * the wait / event / cancel / stop protocol of libpcsclite's SCardGetStatusChange, cleanup when a connection closes,
 * and the socket file's life.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SocketPathError } from '../../../../src/host/pcscd/socket-path.js';
import { pcscdServerStats, servePcscd } from '../../../../src/host/pcscd/server.js';
import {
  CMD,
  READER_STATES_SIZE,
  decodeReaderStates,
  decodeStruct,
  encodeRequest,
  encodeStruct,
  structSize,
} from '../../../../src/host/pcscd/wire.js';
import { RawClient, helloOverRawSocket } from '../../../host/raw-client.js';
import { simReader, startRig, until, type HostRig } from '../../../host/rig.js';

let rig: HostRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

const SCARD_E_CANCELLED = 0x80100002;
const SCARD_E_INVALID_HANDLE = 0x80100003;

async function waitMessage(c: RawClient) {
  return decodeStruct('waitReaderStateChange', await c.read(structSize('waitReaderStateChange')));
}

describe('servePcscd', () => {
  it('answers establish, reader states, connect, transmit, status, attributes, transactions, reconnect, disconnect', async () => {
    rig = await startRig();
    const { client: c, hCard, hContext, hello } = await helloOverRawSocket(rig.socketPath);
    expect(new TextDecoder().decode(hello.subarray(0, 12))).toBe('Hello world!');
    const [state] = await c.readerStates();
    expect(state).toMatchObject({
      name: 'Gemalto PC Twin Reader 00 00',
      readerSharing: 1,
      cardProtocol: 2,
      readerState: 0x34,
    });
    expect((await c.call(CMD.STATUS, 'status', { hCard, rv: 0 })).rv).toBe(0);
    const attr = await c.call(CMD.GET_ATTRIB, 'getset', {
      hCard,
      dwAttrId: 0x90303,
      pbAttr: new Uint8Array(0),
      cbAttrLen: 264,
      rv: 0,
    });
    expect(attr.rv).toBe(0);
    expect([...attr.pbAttr.subarray(0, attr.cbAttrLen)]).toEqual([...state!.atr]);
    const small = await c.call(CMD.GET_ATTRIB, 'getset', {
      hCard,
      dwAttrId: 0x90303,
      pbAttr: new Uint8Array(0),
      cbAttrLen: 2,
      rv: 0,
    });
    expect(small).toMatchObject({ rv: 0x80100008, cbAttrLen: state!.atr.length });
    // A response larger than the stated buffer: INSUFFICIENT_BUFFER with the needed length, and no data follows.
    const t = await c.call(
      CMD.TRANSMIT,
      'transmit',
      {
        hCard,
        ioSendPciProtocol: 2,
        ioSendPciLength: 16,
        cbSendLength: 4,
        ioRecvPciProtocol: 0,
        ioRecvPciLength: 16,
        pcbRecvLength: 3,
        rv: 0,
      },
      Uint8Array.of(0, 0, 0, 0),
    );
    expect(t).toMatchObject({ rv: 0x80100008, pcbRecvLength: 14 });
    expect((await c.call(CMD.BEGIN_TRANSACTION, 'begin', { hCard, rv: 0 })).rv).toBe(0);
    expect((await c.call(CMD.END_TRANSACTION, 'end', { hCard, dwDisposition: 0, rv: 0 })).rv).toBe(0);
    expect((await c.call(CMD.END_TRANSACTION, 'end', { hCard, dwDisposition: 0, rv: 0 })).rv).toBe(0x80100016);
    const ctl = await c.call(CMD.CONTROL, 'control', {
      hCard,
      dwControlCode: 0x42000d48,
      cbSendLength: 0,
      cbRecvLength: 300,
      dwBytesReturned: 0,
      rv: 0,
    });
    expect(ctl.rv).toBe(0);
    expect((await c.read(ctl.dwBytesReturned)).length % 6).toBe(0); // PC/SC part 10 feature TLVs
    const rc = await c.call(CMD.RECONNECT, 'reconnect', {
      hCard,
      dwShareMode: 2,
      dwPreferredProtocols: 2,
      dwInitialization: 1,
      dwActiveProtocol: 0,
      rv: 0,
    });
    expect(rc).toMatchObject({ rv: 0, dwActiveProtocol: 2 });
    expect((await c.call(CMD.DISCONNECT, 'disconnect', { hCard, dwDisposition: 0, rv: 0 })).rv).toBe(0);
    expect((await c.call(CMD.RELEASE_CONTEXT, 'release', { hContext, rv: 0 })).rv).toBe(0);
    expect(rig.daemon.stats()).toMatchObject({ contexts: 0, handles: 0 });
    await c.close();
    await until(() => rig!.daemon.stats().clients === 0, 'client gone');
  });

  it('WAIT sends the states at once and one {0,0} on the next card event; STOP answers only while registered', async () => {
    const { sim, reader } = await simReader();
    rig = await startRig({ readers: [reader] });
    const c = await RawClient.open(rig.socketPath);
    c.write(encodeRequest(CMD.WAIT_READER_STATE_CHANGE, new Uint8Array(0)));
    const [before] = decodeReaderStates(await c.read(READER_STATES_SIZE));
    expect(before!.eventCounter).toBe(0);
    expect(pcscdServerStats(rig.server).waiting).toBe(1);
    sim.removeCard();
    expect(await waitMessage(c)).toEqual({ timeOut: 0, rv: 0 });
    expect(pcscdServerStats(rig.server).waiting).toBe(0);
    const [after] = await c.readerStates();
    expect(after).toMatchObject({ eventCounter: 1, readerState: 0x02 });
    // Registered again, then STOP: answered {0,0}.
    c.write(encodeRequest(CMD.WAIT_READER_STATE_CHANGE, new Uint8Array(0)));
    await c.read(READER_STATES_SIZE);
    c.write(encodeRequest(CMD.STOP_WAITING_READER_STATE_CHANGE, new Uint8Array(0)));
    expect(await waitMessage(c)).toEqual({ timeOut: 0, rv: 0 });
    expect(pcscdServerStats(rig.server).waiting).toBe(0);
    await c.close();
  });

  it('WAIT after the reader list changed unseen: the last array again, then {0,0}, then the new list', async () => {
    rig = await startRig();
    const c = await RawClient.open(rig.socketPath);
    expect((await c.readerStates()).map((r) => r.name)).toEqual(['Gemalto PC Twin Reader 00 00']);
    // A reader added while this client is not waiting (libpcsclite 1.9.9 would compare counts within one wait only).
    const second = await simReader();
    await rig.daemon.addReader(second.reader);
    c.write(encodeRequest(CMD.WAIT_READER_STATE_CHANGE, new Uint8Array(0)));
    expect(decodeReaderStates(await c.read(READER_STATES_SIZE)).map((r) => r.name)).toEqual([
      'Gemalto PC Twin Reader 00 00',
    ]);
    expect(await waitMessage(c)).toEqual({ timeOut: 0, rv: 0 });
    expect(pcscdServerStats(rig.server).waiting).toBe(0);
    // The client's next WAIT (libpcsclite re-reads after the event) gets the new list and stays registered.
    c.write(encodeRequest(CMD.WAIT_READER_STATE_CHANGE, new Uint8Array(0)));
    expect(decodeReaderStates(await c.read(READER_STATES_SIZE)).map((r) => r.name)).toEqual([
      'Gemalto PC Twin Reader 00 00',
      'Gemalto PC Twin Reader 01 00',
    ]);
    expect(pcscdServerStats(rig.server).waiting).toBe(1);
    c.write(encodeRequest(CMD.STOP_WAITING_READER_STATE_CHANGE, new Uint8Array(0)));
    expect(await waitMessage(c)).toEqual({ timeOut: 0, rv: 0 });
    // Removed unseen: the same, the removed reader still in the first answer.
    await rig.daemon.removeReader(second.reader);
    c.write(encodeRequest(CMD.WAIT_READER_STATE_CHANGE, new Uint8Array(0)));
    expect(decodeReaderStates(await c.read(READER_STATES_SIZE))).toHaveLength(2);
    expect(await waitMessage(c)).toEqual({ timeOut: 0, rv: 0 });
    // GET_READERS_STATE always answers the current list.
    expect(await c.readerStates()).toHaveLength(1);
    await c.close();
  });

  it('CANCEL on a throwaway connection ends the wait of the connection holding the context', async () => {
    rig = await startRig();
    const waiter = await RawClient.open(rig.socketPath);
    const { hContext } = await waiter.call(CMD.ESTABLISH_CONTEXT, 'establish', { dwScope: 2, hContext: 0, rv: 0 });
    // Nothing waits yet: pcscd 1.9.9 answers INVALID_HANDLE (libpcsclite does not even send it then).
    const early = await RawClient.open(rig.socketPath);
    expect((await early.call(CMD.CANCEL, 'cancel', { hContext, rv: 0 })).rv).toBe(SCARD_E_INVALID_HANDLE);
    await early.close();
    waiter.write(encodeRequest(CMD.WAIT_READER_STATE_CHANGE, new Uint8Array(0)));
    await waiter.read(READER_STATES_SIZE);
    const canceller = await RawClient.open(rig.socketPath);
    expect((await canceller.call(CMD.CANCEL, 'cancel', { hContext, rv: 0 })).rv).toBe(0);
    expect(await waitMessage(waiter)).toEqual({ timeOut: 0, rv: SCARD_E_CANCELLED });
    // Unregistered: a STOP now gets no answer, the next command does.
    waiter.write(encodeRequest(CMD.STOP_WAITING_READER_STATE_CHANGE, new Uint8Array(0)));
    expect((await waiter.call(CMD.RELEASE_CONTEXT, 'release', { hContext, rv: 0 })).rv).toBe(0);
    // The context is gone: cancelling it is INVALID_HANDLE.
    expect((await canceller.call(CMD.CANCEL, 'cancel', { hContext, rv: 0 })).rv).toBe(SCARD_E_INVALID_HANDLE);
    await canceller.close();
    await waiter.close();
  });

  it('releases what a closed connection held: its handles, its lock, its event registration', async () => {
    rig = await startRig();
    const a = await helloOverRawSocket(rig.socketPath);
    expect((await a.client.call(CMD.BEGIN_TRANSACTION, 'begin', { hCard: a.hCard, rv: 0 })).rv).toBe(0);
    a.client.write(encodeRequest(CMD.WAIT_READER_STATE_CHANGE, new Uint8Array(0)));
    await a.client.read(READER_STATES_SIZE);
    expect(rig.daemon.stats()).toMatchObject({ clients: 1, contexts: 1, handles: 1 });
    await a.client.close();
    await until(() => rig!.daemon.stats().clients === 0, 'cleaned up');
    expect(rig.daemon.stats()).toMatchObject({ contexts: 0, handles: 0, waiters: 0 });
    expect(pcscdServerStats(rig.server)).toMatchObject({ connections: 0, contexts: 0, waiting: 0 });
    // The lock went with it: another connection transacts at once.
    const b = await helloOverRawSocket(rig.socketPath);
    expect((await b.client.call(CMD.BEGIN_TRANSACTION, 'begin', { hCard: b.hCard, rv: 0 })).rv).toBe(0);
    await b.client.close();
  });

  it('frames requests however they arrive: two in one write, one split across many chunks', async () => {
    rig = await startRig();
    const a = await helloOverRawSocket(rig.socketPath);
    const hello = Uint8Array.of(0, 0, 0, 0);
    const request = encodeRequest(
      CMD.TRANSMIT,
      encodeStruct('transmit', {
        hCard: a.hCard,
        ioSendPciProtocol: 2,
        ioSendPciLength: 16,
        cbSendLength: hello.length,
        ioRecvPciProtocol: 0,
        ioRecvPciLength: 16,
        pcbRecvLength: 258,
        rv: 0,
      }),
      hello,
    );
    const answer = async () => {
      const t = decodeStruct('transmit', await a.client.read(structSize('transmit')));
      expect(t).toMatchObject({ rv: 0, pcbRecvLength: 14 });
      return new TextDecoder().decode((await a.client.read(t.pcbRecvLength)).subarray(0, 12));
    };
    const two = new Uint8Array(request.length * 2);
    two.set(request);
    two.set(request, request.length);
    a.client.write(two);
    expect([await answer(), await answer()]).toEqual(['Hello world!', 'Hello world!']);
    // 5-byte pieces, each its own chunk on the server's side: header, struct and APDU all straddle chunk boundaries.
    for (let i = 0; i < request.length; i += 5) {
      a.client.write(request.subarray(i, i + 5));
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(await answer()).toBe('Hello world!');
    expect(pcscdServerStats(rig.server).pendingInput).toBe(0);
    await a.client.close();
  });

  it('builds its per-command debug lines only when the log keeps debug (logLevel)', async () => {
    const commandLines = (logs: string[]) => logs.filter((l) => /^debug: connection #\d+: [A-Z_]+ → /.test(l));
    rig = await startRig();
    const a = await helloOverRawSocket(rig.socketPath);
    await a.client.close();
    // Without logLevel every line is built, the TRANSMIT of the hello-world SELECT among them.
    expect(commandLines(rig.logs).some((l) => l.includes(': TRANSMIT → '))).toBe(true);
    await rig.stop();
    rig = await startRig({ logLevel: 'info' });
    const b = await helloOverRawSocket(rig.socketPath);
    expect(new TextDecoder().decode(b.hello.subarray(0, 12))).toBe('Hello world!');
    await b.client.close();
    expect(commandLines(rig.logs)).toEqual([]);
  });

  it('refuses a live socket, and removes its socket file when closed', async () => {
    rig = await startRig();
    const err = await servePcscd({ daemon: rig.daemon, path: rig.socketPath }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SocketPathError);
    expect((err as Error).message).toContain(`process ${process.pid}`);
    expect(existsSync(rig.socketPath)).toBe(true);
    await rig.server.close();
    expect(existsSync(rig.socketPath)).toBe(false);
    // Serving the same path again works.
    const again = await servePcscd({ daemon: rig.daemon, path: rig.socketPath });
    const c = await helloOverRawSocket(rig.socketPath);
    await c.client.close();
    await again.close();
  });
});
