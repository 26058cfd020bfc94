import { describe, expect, it } from 'vitest';
import {
  PC_to_RDR_Abort,
  PC_to_RDR_GetSlotStatus,
  PC_to_RDR_IccPowerOn,
  PC_to_RDR_XfrBlock,
  RDR_to_PC_DataBlock,
  RDR_to_PC_SlotStatus,
} from '../../../src/ccid/constants.js';
import { findCcidInterfaces, parseConfigurationDescriptor } from '../../../src/ccid/descriptor.js';
import { DriverError, IFD } from '../../../src/ifd/errors.js';
import { encodeGetSlotStatus, encodeIccPowerOn, encodeXfrBlock } from '../../../src/ccid/messages.js';
import { CcidTransport, type CcidTransportOptions, type LogLevel } from '../../../src/ccid/transport.js';
import { isProtectedClassError } from '../../../src/ccid/usb-failure.js';
import type { CcidInterfaceInfo } from '../../../src/ccid/types.js';
import { FakeUsbDevice, ManualTimers, flush, okIn } from './fake-usb-device.js';
import { GEMPC_TWIN, RUTOKEN_ECP, SCR331_DI, type ReaderFixture } from './reader-descriptors.js';

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

function infoOf(reader: ReaderFixture, patch: Partial<CcidInterfaceInfo['descriptor']> = {}): CcidInterfaceInfo {
  const info = findCcidInterfaces(parseConfigurationDescriptor(reader.configuration))[0]!;
  return { ...info, descriptor: { ...info.descriptor, ...patch } };
}

function message(type: number, slot: number, seq: number, status: number, error: number, data: number[] = []) {
  const b = new Uint8Array(10 + data.length);
  b[0] = type;
  new DataView(b.buffer).setUint32(1, data.length, true);
  b.set([slot, seq, status, error, 0], 5);
  b.set(data, 10);
  return b;
}
const slotStatus = (slot: number, seq: number, icc = 0, status = 0, error = 0) =>
  message(RDR_to_PC_SlotStatus, slot, seq, status | icc, error);
const dataBlock = (slot: number, seq: number, data: number[] = [], status = 0, error = 0) =>
  message(RDR_to_PC_DataBlock, slot, seq, status, error, data);

const xfr = (slot: number, data: number[]) => (seq: number) => encodeXfrBlock(slot, seq, Uint8Array.from(data));
const getStatus = (slot: number) => (seq: number) => encodeGetSlotStatus(slot, seq);

interface Harness {
  fake: FakeUsbDevice;
  timers: ManualTimers;
  logs: [LogLevel, string][];
  transport: CcidTransport;
  /** Bulk-OUT messages after opening. */
  sent(): Uint8Array[];
}

/**
 * Opens a transport on a fake reader that answers GetSlotStatus by itself (card present on every slot unless
 * `present` says otherwise) and leaves every other command to the test.
 */
async function openReader(
  reader: ReaderFixture = GEMPC_TWIN,
  options: CcidTransportOptions & { info?: CcidInterfaceInfo; present?: boolean[]; noInterrupt?: boolean } = {},
): Promise<Harness> {
  const info = options.info ?? infoOf(reader);
  const fake = new FakeUsbDevice(
    info.bulkIn,
    info.interruptIn === undefined
      ? [
          { endpointNumber: info.bulkOut, direction: 'out', type: 'bulk', packetSize: 64 },
          { endpointNumber: info.bulkIn, direction: 'in', type: 'bulk', packetSize: 64 },
        ]
      : undefined,
  );
  const present = options.present ?? [true, true];
  fake.onBulkOut = (msg) => {
    if (msg[0] === PC_to_RDR_GetSlotStatus) fake.reply(slotStatus(msg[5]!, msg[6]!, present[msg[5]!] ? 0 : 2));
  };
  const timers = new ManualTimers();
  const logs: [LogLevel, string][] = [];
  const transport = await CcidTransport.open(fake.usb, info, {
    timers,
    log: (level, msg) => logs.push([level, msg]),
    ...options,
  });
  const openedWith = fake.bulkOut.length;
  return { fake, timers, logs, transport, sent: () => fake.bulkOut.slice(openedWith) };
}

/** Collects the outcome of a promise without an unhandled rejection. */
function track<T>(p: Promise<T>) {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (value) => Object.assign(state, { done: true, value }),
    (error: unknown) => Object.assign(state, { done: true, error }),
  );
  return state;
}

// ---------------------------------------------------------------------------------------------------------------

describe('opening', () => {
  it('opens, claims the interface and resynchronises with GetSlotStatus', async () => {
    const fake = new FakeUsbDevice();
    fake.configurationValue = undefined;
    fake.onBulkOut = (msg) => fake.reply(slotStatus(0, msg[6]!, 1));
    const t = await CcidTransport.open(fake.usb, infoOf(GEMPC_TWIN), { timers: new ManualTimers() });
    expect(fake.calls).toEqual(['open', 'selectConfiguration 1', 'claimInterface 0']);
    expect(fake.bulkOut.map((m) => m[0])).toEqual([PC_to_RDR_GetSlotStatus]);
    expect(t.state).toBe('open');
    expect(t.slotPresence(0)).toBe(true);
    // The interrupt pump drains any pending notification: a read waits on the interrupt endpoint.
    expect(fake.isReading(3)).toBe(true);
    expect(fake.pendingReadLength(3)).toBe(8);
  });

  it('selects a non-zero alternate setting', async () => {
    const fake = new FakeUsbDevice();
    fake.onBulkOut = (msg) => fake.reply(slotStatus(0, msg[6]!));
    await CcidTransport.open(fake.usb, { ...infoOf(GEMPC_TWIN), alternateSetting: 1 }, { timers: new ManualTimers() });
    expect(fake.calls).toContain('selectAlternateInterface 0 1');
  });

  it('explains that Chrome protects class 0x0B when claimInterface throws SecurityError', async () => {
    const fake = new FakeUsbDevice();
    const cause = new DOMException('The requested interface implements a protected class.', 'SecurityError');
    fake.claimError = cause;
    const err = await CcidTransport.open(fake.usb, infoOf(GEMPC_TWIN)).catch((e: unknown) => e);
    expect(isProtectedClassError(err)).toBe(true);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).code).toBe(IFD.NOT_SUPPORTED);
    expect((err as DriverError).message).toMatch(/class 0x0B \(smart card\)/);
    expect((err as DriverError).cause).toBe(cause);
    expect(fake.calls).toContain('close'); // we opened it, so we close it again
    expect(isProtectedClassError(new DriverError(IFD.NOT_SUPPORTED, 'x'))).toBe(false);
  });

  it('says another driver may hold the interface when claiming fails otherwise', async () => {
    const fake = new FakeUsbDevice();
    fake.claimError = new DOMException('Unable to claim interface.', 'NetworkError');
    await expect(CcidTransport.open(fake.usb, infoOf(GEMPC_TWIN))).rejects.toMatchObject({
      code: IFD.COMMUNICATION_ERROR,
      message: expect.stringMatching(/another program or driver/),
    });
  });

  it('retries resynchronisation with 100 ms after an unanswered first GetSlotStatus, discarding the late reply', async () => {
    const fake = new FakeUsbDevice();
    const timers = new ManualTimers();
    const logs: string[] = [];
    let count = 0;
    fake.onBulkOut = (msg) => {
      if (++count === 2) fake.reply(slotStatus(0, msg[6]!)); // answer only the second one
    };
    const opening = track(CcidTransport.open(fake.usb, infoOf(GEMPC_TWIN), { timers, log: (_l, m) => logs.push(m) }));
    await flush();
    await timers.advance(2999);
    expect(fake.bulkOut).toHaveLength(1);
    await timers.advance(1);
    expect(opening.done).toBe(true);
    expect(opening.error).toBeUndefined();
    expect(fake.bulkOut.map((m) => m[6])).toEqual([0, 1]);
    expect(fake.controlOut).toHaveLength(0); // no abort during resynchronisation
    fake.reply(slotStatus(0, 0)); // the first one's late answer, read before the next command's
    fake.onBulkOut = (msg) => fake.reply(slotStatus(0, msg[6]!, 2));
    const next = await (opening.value as CcidTransport).command(0, getStatus(0), 1000);
    expect([next.seq, next.iccStatus]).toEqual([2, 2]);
    expect(logs.some((m) => /discarded RDR_to_PC_SlotStatus for slot 0 seq 0/.test(m))).toBe(true);
  });

  it('fails after three unanswered GetSlotStatus and releases the interface', async () => {
    const fake = new FakeUsbDevice();
    const timers = new ManualTimers();
    const opening = track(CcidTransport.open(fake.usb, infoOf(GEMPC_TWIN), { timers }));
    await timers.advance(3000 + 100 + 100);
    expect(opening.error).toBeInstanceOf(DriverError);
    expect((opening.error as DriverError).code).toBe(IFD.COMMUNICATION_ERROR);
    expect((opening.error as DriverError).message).toMatch(/did not answer GetSlotStatus/);
    expect(fake.calls).toContain('releaseInterface 0');
    expect(fake.calls).toContain('close');
  });
});

describe('commands and bSeq', () => {
  it('assigns one bSeq per command, wrapping 255 → 0', async () => {
    const h = await openReader(RUTOKEN_ECP);
    h.fake.onBulkOut = (msg) => h.fake.reply(dataBlock(0, msg[6]!, [0x90, 0x00]));
    for (let i = 0; i < 258; i++) {
      const r = await h.transport.command(0, xfr(0, [0x00, 0xb0, 0, 0, 0]), 1000);
      expect(Array.from(r.data)).toEqual([0x90, 0x00]);
    }
    const seqs = h.sent().map((m) => m[6]);
    expect(seqs.slice(0, 3)).toEqual([1, 2, 3]); // 0 went to the resynchronisation
    expect(seqs.slice(253, 258)).toEqual([254, 255, 0, 1, 2]);
    expect(h.fake.concurrentReads).toBe(0);
  });

  it('reads bulk-IN with one request large enough for any response, in whole packets', async () => {
    const h = await openReader(RUTOKEN_ECP);
    const pending = track(h.transport.command(0, xfr(0, [1]), 1000));
    await flush();
    const len = h.fake.pendingReadLength(2)!;
    expect(len).toBeGreaterThanOrEqual(10 + 65548);
    expect(len % 64).toBe(0);
    h.fake.reply(dataBlock(0, h.sent()[0]![6]!));
    await flush();
    expect(pending.done).toBe(true);
  });

  it('discards stale, foreign and duplicate responses and returns only the matching one', async () => {
    const h = await openReader(SCR331_DI);
    h.fake.onBulkOut = (msg) => {
      if (msg[0] !== PC_to_RDR_XfrBlock) return;
      const seq = msg[6]!;
      h.fake.reply(dataBlock(0, (seq - 1) & 0xff, [0xde, 0xad])); // stale: an earlier bSeq
      h.fake.reply(dataBlock(1, seq, [0xbe, 0xef])); // foreign: another slot
      h.fake.reply(dataBlock(0, seq, [0x90, 0x00])); // the answer
      h.fake.reply(dataBlock(0, seq, [0x6a, 0x82])); // duplicate
    };
    const first = await h.transport.command(0, xfr(0, [1]), 1000);
    expect(Array.from(first.data)).toEqual([0x90, 0x00]);
    h.fake.onBulkOut = (msg) => h.fake.reply(dataBlock(0, msg[6]!, [0x61, 0x10]));
    const second = await h.transport.command(0, xfr(0, [2]), 1000);
    expect(Array.from(second.data)).toEqual([0x61, 0x10]);
    const discarded = h.logs.filter(([, m]) => /discarded/.test(m));
    expect(discarded.length).toBeGreaterThanOrEqual(3);
    expect(discarded.every(([level]) => level === 'warn')).toBe(true);
  });

  it('fails a command answered with another response type (CCID 1.1 §6.2), accepts a failed SlotStatus', async () => {
    const h = await openReader();
    h.fake.onBulkOut = (msg) => {
      if (msg[0] === PC_to_RDR_XfrBlock) h.fake.reply(slotStatus(0, msg[6]!)); // "processed" SlotStatus
    };
    const err = await h.transport.command(0, xfr(0, [1]), 1000).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: IFD.COMMUNICATION_ERROR });
    expect((err as DriverError).message).toMatch(
      /PC_to_RDR_XfrBlock .* with RDR_to_PC_SlotStatus, not RDR_to_PC_DataBlock/,
    );
    h.fake.onBulkOut = (msg) => h.fake.reply(slotStatus(0, msg[6]!, 0, 0x40, 0)); // failed: command not supported
    const refused = await h.transport.command(0, xfr(0, [1]), 1000);
    expect([refused.type, refused.commandStatus]).toEqual([RDR_to_PC_SlotStatus, 1]);
    h.fake.onBulkOut = (msg) => h.fake.reply(dataBlock(0, msg[6]!, [0x90, 0]));
    expect(Array.from((await h.transport.command(0, xfr(0, [1]), 1000)).data)).toEqual([0x90, 0]);
  });

  it('fails the command when the response length disagrees with dwLength', async () => {
    const h = await openReader();
    h.fake.onBulkOut = (msg) => {
      const bad = dataBlock(0, msg[6]!, [1, 2, 3]);
      h.fake.reply(bad.subarray(0, 12));
    };
    await expect(h.transport.command(0, xfr(0, [1]), 1000)).rejects.toMatchObject({
      code: IFD.COMMUNICATION_ERROR,
      message: expect.stringMatching(/announces 3 data bytes but carries 2/),
    });
  });

  it('returns a failed response for the caller to map', async () => {
    const h = await openReader();
    h.fake.onBulkOut = (msg) => h.fake.reply(dataBlock(0, msg[6]!, [], 0x42, 0xfe));
    const r = await h.transport.command(0, (seq) => encodeIccPowerOn(0, seq, 0), 1000);
    expect([r.commandStatus, r.iccStatus, r.error]).toEqual([1, 2, 0xfe]);
  });

  it('rejects a slot the reader does not have, a bad timeout and a badly built message', async () => {
    const h = await openReader();
    await expect(h.transport.command(1, getStatus(1), 1000)).rejects.toThrow(/slot 1 does not exist/);
    await expect(h.transport.command(0, getStatus(0), 0)).rejects.toThrow(/timeout/);
    await expect(h.transport.command(0, () => encodeGetSlotStatus(0, 200), 1000)).rejects.toThrow(/internal error/);
    // The slot is free again afterwards.
    await expect(h.transport.command(0, getStatus(0), 1000)).resolves.toMatchObject({ type: RDR_to_PC_SlotStatus });
  });

  it('re-reads after a node-usb style transfer timeout instead of failing', async () => {
    const h = await openReader();
    const p = track(h.transport.command(0, xfr(0, [1]), 5000));
    await flush();
    h.fake.queueIn(2, new Error('transferIn error: Error: LIBUSB_TRANSFER_TIMED_OUT'));
    await flush();
    expect(p.done).toBe(false);
    h.fake.reply(dataBlock(0, h.sent()[0]![6]!, [0x90, 0]));
    await flush();
    expect(p.done).toBe(true);
    expect(p.error).toBeUndefined();
  });
});

describe('time extension', () => {
  it('keeps waiting for timeout × bError after a time extension (XfrBlock)', async () => {
    const h = await openReader();
    const p = track(h.transport.command(0, xfr(0, [1]), 1000));
    await flush();
    const seq = h.sent()[0]![6]!;
    await h.timers.advance(500);
    h.fake.reply(dataBlock(0, seq, [], 0x80, 3)); // "wait 3 × longer"
    await h.timers.advance(2900); // 3400: past the original 1000 ms, inside 500 + 3000
    expect(p.done).toBe(false);
    h.fake.reply(dataBlock(0, seq, [0x90, 0x00]));
    await flush();
    expect(Array.from(p.value!.data)).toEqual([0x90, 0x00]);
  });

  it('times out at the extended deadline if no answer follows', async () => {
    const h = await openReader();
    const p = track(h.transport.command(0, xfr(0, [1]), 1000));
    await flush();
    h.fake.reply(dataBlock(0, h.sent()[0]![6]!, [], 0x80, 2));
    await h.timers.advance(1999);
    expect(p.done).toBe(false);
    await h.timers.advance(1);
    expect((p.error as DriverError).code).toBe(IFD.RESPONSE_TIMEOUT);
  });

  it('honours a time extension on IccPowerOn too, and bError 0 as × 1', async () => {
    const h = await openReader();
    const p = track(h.transport.command(0, (seq) => encodeIccPowerOn(0, seq, 0), 1000));
    await flush();
    const seq = h.sent()[0]![6]!;
    h.fake.reply(dataBlock(0, seq, [], 0x80, 0));
    await h.timers.advance(900);
    h.fake.reply(dataBlock(0, seq, [], 0x80, 0));
    await h.timers.advance(900);
    h.fake.reply(dataBlock(0, seq, [0x3b, 0x00]));
    await flush();
    expect(p.error).toBeUndefined();
    expect(Array.from(p.value!.data)).toEqual([0x3b, 0x00]);
  });
});

describe('timeout and abort', () => {
  it('sends the ABORT class request then PC_to_RDR_Abort with the same bSeq, and fails with IFD_RESPONSE_TIMEOUT', async () => {
    const h = await openReader();
    const p = track(h.transport.command(0, xfr(0, [1]), 1000));
    await flush();
    const seq = h.sent()[0]![6]!;
    await h.timers.advance(1000);
    expect(p.error).toBeInstanceOf(DriverError);
    expect((p.error as DriverError).code).toBe(IFD.RESPONSE_TIMEOUT);
    expect((p.error as DriverError).message).toMatch(
      /did not answer PC_to_RDR_XfrBlock on slot 0 within 1000 ms.*aborted/,
    );
    expect(h.fake.controlOut).toHaveLength(1);
    expect(h.fake.controlOut[0]!.setup).toEqual({
      requestType: 'class',
      recipient: 'interface',
      request: 1,
      value: (seq << 8) | 0,
      index: 0,
    });
    const abort = h.sent()[1]!;
    expect([abort[0], abort[5], abort[6]]).toEqual([PC_to_RDR_Abort, 0, seq]);
  });

  it('keeps the slot until the reader answers the abort, discarding the late reply of the aborted command', async () => {
    const h = await openReader();
    track(h.transport.command(0, xfr(0, [1]), 1000));
    await flush();
    const seq = h.sent()[0]![6]!;
    await h.timers.advance(1000);
    const next = track(h.transport.command(0, xfr(0, [2]), 1000));
    await flush();
    expect(h.sent()).toHaveLength(2); // XfrBlock, Abort: the next command waits
    h.fake.reply(dataBlock(0, seq, [], 0x40, 0xff)); // the aborted command's CMD_ABORTED
    await flush();
    expect(h.sent()).toHaveLength(2);
    h.fake.reply(slotStatus(0, seq)); // the abort's answer
    await flush();
    expect(h.sent()).toHaveLength(3);
    const nextSeq = h.sent()[2]![6]!;
    expect(nextSeq).not.toBe(seq);
    h.fake.reply(dataBlock(0, nextSeq, [0x90, 0]));
    await flush();
    expect(Array.from(next.value!.data)).toEqual([0x90, 0]);
  });

  it('frees the slot after abortTimeoutMs when the reader never answers the abort', async () => {
    const h = await openReader(GEMPC_TWIN, { abortTimeoutMs: 500 });
    track(h.transport.command(0, xfr(0, [1]), 1000));
    await flush();
    await h.timers.advance(1000);
    track(h.transport.command(0, xfr(0, [2]), 1000));
    await h.timers.advance(499);
    expect(h.sent()).toHaveLength(2);
    await h.timers.advance(1);
    expect(h.sent()).toHaveLength(3);
  });

  it('multiplies every timeout by timeoutScale', async () => {
    const h = await openReader(GEMPC_TWIN, { timeoutScale: 0.01 });
    const p = track(h.transport.command(0, xfr(0, [1]), 1000));
    await flush();
    await h.timers.advance(9);
    expect(p.done).toBe(false);
    await h.timers.advance(1);
    expect((p.error as DriverError).code).toBe(IFD.RESPONSE_TIMEOUT);
  });
});

describe('USB transfer conditions', () => {
  it('clears a stalled bulk-IN endpoint and reads again', async () => {
    const h = await openReader();
    const p = track(h.transport.command(0, xfr(0, [1]), 1000));
    await flush();
    h.fake.queueIn(2, { status: 'stall' });
    await flush();
    expect(h.fake.clearHalts).toEqual([{ direction: 'in', endpoint: 2 }]);
    expect(h.fake.isReading(2)).toBe(true);
    h.fake.reply(dataBlock(0, h.sent()[0]![6]!, [0x90, 0]));
    await flush();
    expect(p.error).toBeUndefined();
    expect(p.done).toBe(true);
  });

  it('fails the command on babble', async () => {
    const h = await openReader();
    const p = track(h.transport.command(0, xfr(0, [1]), 1000));
    await flush();
    h.fake.queueIn(2, { status: 'babble' });
    await flush();
    expect((p.error as DriverError).code).toBe(IFD.COMMUNICATION_ERROR);
    expect((p.error as DriverError).message).toMatch(/babble/);
  });

  it('skips a zero-length packet before the response (K30), warning when not expected', async () => {
    const h = await openReader();
    const p = track(h.transport.command(0, xfr(0, [1]), 1000));
    await flush();
    h.fake.reply([]);
    h.fake.reply(dataBlock(0, h.sent()[0]![6]!, [0x90, 0]));
    await flush();
    expect(Array.from(p.value!.data)).toEqual([0x90, 0]);
    expect(h.logs).toContainEqual(['warn', expect.stringMatching(/zero-length/)]);
  });

  it('with zlpDrain, takes one zero-length packet per command as expected', async () => {
    const h = await openReader(GEMPC_TWIN, { zlpDrain: true });
    h.fake.onBulkOut = (msg) => {
      h.fake.reply([]);
      h.fake.reply(dataBlock(0, msg[6]!, [0x90, 0]));
    };
    await h.transport.command(0, xfr(0, [1]), 1000);
    await h.transport.command(0, xfr(0, [2]), 1000);
    const zlpLogs = h.logs.filter(([, m]) => /zero-length/.test(m));
    expect(zlpLogs.length).toBeGreaterThanOrEqual(2);
    expect(zlpLogs.every(([level]) => level === 'debug')).toBe(true);
  });

  it('clears a stalled bulk-OUT endpoint and sends again', async () => {
    const h = await openReader();
    let first = true;
    h.fake.outResult = (msg) => {
      if (first) {
        first = false;
        return { status: 'stall', bytesWritten: 0 };
      }
      return { status: 'ok', bytesWritten: msg.length };
    };
    h.fake.onBulkOut = (msg) => {
      if (!first) h.fake.reply(dataBlock(0, msg[6]!, [0x90, 0]));
    };
    const r = await h.transport.command(0, xfr(0, [1]), 1000);
    expect(Array.from(r.data)).toEqual([0x90, 0]);
    expect(h.fake.clearHalts).toEqual([{ direction: 'out', endpoint: 1 }]);
  });
});

describe('slot changes', () => {
  it('delivers NotifySlotChange from the interrupt endpoint', async () => {
    const h = await openReader();
    const events: [number, boolean][] = [];
    h.transport.onSlotChange((slot, present) => events.push([slot, present]));
    h.fake.queueIn(3, okIn([0x50, 0b10])); // removed
    await flush();
    h.fake.queueIn(3, okIn([0x50, 0b11])); // inserted
    await flush();
    h.fake.queueIn(3, okIn([0x50, 0b01])); // no change
    await flush();
    expect(events).toEqual([
      [0, false],
      [0, true],
    ]);
    expect(h.transport.slotPresence(0)).toBe(true);
    expect(h.fake.concurrentReads).toBe(0);
  });

  it('delivers hardware errors and ignores malformed interrupt messages', async () => {
    const h = await openReader();
    const errors: unknown[] = [];
    h.transport.onHardwareError((e) => errors.push(e));
    h.fake.queueIn(3, okIn([0x99]));
    h.fake.queueIn(3, okIn([0x51, 0, 7, 1]));
    await flush();
    expect(errors).toEqual([{ slot: 0, seq: 7, code: 1 }]);
    expect(h.logs).toContainEqual(['warn', expect.stringMatching(/ignored an interrupt message/)]);
  });

  it('without an interrupt endpoint, polls GetSlotStatus only while someone listens', async () => {
    const present = [true];
    const h = await openReader(RUTOKEN_ECP, { present, pollIntervalMs: 400 });
    await h.timers.advance(2000);
    expect(h.sent()).toHaveLength(0);
    const events: [number, boolean][] = [];
    const stop = h.transport.onSlotChange((slot, p) => events.push([slot, p]));
    await h.timers.advance(400);
    expect(h.sent().map((m) => m[0])).toEqual([PC_to_RDR_GetSlotStatus]);
    expect(events).toEqual([]); // still present, as seen when opening
    present[0] = false;
    await h.timers.advance(400);
    expect(events).toEqual([[0, false]]);
    stop();
    const count = h.sent().length;
    await h.timers.advance(2000);
    expect(h.sent()).toHaveLength(count);
  });

  it('falls back to polling when the interrupt endpoint fails', async () => {
    const h = await openReader(GEMPC_TWIN, { pollIntervalMs: 400 });
    const events: [number, boolean][] = [];
    h.transport.onSlotChange((slot, p) => events.push([slot, p]));
    h.fake.queueIn(3, new DOMException('A transfer error has occurred.', 'NetworkError'));
    await flush();
    await h.timers.advance(400);
    expect(h.sent().map((m) => m[0])).toEqual([PC_to_RDR_GetSlotStatus]);
    expect(h.logs).toContainEqual(['warn', expect.stringMatching(/polling slot status instead/)]);
  });
});

describe('several slots', () => {
  it('routes responses by bSlot when slots may be busy together', async () => {
    const h = await openReader(SCR331_DI, { info: infoOf(SCR331_DI, { bMaxCCIDBusySlots: 2 }) });
    const a = track(h.transport.command(0, xfr(0, [0xa]), 1000));
    const b = track(h.transport.command(1, xfr(1, [0xb]), 1000));
    await flush();
    const [m0, m1] = h.sent();
    expect([m0![5], m1![5]]).toEqual([0, 1]);
    h.fake.reply(dataBlock(1, m1![6]!, [0xbb])); // slot 1 answers first
    h.fake.reply(dataBlock(0, m0![6]!, [0xaa]));
    await flush();
    expect(Array.from(a.value!.data)).toEqual([0xaa]);
    expect(Array.from(b.value!.data)).toEqual([0xbb]);
  });

  it('keeps to bMaxCCIDBusySlots = 1: the second slot waits for the first', async () => {
    const h = await openReader(SCR331_DI);
    track(h.transport.command(0, xfr(0, [0xa]), 1000));
    const b = track(h.transport.command(1, xfr(1, [0xb]), 1000));
    await flush();
    expect(h.sent()).toHaveLength(1);
    h.fake.reply(dataBlock(0, h.sent()[0]![6]!));
    await flush();
    expect(h.sent()).toHaveLength(2);
    expect(h.sent()[1]![5]).toBe(1);
    h.fake.reply(dataBlock(1, h.sent()[1]![6]!));
    await flush();
    expect(b.done).toBe(true);
  });

  it('runs commands to one slot one at a time, in call order', async () => {
    const h = await openReader(SCR331_DI, { info: infoOf(SCR331_DI, { bMaxCCIDBusySlots: 2 }) });
    const first = track(h.transport.command(0, xfr(0, [1]), 1000));
    const second = track(h.transport.command(0, xfr(0, [2]), 1000));
    await flush();
    expect(h.sent()).toHaveLength(1);
    h.fake.reply(dataBlock(0, h.sent()[0]![6]!, [1]));
    await flush();
    expect(first.done).toBe(true);
    expect(h.sent()).toHaveLength(2);
    expect(h.sent()[1]![10]).toBe(2);
    h.fake.reply(dataBlock(0, h.sent()[1]![6]!, [2]));
    await flush();
    expect(Array.from(second.value!.data)).toEqual([2]);
  });
});

describe('removal and close', () => {
  it('markRemoved rejects the pending and queued commands and every later one with IFD_NO_SUCH_DEVICE', async () => {
    const h = await openReader();
    const inFlight = track(h.transport.command(0, xfr(0, [1]), 60_000));
    const queued = track(h.transport.command(0, xfr(0, [2]), 60_000));
    await flush();
    h.transport.markRemoved();
    await flush();
    for (const p of [inFlight, queued]) {
      expect(p.error).toBeInstanceOf(DriverError);
      expect((p.error as DriverError).code).toBe(IFD.NO_SUCH_DEVICE);
      expect((p.error as DriverError).message).toMatch(/removed/);
    }
    await expect(h.transport.command(0, getStatus(0), 1000)).rejects.toMatchObject({ code: IFD.NO_SUCH_DEVICE });
    expect(h.transport.state).toBe('removed');
    expect(h.timers.pendingCount).toBe(0);
  });

  it('a transfer failing with NotFoundError (unplugged) fails everything the same way', async () => {
    const h = await openReader(SCR331_DI, { info: infoOf(SCR331_DI, { bMaxCCIDBusySlots: 2 }) });
    const a = track(h.transport.command(0, xfr(0, [1]), 60_000));
    const b = track(h.transport.command(1, xfr(1, [1]), 60_000));
    await flush();
    h.fake.disconnect();
    await flush();
    expect((a.error as DriverError).code).toBe(IFD.NO_SUCH_DEVICE);
    expect((b.error as DriverError).code).toBe(IFD.NO_SUCH_DEVICE);
    expect(h.transport.state).toBe('removed');
  });

  it('a write to an unplugged reader fails with IFD_NO_SUCH_DEVICE', async () => {
    const h = await openReader(RUTOKEN_ECP);
    h.fake.disconnected = true;
    await expect(h.transport.command(0, xfr(0, [1]), 1000)).rejects.toMatchObject({ code: IFD.NO_SUCH_DEVICE });
    await expect(h.transport.command(0, xfr(0, [1]), 1000)).rejects.toMatchObject({ code: IFD.NO_SUCH_DEVICE });
  });

  it('close releases the interface, closes the device and rejects pending calls', async () => {
    const h = await openReader();
    const p = track(h.transport.command(0, xfr(0, [1]), 60_000));
    await flush();
    await h.transport.close();
    await flush();
    expect((p.error as DriverError).code).toBe(IFD.NO_SUCH_DEVICE);
    expect((p.error as DriverError).message).toMatch(/closed/);
    expect(h.fake.calls.slice(-2)).toEqual(['releaseInterface 0', 'close']);
    expect(h.transport.state).toBe('closed');
    expect(h.fake.isReading(2)).toBe(false);
    expect(h.fake.isReading(3)).toBe(false);
    await expect(h.transport.command(0, getStatus(0), 1000)).rejects.toMatchObject({ code: IFD.NO_SUCH_DEVICE });
    await h.transport.close(); // twice is harmless
  });

  it('a late response after removal is never delivered', async () => {
    const h = await openReader();
    const p = track(h.transport.command(0, (seq) => encodeIccPowerOn(0, seq, 0), 60_000));
    await flush();
    const seq = h.sent()[0]![6]!;
    expect(h.sent()[0]![0]).toBe(PC_to_RDR_IccPowerOn);
    h.transport.markRemoved();
    h.fake.reply(dataBlock(0, seq, [0x3b]));
    await flush();
    expect((p.error as DriverError).code).toBe(IFD.NO_SUCH_DEVICE);
  });
});
