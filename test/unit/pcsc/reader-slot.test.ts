/**
 * One PC/SC reader (READER_CONTEXT + eventhandler.c): the initial card state, card events and the event counter, the
 * reader-in-error state, the on-demand power-off on a manual clock, handle events and the transaction lock.
 */
import { describe, expect, it } from 'vitest';
import { IFD } from '../../../src/ifd/index.js';
import {
  SCARD_ABSENT,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_NOT_TRANSACTED,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_SHARING_VIOLATION,
  SCARD_NEGOTIABLE,
  SCARD_POWERED,
  SCARD_PRESENT,
  SCARD_PROTOCOL_T1,
  SCARD_PROTOCOL_UNDEFINED,
  SCARD_S_SUCCESS,
  SCARD_SWALLOWED,
  SCARD_UNKNOWN,
  SCARD_W_REMOVED_CARD,
  SCARD_W_RESET_CARD,
} from '../../../src/pcsc/constants.js';
import { ReaderSlot } from '../../../src/pcsc/reader-slot.js';
import { SHARING_EXCLUSIVE } from '../../../src/pcsc/status-change.js';
import { FakeReader, ManualClock, T1_ATR, flush } from './fake-ifd.js';

const NAME = 'Fake Reader 00 00';
const READY = SCARD_PRESENT | SCARD_POWERED | SCARD_NEGOTIABLE;

function setup(options: { graceMs?: number; present?: boolean } = {}) {
  const reader = new FakeReader();
  const driver = reader.slot0;
  driver.present = options.present ?? true;
  const clock = new ManualClock();
  const logs: string[] = [];
  let signals = 0;
  const slot = new ReaderSlot(NAME, reader, driver, 0, {
    signalClients: () => signals++,
    powerOffGraceMs: options.graceMs ?? 5000,
    timers: clock,
    log: (level, message) => logs.push(`${level} ${message}`),
  });
  return { reader, driver, clock, logs, slot, signals: () => signals };
}

describe('start: the initial card state', () => {
  it('powers an inserted card up, publishes the reader and wakes the waiters; not counted as an event', async () => {
    const { driver, slot, signals } = setup();
    expect(slot.published).toBe(false);
    await slot.start();
    expect(driver.calls).toEqual(['iccPresence', 'iccPresence', 'power up']);
    expect(slot.readerState).toBe(READY);
    expect(slot.atr).toEqual(T1_ATR);
    expect(slot.cardProtocol).toBe(SCARD_PROTOCOL_UNDEFINED);
    expect(slot.powerState).toBe('powered');
    expect(slot.eventCounter).toBe(0);
    expect(slot.published).toBe(true);
    expect(signals()).toBe(1);
    expect(slot.snapshot()).toEqual({ name: NAME, eventCounter: 0, readerState: READY, readerSharing: 0, atr: T1_ATR });
  });

  it('an empty reader is ABSENT and nothing is powered', async () => {
    const { driver, slot } = setup({ present: false });
    await slot.start();
    expect(driver.calls).toEqual(['iccPresence']);
    expect(slot.readerState).toBe(SCARD_ABSENT);
    expect(slot.atr).toEqual(new Uint8Array(0));
    expect(slot.powerState).toBe('unpowered');
  });

  it('a mute card (power up fails) is PRESENT | SWALLOWED, with the failure logged', async () => {
    const { driver, slot, logs } = setup();
    driver.fail.power = IFD.ERROR_POWER_ACTION;
    await slot.start();
    expect(slot.readerState).toBe(SCARD_PRESENT | SCARD_SWALLOWED);
    expect(slot.atr).toEqual(new Uint8Array(0));
    expect(slot.powerState).toBe('unpowered');
    expect(logs).toEqual([
      `warn ${NAME}: the card did not power up: power up failed: IFD_ERROR_POWER_ACTION: fake: power up`,
    ]);
  });

  it('a reader that cannot tell the presence is in error (SCARD_UNKNOWN): unavailable, still published', async () => {
    const { driver, slot, logs } = setup();
    driver.fail.presence = IFD.COMMUNICATION_ERROR;
    await slot.start();
    expect(slot.readerState).toBe(SCARD_UNKNOWN);
    expect(slot.checkReaderStatus()).toBe(SCARD_E_READER_UNAVAILABLE);
    expect(slot.published).toBe(true);
    expect(logs).toEqual([
      `error ${NAME}: cannot read the card presence (IFD_COMMUNICATION_ERROR: fake: presence); ` +
        'reader marked unavailable',
    ]);
  });
});

describe('card events (EHStatusHandlerThread)', () => {
  it('removal and insertion each count one event; removal flags the handles and drops the lock', async () => {
    const { driver, slot, signals } = setup();
    await slot.start();
    slot.handles.set(7, { event: 'none' });
    slot.lockSharing(7);
    driver.setCard(false);
    await flush();
    expect(slot.readerState).toBe(SCARD_ABSENT);
    expect(slot.eventCounter).toBe(1);
    expect(slot.checkEventState(7)).toBe(SCARD_W_REMOVED_CARD);
    expect(slot.lockId).toBe(0);
    expect(slot.lockCount).toBe(0);
    driver.setCard(true);
    await flush();
    expect(slot.readerState).toBe(READY);
    expect(slot.atr).toEqual(T1_ATR);
    expect(slot.eventCounter).toBe(2);
    expect(signals()).toBe(3);
  });

  it('a repeated notice of the same state counts nothing', async () => {
    const { driver, slot } = setup();
    await slot.start();
    driver.setCard(true);
    await flush();
    expect(slot.eventCounter).toBe(0);
    driver.setCard(false);
    driver.setCard(false);
    await flush();
    expect(slot.eventCounter).toBe(1);
  });

  it('a reader that stops answering goes into error; leaving the error counts as a transition', async () => {
    const { driver, slot, logs } = setup();
    await slot.start();
    driver.fail.presence = IFD.NO_SUCH_DEVICE;
    driver.setCard(true);
    await flush();
    expect(slot.readerState).toBe(SCARD_UNKNOWN);
    expect(slot.atr).toEqual(new Uint8Array(0));
    expect(logs.at(-1)).toBe(
      `error ${NAME}: the reader does not answer (IFD_NO_SUCH_DEVICE: fake: presence): reader unavailable`,
    );
    expect(slot.eventCounter).toBe(0);
    driver.fail.presence = undefined;
    driver.setCard(true);
    await flush();
    expect(slot.readerState).toBe(READY);
    expect(slot.eventCounter).toBe(1);
  });

  it('the counter wraps from 0xFFFF to 0', async () => {
    const { driver, slot } = setup({ present: false });
    await slot.start();
    slot.eventCounter = 0xffff;
    driver.setCard(true);
    await flush();
    expect(slot.eventCounter).toBe(0);
  });

  it('no event is processed after detach, and the driver listener is dropped', async () => {
    const { driver, slot } = setup();
    await slot.start();
    slot.detach();
    expect(driver.listenerCount).toBe(0);
    expect(slot.readerState).toBe(SCARD_UNKNOWN);
    expect(slot.removed).toBe(true);
  });
});

describe('the on-demand power-off (POWER_STATE_*), on a manual clock', () => {
  it('powers the card down once the grace period passes with no handle using it', async () => {
    const { driver, slot, clock, logs } = setup({ graceMs: 5000 });
    await slot.start();
    slot.cardProtocol = SCARD_PROTOCOL_T1;
    expect(clock.pending).toEqual([5000]);
    await clock.advance(4999);
    expect(driver.calls).not.toContain('power down');
    expect(slot.powerState).toBe('powered');
    await clock.advance(1);
    expect(driver.calls.at(-1)).toBe('power down');
    expect(slot.powerState).toBe('unpowered');
    expect(slot.cardProtocol).toBe(SCARD_PROTOCOL_UNDEFINED);
    // pcscd leaves the published state as it is: a later connect powers the card up again.
    expect(slot.readerState).toBe(READY);
    expect(logs).toContain(`debug ${NAME}: no handle uses the card: powering it down`);
    expect(clock.pending).toEqual([]);
  });

  it('a card in use is not powered down when the timer fires', async () => {
    const { driver, slot, clock } = setup({ graceMs: 100 });
    await slot.start();
    slot.setPowerState('in-use');
    await clock.advance(1000);
    expect(driver.calls).not.toContain('power down');
    expect(slot.powerState).toBe('in-use');
  });

  it('each re-arm restarts the grace period (one timer at a time)', async () => {
    const { driver, slot, clock } = setup({ graceMs: 100 });
    await slot.start();
    await clock.advance(60);
    slot.enterGracePeriod();
    expect(clock.pending).toEqual([100]);
    await clock.advance(60);
    expect(driver.calls).not.toContain('power down');
    await clock.advance(40);
    expect(driver.calls).toContain('power down');
  });

  it('waits for a connection under way, and re-arms when it settles', async () => {
    const { driver, slot, clock } = setup({ graceMs: 100 });
    await slot.start();
    slot.connecting = 1;
    await clock.advance(100);
    expect(driver.calls).not.toContain('power down');
    expect(slot.powerState).toBe('powered');
    slot.connectionSettled();
    expect(slot.connecting).toBe(0);
    expect(clock.pending).toEqual([100]);
    await clock.advance(100);
    expect(driver.calls).toContain('power down');
  });

  it('a grace of 0 powers down at once, without a timer', async () => {
    const { driver, slot, clock } = setup({ graceMs: 0 });
    await slot.start();
    await flush();
    expect(clock.pending).toEqual([]);
    expect(driver.calls.at(-1)).toBe('power down');
    expect(slot.powerState).toBe('unpowered');
  });

  it('detach cancels the timer', async () => {
    const { driver, slot, clock } = setup({ graceMs: 100 });
    await slot.start();
    slot.detach();
    expect(clock.pending).toEqual([]);
    await clock.advance(1000);
    expect(driver.calls).not.toContain('power down');
  });
});

describe('handle events (RFSetReaderEventState, RFCheckReaderEventState)', () => {
  it('flags every handle, reports the flag, and clears it per handle', () => {
    const { slot } = setup();
    slot.handles.set(1, { event: 'none' });
    slot.handles.set(2, { event: 'none' });
    expect(slot.checkEventState(1)).toBe(SCARD_S_SUCCESS);
    slot.setEventState('reset');
    expect(slot.checkEventState(1)).toBe(SCARD_W_RESET_CARD);
    slot.clearEventState(1);
    expect(slot.checkEventState(1)).toBe(SCARD_S_SUCCESS);
    expect(slot.checkEventState(2)).toBe(SCARD_W_RESET_CARD);
    expect(slot.checkEventState(3)).toBe(SCARD_E_INVALID_HANDLE);
  });
});

describe('the transaction lock (RFLockSharing, RFUnlockSharing)', () => {
  it('is taken by one handle, counted, and refused to others', () => {
    const { slot } = setup();
    expect(slot.lockSharing(1)).toBe(SCARD_S_SUCCESS);
    expect(slot.lockSharing(1)).toBe(SCARD_S_SUCCESS);
    expect(slot.lockCount).toBe(2);
    expect(slot.lockSharing(2)).toBe(SCARD_E_SHARING_VIOLATION);
    expect(slot.checkSharing(2)).toBe(SCARD_E_SHARING_VIOLATION);
    expect(slot.unlockSharing(2)).toBe(SCARD_E_SHARING_VIOLATION);
    expect(slot.unlockSharing(1)).toBe(SCARD_S_SUCCESS);
    expect(slot.lockId).toBe(1);
    expect(slot.unlockSharing(1)).toBe(SCARD_S_SUCCESS);
    expect(slot.lockId).toBe(0);
    expect(slot.unlockSharing(1)).toBe(SCARD_E_NOT_TRANSACTED);
  });

  it('an exclusive handle holds it implicitly: only the transactions above that can end', () => {
    const { slot } = setup();
    slot.contexts = SHARING_EXCLUSIVE;
    slot.lockSharing(1);
    expect(slot.unlockSharing(1)).toBe(SCARD_E_NOT_TRANSACTED);
    slot.lockSharing(1);
    expect(slot.unlockSharing(1)).toBe(SCARD_S_SUCCESS);
    expect(slot.lockCount).toBe(1);
    expect(slot.lockId).toBe(1);
  });

  it('unlockAllSharing drops the lock for its holder only', () => {
    const { slot } = setup();
    slot.lockSharing(1);
    slot.lockSharing(1);
    expect(slot.unlockAllSharing(2)).toBe(SCARD_E_SHARING_VIOLATION);
    expect(slot.lockCount).toBe(2);
    expect(slot.unlockAllSharing(1)).toBe(SCARD_S_SUCCESS);
    expect(slot.lockId).toBe(0);
    expect(slot.lockCount).toBe(0);
  });

  it('publishSharing wakes the clients only when the published sharing changes', () => {
    const { slot, signals } = setup();
    slot.publishSharing();
    expect(signals()).toBe(0);
    slot.contexts = 2;
    slot.publishSharing();
    expect(slot.readerSharing).toBe(2);
    expect(signals()).toBe(1);
    const before = slot.changes.generation;
    slot.publishSharing();
    expect(signals()).toBe(1);
    expect(slot.changes.generation).toBe(before + 1);
  });
});
