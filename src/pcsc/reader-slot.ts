/**
 * One PC/SC reader: a slot of a driver's reader, with everything pcscd keeps in its READER_CONTEXT (readerfactory.h)
 * and publishes in READER_STATE: card state, ATR, negotiated protocol, event counter, sharing count, the transaction
 * lock (hLockId / LockCount), the card handles with their pending event (RDR_CLIHANDLES.dwEventStatus), and the power
 * state of the on-demand power-off (eventhandler.c). Card events come from the driver (IfdSlot.onCardEvent) and are
 * processed one at a time, like pcscd's per-reader event handler thread. Every driver call goes through the slot's
 * IfdWrapper (ifdwrapper.c), which serialises them like rContext->mMutex and maps driver failures to PC/SC codes.
 */
import type { IfdReader, IfdSlot } from '../ifd/ifd.js';
import {
  SCARD_ABSENT,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_SHARING_VIOLATION,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_NOT_TRANSACTED as NOT_TRANSACTED,
  SCARD_NEGOTIABLE,
  SCARD_POWERED,
  SCARD_PRESENT,
  SCARD_PROTOCOL_UNDEFINED,
  SCARD_S_SUCCESS,
  SCARD_SWALLOWED,
  SCARD_UNKNOWN,
  SCARD_W_REMOVED_CARD,
  SCARD_W_RESET_CARD,
} from './constants.js';
import { IfdWrapper } from './ifd-wrapper.js';
import { Notifier, SerialQueue } from './notifier.js';
import { SHARING_EXCLUSIVE, SHARING_NONE, type ReaderSnapshot } from './status-change.js';
import type { Timers } from './timers.js';

/** RDR_CLIHANDLES.dwEventStatus: 0, SCARD_RESET or SCARD_REMOVED. */
export type HandleEvent = 'none' | 'reset' | 'removed';

/** eventhandler.c POWER_STATE_*. */
export type PowerState = 'unpowered' | 'powered' | 'grace-period' | 'in-use';

export interface ReaderSlotHooks {
  /** EHSignalEventToClients: wake every GetStatusChange waiter. */
  signalClients(): void;
  powerOffGraceMs: number;
  /** The timers of the power-off grace (the daemon's, real by default). */
  timers: Timers;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

export class ReaderSlot {
  /** Set by the reader factory: the published READER_STATE fields. */
  readerState = SCARD_UNKNOWN;
  eventCounter = 0;
  atr: Uint8Array = new Uint8Array(0);
  cardProtocol = SCARD_PROTOCOL_UNDEFINED;
  /** rContext->contexts: -1 exclusive, else the number of handles. */
  contexts = SHARING_NONE;
  /** READER_STATE.readerSharing as last published. */
  readerSharing = SHARING_NONE;
  lockId = 0;
  lockCount = 0;
  readonly handles = new Map<number, { event: HandleEvent }>();
  powerState: PowerState = 'unpowered';
  removed = false;
  /** Listed (in ListReaders, GetStatusChange, by name and handle) once its initial card state is known. */
  published = false;
  /** Wakes callers waiting for the lock, the sharing or the card state to change (pcscd's 100 ms polls). */
  readonly changes = new Notifier();

  /** Held from "protocol not yet set" to "protocol set", as pcscd holds rContext->mMutex around PHSetProtocol. */
  readonly negotiation = new SerialQueue();
  /** Connect/Reconnect calls between marking the card in use and adding their handle: the power-off must wait. */
  connecting = 0;

  /** The only way to the driver's slot. */
  readonly ifd: IfdWrapper;
  readonly #eventQueue = new SerialQueue();
  /** The event handler's dwCurrentState. */
  #seen: 'present' | 'absent' | 'unknown' = 'unknown';
  #powerTimer: unknown;
  #unsubscribe: (() => void) | undefined;

  constructor(
    readonly name: string,
    readonly reader: IfdReader,
    slot: IfdSlot,
    /** The reader's index (the XX of its name). */
    readonly index: number,
    private readonly hooks: ReaderSlotHooks,
  ) {
    this.ifd = new IfdWrapper(slot, name, (level, message) => hooks.log(level, message));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Event handler (eventhandler.c EHStatusHandlerThread)

  /** Start the event handler: the initial card state (not counted as an event), then the driver's card events. */
  async start(): Promise<void> {
    this.#unsubscribe = this.ifd.onCardEvent((present) => {
      void this.#eventQueue.run(() => this.#cardEvent(present));
    });
    await this.#eventQueue.run(async () => {
      const status = await this.ifd.statusIcc();
      if (!status.ok) {
        this.hooks.log(
          'error',
          `${this.name}: cannot read the card presence (${status.detail}); reader marked unavailable`,
        );
        this.readerState = SCARD_UNKNOWN;
        this.#seen = 'unknown';
        return;
      }
      if (status.value) {
        await this.#powerUpInserted();
        this.#seen = 'present';
      } else {
        this.#setAbsent();
        this.#seen = 'absent';
      }
      this.readerSharing = this.contexts;
    });
    this.published = true;
    this.hooks.signalClients();
  }

  /**
   * One turn of EHStatusHandlerThread's loop, prompted by the driver's card event: IFDStatusICC first (a failure puts
   * the reader in error: SCARD_UNKNOWN, no ATR, no protocol), then the transition the driver reported. Leaving the
   * error state counts as an insertion or a removal, as in pcscd (dwCurrentState == SCARD_UNKNOWN).
   */
  async #cardEvent(present: boolean): Promise<void> {
    if (this.removed) return;
    const status = await this.ifd.statusIcc();
    if (!status.ok) {
      this.hooks.log('error', `${this.name}: the reader does not answer (${status.detail}): reader unavailable`);
      this.readerState = SCARD_UNKNOWN;
      this.atr = new Uint8Array(0);
      this.cardProtocol = SCARD_PROTOCOL_UNDEFINED;
      this.#seen = 'unknown';
      this.changes.notify();
      this.hooks.signalClients();
      return;
    }
    if (!present) {
      if (this.#seen === 'present' || this.#seen === 'unknown') {
        this.setEventState('removed');
        this.#setAbsent();
        this.#seen = 'absent';
        this.#countEvent();
        this.hooks.log('info', `${this.name}: card removed`);
        this.changes.notify();
        this.hooks.signalClients();
      }
      return;
    }
    if (this.#seen === 'absent' || this.#seen === 'unknown') {
      await this.#powerUpInserted();
      this.#seen = 'present';
      this.#countEvent();
      this.hooks.log(
        'info',
        `${this.name}: card inserted${this.readerState & SCARD_SWALLOWED ? ' (mute: no ATR)' : ''}`,
      );
      this.changes.notify();
      this.hooks.signalClients();
    }
  }

  #countEvent(): void {
    this.eventCounter = this.eventCounter >= 0xffff ? 0 : this.eventCounter + 1;
  }

  #setAbsent(): void {
    this.readerState = SCARD_ABSENT;
    this.atr = new Uint8Array(0);
    this.cardProtocol = SCARD_PROTOCOL_UNDEFINED;
  }

  /** Auto power-on at insertion (DISABLE_AUTO_POWER_ON unset). */
  async #powerUpInserted(): Promise<void> {
    const r = await this.ifd.power('up');
    this.cardProtocol = SCARD_PROTOCOL_UNDEFINED;
    if (r.ok) {
      this.atr = r.value;
      this.readerState = SCARD_PRESENT | SCARD_POWERED | SCARD_NEGOTIABLE;
      this.setPowerState('powered');
    } else {
      this.atr = new Uint8Array(0);
      this.readerState = SCARD_PRESENT | SCARD_SWALLOWED;
      this.setPowerState('unpowered');
      this.hooks.log('warn', `${this.name}: the card did not power up: ${r.detail}`);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // On-demand power-off (eventhandler.c, the end of the polling loop; RFSetPowerState)

  /**
   * POWER_STATE_POWERED arms the grace timer; when it fires and the card is still only "powered" (no SHARED or
   * EXCLUSIVE handle made it "in use"), the card is powered down and the protocol forgotten. The published reader
   * state is left as it is, as pcscd does: a later Connect powers the card up again.
   */
  setPowerState(state: PowerState): void {
    this.powerState = state;
    if (state === 'powered') this.#armPowerTimer();
  }

  /** A Connect/Reconnect ended: re-arm the power-off it held back, if the card is (again) unused. */
  connectionSettled(): void {
    this.connecting = Math.max(0, this.connecting - 1);
    if (this.connecting === 0 && this.powerState === 'powered') this.#armPowerTimer();
  }

  /** winscard.c SCardDisconnect, last handle gone: a powered card enters its grace period. */
  enterGracePeriod(): void {
    if (this.powerState === 'powered' || this.powerState === 'grace-period' || this.powerState === 'in-use') {
      this.setPowerState('powered');
    }
  }

  #armPowerTimer(): void {
    if (this.#powerTimer !== undefined) this.hooks.timers.clearTimeout(this.#powerTimer);
    this.#powerTimer = undefined;
    if (this.removed) return;
    const fire = (): void => {
      this.#powerTimer = undefined;
      if (this.removed || this.powerState !== 'powered') return;
      // pcscd's threads cannot power the card off between SCardConnect's "in use" and its handle being added (both
      // happen in one call); here they could interleave: a connection under way re-arms the timer when it ends.
      if (this.connecting > 0) return;
      this.powerState = 'unpowered';
      this.cardProtocol = SCARD_PROTOCOL_UNDEFINED;
      this.hooks.log('debug', `${this.name}: no handle uses the card: powering it down`);
      void this.ifd.power('down');
    };
    if (this.hooks.powerOffGraceMs <= 0) fire();
    else this.#powerTimer = this.hooks.timers.setTimeout(fire, this.hooks.powerOffGraceMs);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Handles and their pending events (readerfactory.c)

  /** RFSetReaderEventState: flag every handle; a removal also clears the lock. */
  setEventState(event: 'reset' | 'removed'): void {
    for (const h of this.handles.values()) h.event = event;
    if (event === 'removed') {
      this.lockId = 0;
      this.lockCount = 0;
      this.changes.notify();
    }
  }

  /** RFCheckReaderEventState. */
  checkEventState(hCard: number): number {
    const h = this.handles.get(hCard);
    if (h === undefined) return SCARD_E_INVALID_HANDLE;
    if (h.event === 'removed') return SCARD_W_REMOVED_CARD;
    if (h.event === 'reset') return SCARD_W_RESET_CARD;
    return SCARD_S_SUCCESS;
  }

  /** RFClearReaderEventState. */
  clearEventState(hCard: number): void {
    const h = this.handles.get(hCard);
    if (h !== undefined) h.event = 'none';
  }

  /** RFCheckReaderStatus: a reader in error is unavailable. */
  checkReaderStatus(): number {
    return this.readerState & SCARD_UNKNOWN ? SCARD_E_READER_UNAVAILABLE : SCARD_S_SUCCESS;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The transaction lock (readerfactory.c RFCheckSharing, RFLockSharing, RFUnlockSharing, RFUnlockAllSharing)

  checkSharing(hCard: number): number {
    return this.lockId === 0 || this.lockId === hCard ? SCARD_S_SUCCESS : SCARD_E_SHARING_VIOLATION;
  }

  lockSharing(hCard: number): number {
    const rv = this.checkSharing(hCard);
    if (rv === SCARD_S_SUCCESS) {
      this.lockCount += 1;
      this.lockId = hCard;
    }
    return rv;
  }

  unlockSharing(hCard: number): number {
    let rv = this.checkSharing(hCard);
    if (rv === SCARD_S_SUCCESS) {
      if (this.contexts === SHARING_EXCLUSIVE) {
        // An exclusive handle holds the lock implicitly (count 1): only the transactions above it can end.
        if (this.lockCount > 1) this.lockCount -= 1;
        else rv = NOT_TRANSACTED;
      } else if (this.lockCount > 0) {
        this.lockCount -= 1;
        if (this.lockCount === 0) this.lockId = 0;
      } else {
        rv = NOT_TRANSACTED;
      }
    }
    this.changes.notify();
    return rv;
  }

  unlockAllSharing(hCard: number): number {
    const rv = this.checkSharing(hCard);
    if (rv === SCARD_S_SUCCESS) {
      this.lockCount = 0;
      this.lockId = 0;
      this.changes.notify();
    }
    return rv;
  }

  /** `rContext->readerState->readerSharing = rContext->contexts`, and the event handler's notice of the change. */
  publishSharing(): void {
    if (this.readerSharing !== this.contexts) {
      this.readerSharing = this.contexts;
      this.hooks.signalClients();
    }
    this.changes.notify();
  }

  // ---------------------------------------------------------------------------------------------------------------

  snapshot(): ReaderSnapshot {
    return {
      name: this.name,
      eventCounter: this.eventCounter,
      readerState: this.readerState,
      readerSharing: this.readerSharing,
      atr: this.atr,
    };
  }

  /** The reader went away (RFRemoveReader): stop the event handler, wake every waiter so it sees the reader gone. */
  detach(): void {
    this.removed = true;
    this.readerState = SCARD_UNKNOWN;
    this.lockId = 0;
    this.lockCount = 0;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#powerTimer !== undefined) this.hooks.timers.clearTimeout(this.#powerTimer);
    this.#powerTimer = undefined;
    this.changes.notify();
  }
}
