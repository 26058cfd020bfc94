/**
 * Hostile bytes on the socket: wrong sizes, unknown commands, truncated structs, oversized lengths, foreign handles,
 * random frames (fast-check), a client that never reads. Each time: that connection closes (or, for well-formed
 * nonsense, is answered with an error code), the host lives, another client still works, nothing leaks.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { pcscdServerStats } from '../../src/host/pcscd/server.js';
import {
  CMD,
  HEADER_SIZE,
  encodeHeader,
  encodeRequest,
  encodeStruct,
  requestSize,
  type Command,
} from '../../src/host/pcscd/wire.js';
import { RawClient, helloOverRawSocket } from './raw-client.js';
import { startRig, until, type HostRig } from './rig.js';

const HELLO = [...new TextEncoder().encode('Hello world!'), 0x90, 0x00];

let rig: HostRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

async function fastRig(): Promise<HostRig> {
  // pcscd's 2 s pause before closing a rogue client's connection, shortened so that fuzzing stays quick.
  return startRig({ tuning: { foreignHandleDelayMs: 5 } });
}

/** Sends the bytes on a new connection and waits for the server to close it; `others` connections stay open. */
async function closedByServer(rawBytes: Uint8Array, r: HostRig, what: string, others = 0): Promise<void> {
  const before = r.logs.length;
  const c = await RawClient.open(r.socketPath);
  c.write(rawBytes);
  await c.closedPromise; // the server closes it: the test would hang (and fail on its timeout) otherwise
  await until(
    () => pcscdServerStats(r.server).connections === others && r.daemon.stats().clients === others,
    `${what}: cleaned up`,
  );
  const said = r.logs.slice(before).filter((l) => l.startsWith('warn:'));
  expect(
    said.some((l) => l.includes('closing the connection') || l.includes('foreign card handle')),
    what,
  ).toBe(true);
  // Error texts name the field and its size, never the bytes received.
  for (const l of said) expect(l).not.toMatch(/[0-9A-F]{2} [0-9A-F]{2} [0-9A-F]{2}/);
}

async function stillWorks(r: HostRig): Promise<void> {
  const { client, hello } = await helloOverRawSocket(r.socketPath);
  expect([...hello]).toEqual(HELLO);
  await client.close();
}

describe('hostile input on the pcscd socket', () => {
  it('closes on a wrong size, an unknown command, a size on a size-0 command', async () => {
    rig = await fastRig();
    await closedByServer(encodeRequest(CMD.ESTABLISH_CONTEXT, new Uint8Array(11)), rig, 'establish, 11 bytes');
    await closedByServer(encodeRequest(CMD.CONNECT, new Uint8Array(151)), rig, 'connect, 151 bytes');
    await closedByServer(encodeRequest(0x03, new Uint8Array(0)), rig, 'obsolete LIST_READERS');
    await closedByServer(encodeRequest(0x7fff_ffff, new Uint8Array(4)), rig, 'unknown command');
    await closedByServer(encodeRequest(CMD.GET_READERS_STATE, new Uint8Array(4)), rig, 'GET_READERS_STATE with a body');
    await closedByServer(encodeHeader({ size: 0xffff_ffff, command: CMD.TRANSMIT }), rig, 'a 4 GiB size');
    await stillWorks(rig);
  });

  it('closes on a foreign card handle, an oversized TRANSMIT/CONTROL length and an oversized attribute length', async () => {
    rig = await fastRig();
    const status = encodeRequest(CMD.STATUS, encodeStruct('status', { hCard: 0x1234, rv: 0 }));
    await closedByServer(status, rig, 'foreign handle');
    // The same with a valid handle of *another* connection.
    const other = await helloOverRawSocket(rig.socketPath);
    await closedByServer(
      encodeRequest(CMD.STATUS, encodeStruct('status', { hCard: other.hCard, rv: 0 })),
      rig,
      'another connection’s handle',
      1,
    );
    expect(other.client.closed).toBe(false);
    expect(rig.daemon.stats().handles).toBe(1);

    // On its own connection, oversized lengths close it.
    const mk = async () => helloOverRawSocket(rig!.socketPath);
    for (const [label, req] of [
      [
        'TRANSMIT 65549',
        (h: number) =>
          encodeRequest(
            CMD.TRANSMIT,
            encodeStruct('transmit', {
              hCard: h,
              ioSendPciProtocol: 2,
              ioSendPciLength: 16,
              cbSendLength: 65549,
              ioRecvPciProtocol: 0,
              ioRecvPciLength: 16,
              pcbRecvLength: 300,
              rv: 0,
            }),
          ),
      ],
      [
        'CONTROL 65549',
        (h: number) =>
          encodeRequest(
            CMD.CONTROL,
            encodeStruct('control', {
              hCard: h,
              dwControlCode: 0x42000d48,
              cbSendLength: 65549,
              cbRecvLength: 300,
              dwBytesReturned: 0,
              rv: 0,
            }),
          ),
      ],
      [
        'GET_ATTRIB 265',
        (h: number) =>
          encodeRequest(
            CMD.GET_ATTRIB,
            encodeStruct('getset', { hCard: h, dwAttrId: 0x90303, pbAttr: new Uint8Array(0), cbAttrLen: 265, rv: 0 }),
          ),
      ],
      [
        'SET_ATTRIB 265',
        (h: number) =>
          encodeRequest(
            CMD.SET_ATTRIB,
            encodeStruct('getset', { hCard: h, dwAttrId: 0x90303, pbAttr: new Uint8Array(0), cbAttrLen: 265, rv: 0 }),
          ),
      ],
    ] as const) {
      const c = await mk();
      c.client.write(req(c.hCard));
      await c.client.closedPromise;
      expect(
        rig.logs.some((l) => l.includes(label.split(' ')[0]!) && l.includes('exceeds')),
        label,
      ).toBe(true);
    }
    await other.client.close();
    await until(
      () => pcscdServerStats(rig!.server).connections === 0 && rig!.daemon.stats().clients === 0,
      'cleaned up',
    );
    expect(rig.daemon.stats()).toMatchObject({ contexts: 0, handles: 0, waiters: 0 });
    await stillWorks(rig);
  });

  it('answers well-formed nonsense with error codes and keeps the connection', async () => {
    rig = await fastRig();
    const c = await RawClient.open(rig.socketPath);
    const v = await c.call(CMD.VERSION, 'version', { major: 3, minor: 9, rv: 0 });
    expect(v).toEqual({ major: 4, minor: 4, rv: 0x8010001e }); // SCARD_E_SERVICE_STOPPED, as pcscd
    expect((await c.call(CMD.ESTABLISH_CONTEXT, 'establish', { dwScope: 7, hContext: 0, rv: 0 })).rv).toBe(0x80100011);
    const e = await c.call(CMD.ESTABLISH_CONTEXT, 'establish', { dwScope: 2, hContext: 0, rv: 0 });
    expect(e.rv).toBe(0);
    // A reader name with no NUL in its 128 bytes: pcscd forces the last byte to 0.
    const name = new Uint8Array(128).fill(0x41);
    const co = await c.call(CMD.CONNECT, 'connect', {
      hContext: e.hContext,
      szReader: name,
      dwShareMode: 2,
      dwPreferredProtocols: 3,
      hCard: 0,
      dwActiveProtocol: 0,
      rv: 0,
    });
    expect(co.rv).toBe(0x80100009); // SCARD_E_UNKNOWN_READER
    expect((await c.call(CMD.CANCEL, 'cancel', { hContext: 0x4242, rv: 0 })).rv).toBe(0x80100003);
    // STOP without WAIT: no answer (pcscd answers only a registered client); the next command is still served.
    c.write(encodeRequest(CMD.STOP_WAITING_READER_STATE_CHANGE, new Uint8Array(0)));
    expect((await c.readerStates()).length).toBe(1);
    expect((await c.call(CMD.RELEASE_CONTEXT, 'release', { hContext: e.hContext, rv: 0 })).rv).toBe(0);
    expect((await c.call(CMD.RELEASE_CONTEXT, 'release', { hContext: e.hContext, rv: 0 })).rv).toBe(0x80100003);
    expect(c.closed).toBe(false);
    await c.close();
    await until(() => rig!.daemon.stats().clients === 0, 'cleaned up');
  });

  it('fuzz: random frames never crash the host nor disturb another client, and leak nothing', async () => {
    rig = await fastRig();
    const r = rig;
    const bystander = await helloOverRawSocket(r.socketPath);
    const commands = Object.values(CMD) as Command[];
    const frame = fc.oneof(
      // Random bytes.
      fc.uint8Array({ maxLength: 300 }),
      // A known command with any size and a body of random bytes.
      fc
        .record({
          command: fc.constantFrom(...commands),
          size: fc.nat({ max: 400 }),
          body: fc.uint8Array({ maxLength: 400 }),
        })
        .map(({ command, size, body }) => Uint8Array.from([...encodeHeader({ size, command }), ...body])),
      // A known command with the right size and random content (random handles, scopes, lengths), maybe truncated.
      fc
        .record({
          command: fc.constantFrom(...commands),
          seed: fc.uint8Array({ minLength: 400, maxLength: 400 }),
          cut: fc.nat({ max: 400 }),
          extra: fc.uint8Array({ maxLength: 64 }),
        })
        .map(({ command, seed, cut, extra }) => {
          const body = seed.subarray(0, requestSize(command));
          const whole = Uint8Array.from([...encodeHeader({ size: body.length, command }), ...body, ...extra]);
          return whole.subarray(0, Math.min(whole.length, HEADER_SIZE + cut));
        }),
      // An unknown command.
      fc
        .record({ command: fc.integer({ min: 0x15, max: 0xffffffff }), size: fc.nat({ max: 64 }) })
        .map(({ command, size }) => Uint8Array.from([...encodeHeader({ size, command }), ...new Uint8Array(size)])),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 4 }), async (frames) => {
        const c = await RawClient.open(r.socketPath);
        for (const f of frames) c.write(f);
        // Whatever the server made of it, our side ends the conversation; the server then cleans up.
        c.socket.end();
        await c.closedPromise;
        await until(
          () => pcscdServerStats(r.server).connections === 1 && r.daemon.stats().clients === 1,
          'only the bystander left',
        );
      }),
      { numRuns: 80 },
    );
    expect(r.daemon.stats()).toMatchObject({ clients: 1, contexts: 1, handles: 1, waiters: 0 });
    // The bystander's connection was never disturbed.
    expect(bystander.client.closed).toBe(false);
    const t = await bystander.client.call(
      CMD.TRANSMIT,
      'transmit',
      {
        hCard: bystander.hCard,
        ioSendPciProtocol: 2,
        ioSendPciLength: 16,
        cbSendLength: 4,
        ioRecvPciProtocol: 0,
        ioRecvPciLength: 16,
        pcbRecvLength: 300,
        rv: 0,
      },
      Uint8Array.of(0, 0, 0, 0),
    );
    expect(t.rv).toBe(0);
    expect([...(await bystander.client.read(t.pcbRecvLength))]).toEqual(HELLO);
    await bystander.client.close();
    await stillWorks(r);
  });

  it('a client that never reads: the host stops serving it instead of buffering without bound', async () => {
    rig = await startRig({ tuning: { maxPendingOutput: 64 * 1024, maxPendingInput: 64 * 1024 } });
    const r = rig;
    const c = await RawClient.open(r.socketPath);
    c.socket.pause(); // never read: the kernel buffers fill, then the host's
    const request = encodeRequest(CMD.GET_READERS_STATE, new Uint8Array(0));
    // 20,000 requests ask for 59 MB of answers.
    const many = new Uint8Array(request.length * 20_000);
    for (let i = 0; i < 20_000; i++) many.set(request, i * request.length);
    c.socket.write(many);
    // The host serves until its output for this client passes the limit, then waits for it to read.
    await until(() => pcscdServerStats(r.server).pendingOutput > 64 * 1024, 'output backed up');
    await new Promise((res) => setTimeout(res, 100));
    const s = pcscdServerStats(r.server);
    expect(s.pendingOutput).toBeLessThanOrEqual(64 * 1024 + 2944);
    expect(s.pendingInput).toBeLessThanOrEqual(64 * 1024 + 65536);
    // Meanwhile another client is served.
    await stillWorks(r);
    await c.close();
    await until(() => pcscdServerStats(r.server).connections === 0, 'closed');
  });
});
