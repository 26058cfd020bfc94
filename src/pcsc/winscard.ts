/**
 * The server side of the SCard* functions (winscard.c), over the readers of a ReaderFactory. Each function makes
 * pcscd's checks in pcscd's order and returns, or throws the PcscError pcscd's return value would be. Card handles
 * are looked up in the readers' handle lists (RFReaderInfoById): a handle in none → SCARD_E_INVALID_VALUE; the client
 * layer (daemon.ts) checks ownership (SCARD_E_INVALID_HANDLE) and retries on SCARD_E_SHARING_VIOLATION where the
 * client library does.
 */
import { IFD } from '../ifd/errors.js';
import {
  MAX_ATR_SIZE,
  PCSC_MAX_READER_HANDLES,
  SCARD_ABSENT,
  SCARD_ATTR_DEVICE_FRIENDLY_NAME_A,
  SCARD_ATTR_DEVICE_SYSTEM_NAME_A,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_SMARTCARD,
  SCARD_E_PROTO_MISMATCH,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_SHARING_VIOLATION,
  SCARD_E_UNKNOWN_READER,
  SCARD_E_UNSUPPORTED_FEATURE,
  SCARD_EJECT_CARD,
  SCARD_F_INTERNAL_ERROR,
  SCARD_LEAVE_CARD,
  SCARD_NEGOTIABLE,
  SCARD_POWERED,
  SCARD_PRESENT,
  SCARD_PROTOCOL_ANY_OLD,
  SCARD_PROTOCOL_RAW,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_PROTOCOL_UNDEFINED,
  SCARD_RESET_CARD,
  SCARD_S_SUCCESS,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_SWALLOWED,
  SCARD_UNPOWER_CARD,
  SCARD_W_REMOVED_CARD,
  SCARD_W_UNPOWERED_CARD,
  SCARD_W_UNRESPONSIVE_CARD,
} from './constants.js';
import { PcscError } from './errors.js';
import type { HandleAllocator } from './handles.js';
import {
  SET_PROTOCOL_PPS_FAILED,
  SET_PROTOCOL_WRONG_ARGUMENT,
  chooseProtocol,
  decodeAtrProtocols,
} from './protocol.js';
import type { ReaderFactory } from './reader-factory.js';
import type { ReaderSlot } from './reader-slot.js';
import { SHARING_EXCLUSIVE, SHARING_LAST, SHARING_NONE } from './status-change.js';
import { hexNumber } from '../util/hex.js';

const SHARE_NAMES: Record<number, string> = {
  1: 'SCARD_SHARE_EXCLUSIVE',
  2: 'SCARD_SHARE_SHARED',
  3: 'SCARD_SHARE_DIRECT',
};

function fail(code: number, detail: string): never {
  throw new PcscError(code, detail);
}

/** The SCARD_E_SHARING_VIOLATION detail of every call another handle's transaction blocks (one text, nine places). */
function heldElsewhere(reader: string): string {
  return `another handle holds a transaction on "${reader}"`;
}

function check(code: number, detail: string): void {
  if (code !== SCARD_S_SUCCESS) fail(code, detail);
}

const hex = (n: number): string => `0x${hexNumber(n >>> 0, 1)}`;

export interface StatusResult {
  szReaderName: string;
  dwState: number;
  dwProtocol: number;
  atr: Uint8Array;
}

export class Winscard {
  constructor(
    private readonly readers: ReaderFactory,
    private readonly ids: HandleAllocator,
    private readonly log: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void,
  ) {}

  /** RFReaderInfoById. */
  slotOf(hCard: number): ReaderSlot {
    const slot = this.readers.byHandle(hCard);
    if (slot === undefined)
      fail(SCARD_E_INVALID_VALUE, `card handle ${hex(hCard)} belongs to no reader (was the reader removed?)`);
    return slot;
  }

  /** The wait pcscd does with 100 ms polls (`while (rContext->hLockId != 0)`), as an event-driven wait. */
  async #waitForLockRelease(slot: ReaderSlot, until: () => boolean): Promise<void> {
    while (!until() && !slot.removed) {
      await slot.changes.wait().promise;
    }
    if (slot.removed)
      fail(SCARD_E_READER_UNAVAILABLE, `reader "${slot.name}" was removed while waiting for its transaction to end`);
  }

  /** The protocol part of SCardConnect / SCardReconnect. */
  async #negotiate(slot: ReaderSlot, shareMode: number, preferred: number): Promise<void> {
    if (preferred & SCARD_PROTOCOL_RAW) {
      slot.cardProtocol = SCARD_PROTOCOL_RAW;
      return;
    }
    if (shareMode === SCARD_SHARE_DIRECT) return;
    await slot.negotiation.run(() => this.#negotiateLocked(slot, preferred));
  }

  async #negotiateLocked(slot: ReaderSlot, preferred: number): Promise<void> {
    if (slot.cardProtocol === SCARD_PROTOCOL_UNDEFINED) {
      const atr = decodeAtrProtocols(slot.atr);
      const wanted = preferred & SCARD_PROTOCOL_ANY_OLD ? SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1 : preferred;
      const ret = await chooseProtocol(wanted, atr, (protocol) => slot.ifd.setProtocol(protocol), IFD);
      if (ret === SET_PROTOCOL_PPS_FAILED)
        fail(
          SCARD_W_UNRESPONSIVE_CARD,
          `PPS failed on "${slot.name}": the card does not answer in the protocol asked; try another protocol or reset the card`,
        );
      if (ret === SET_PROTOCOL_WRONG_ARGUMENT) {
        fail(
          SCARD_E_PROTO_MISMATCH,
          `the card in "${slot.name}" offers protocols ${hex(atr.available)}, none of the requested ${hex(preferred)}`,
        );
      }
      slot.cardProtocol = ret;
    } else if (!(preferred & slot.cardProtocol)) {
      fail(
        SCARD_E_PROTO_MISMATCH,
        `the card in "${slot.name}" already runs protocol ${hex(slot.cardProtocol)} (negotiated by another connection); it changes only after a reset or power-off`,
      );
    }
  }

  /** Apply a power disposition the way Reconnect / EndTransaction do (IFD_RESET, or power down then up). */
  async #repower(slot: ReaderSlot, disposition: number): Promise<{ ok: boolean; code: number; detail: string }> {
    // Under the negotiation lock: a Connect must not read the old protocol while the card is being reset.
    return slot.negotiation.run(() => this.#repowerLocked(slot, disposition));
  }

  async #repowerLocked(slot: ReaderSlot, disposition: number): Promise<{ ok: boolean; code: number; detail: string }> {
    let r;
    if (disposition === SCARD_RESET_CARD) r = await slot.ifd.power('reset');
    else {
      await slot.ifd.power('down');
      r = await slot.ifd.power('up');
    }
    slot.cardProtocol = SCARD_PROTOCOL_UNDEFINED;
    if (r.ok) {
      slot.atr = r.value;
      slot.readerState = SCARD_PRESENT | SCARD_POWERED | SCARD_NEGOTIABLE;
      return { ok: true, code: SCARD_S_SUCCESS, detail: '' };
    }
    slot.atr = new Uint8Array(0);
    slot.readerState = r.code === SCARD_W_REMOVED_CARD ? SCARD_ABSENT : SCARD_PRESENT | SCARD_SWALLOWED;
    return { ok: false, code: r.code, detail: r.detail };
  }

  // -----------------------------------------------------------------------------------------------------------------

  /** winscard.c SCardConnect. */
  async connect(
    szReader: string,
    shareMode: number,
    preferred: number,
  ): Promise<{ hCard: number; dwActiveProtocol: number; slot: ReaderSlot }> {
    const slot = this.readers.byName(szReader);
    if (slot === undefined) return this.#connect(szReader, shareMode, preferred);
    slot.connecting += 1;
    try {
      return await this.#connect(szReader, shareMode, preferred);
    } finally {
      slot.connectionSettled();
    }
  }

  async #connect(
    szReader: string,
    shareMode: number,
    preferred: number,
  ): Promise<{ hCard: number; dwActiveProtocol: number; slot: ReaderSlot }> {
    if (
      shareMode !== SCARD_SHARE_DIRECT &&
      !(preferred & (SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_RAW | SCARD_PROTOCOL_ANY_OLD))
    ) {
      fail(
        SCARD_E_PROTO_MISMATCH,
        `no usable protocol requested (${hex(preferred)}): ask for SCARD_PROTOCOL_T0, _T1 or _RAW`,
      );
    }
    if (shareMode !== SCARD_SHARE_EXCLUSIVE && shareMode !== SCARD_SHARE_SHARED && shareMode !== SCARD_SHARE_DIRECT) {
      fail(
        SCARD_E_INVALID_VALUE,
        `share mode ${shareMode} is none of SCARD_SHARE_EXCLUSIVE (1), _SHARED (2), _DIRECT (3)`,
      );
    }
    const slot = this.readers.byName(szReader);
    if (slot === undefined)
      fail(SCARD_E_UNKNOWN_READER, `no reader named "${szReader}"; SCardListReaders gives the names`);
    check(slot.checkReaderStatus(), `reader "${szReader}" is in error`);
    if (slot.contexts === SHARING_EXCLUSIVE) {
      fail(SCARD_E_SHARING_VIOLATION, `"${szReader}" is connected exclusively by another handle`);
    }
    if (slot.lockId !== 0) {
      this.log('info', `${szReader}: waiting for the transaction of another handle to end`);
      await this.#waitForLockRelease(slot, () => slot.lockId === 0);
    }
    if (shareMode !== SCARD_SHARE_DIRECT) {
      if (!(slot.readerState & SCARD_PRESENT))
        fail(
          SCARD_E_NO_SMARTCARD,
          `no card in "${szReader}" (connect with SCARD_SHARE_DIRECT to talk to the reader alone)`,
        );
      if (slot.powerState === 'unpowered') {
        // The card was powered off after its grace period (or by Disconnect(SCARD_UNPOWER_CARD)): power it up again.
        const r = await slot.ifd.power('up');
        if (r.ok) {
          slot.atr = r.value;
          slot.readerState = SCARD_PRESENT | SCARD_POWERED | SCARD_NEGOTIABLE;
        } else {
          slot.atr = new Uint8Array(0);
          this.log('error', `${szReader}: powering up the card failed: ${r.detail}`);
        }
      }
      if (!(slot.readerState & SCARD_POWERED))
        fail(
          SCARD_W_UNPOWERED_CARD,
          `the card in "${szReader}" is not powered (it gave no ATR); remove and reinsert it`,
        );
      slot.setPowerState('in-use');
    }
    await this.#negotiate(slot, shareMode, preferred);
    const dwActiveProtocol = slot.cardProtocol;

    const hCard = this.ids.allocate();
    if (shareMode === SCARD_SHARE_EXCLUSIVE) {
      if (slot.contexts === SHARING_NONE) {
        slot.contexts = SHARING_EXCLUSIVE;
        slot.lockSharing(hCard);
      } else {
        this.ids.release(hCard);
        fail(
          SCARD_E_SHARING_VIOLATION,
          `"${szReader}" is in use by ${slot.contexts} other handle(s): an exclusive connection needs it free`,
        );
      }
    } else {
      slot.contexts += 1;
    }
    if (slot.handles.size >= PCSC_MAX_READER_HANDLES) {
      if (slot.contexts === SHARING_EXCLUSIVE) {
        slot.contexts = SHARING_NONE;
        slot.unlockAllSharing(hCard);
      } else if (slot.contexts > SHARING_NONE) slot.contexts -= 1;
      this.ids.release(hCard);
      fail(
        SCARD_F_INTERNAL_ERROR,
        `"${szReader}" already has ${PCSC_MAX_READER_HANDLES} handles, pcscd's limit per reader`,
      );
    }
    slot.handles.set(hCard, { event: 'none' });
    slot.publishSharing();
    this.log(
      'debug',
      `${szReader}: handle ${hex(hCard)} connected ${SHARE_NAMES[shareMode] ?? shareMode}, protocol ${dwActiveProtocol}`,
    );
    return { hCard, dwActiveProtocol, slot };
  }

  /** winscard.c SCardReconnect (one attempt: SCARD_E_SHARING_VIOLATION is retried by the client layer). */
  async reconnect(hCard: number, shareMode: number, preferred: number, initialization: number): Promise<number> {
    const slot = this.readers.byHandle(hCard);
    if (slot === undefined) return this.#reconnect(hCard, shareMode, preferred, initialization);
    slot.connecting += 1;
    try {
      return await this.#reconnect(hCard, shareMode, preferred, initialization);
    } finally {
      slot.connectionSettled();
    }
  }

  async #reconnect(hCard: number, shareMode: number, preferred: number, initialization: number): Promise<number> {
    if (
      initialization !== SCARD_LEAVE_CARD &&
      initialization !== SCARD_RESET_CARD &&
      initialization !== SCARD_UNPOWER_CARD
    ) {
      fail(
        SCARD_E_INVALID_VALUE,
        `initialization ${initialization} is none of SCARD_LEAVE_CARD, SCARD_RESET_CARD, SCARD_UNPOWER_CARD`,
      );
    }
    if (shareMode !== SCARD_SHARE_SHARED && shareMode !== SCARD_SHARE_EXCLUSIVE && shareMode !== SCARD_SHARE_DIRECT) {
      fail(
        SCARD_E_INVALID_VALUE,
        `share mode ${shareMode} is none of SCARD_SHARE_EXCLUSIVE (1), _SHARED (2), _DIRECT (3)`,
      );
    }
    if (
      shareMode !== SCARD_SHARE_DIRECT &&
      !(preferred & (SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_RAW | SCARD_PROTOCOL_ANY_OLD))
    ) {
      fail(SCARD_E_PROTO_MISMATCH, `no usable protocol requested (${hex(preferred)})`);
    }
    const slot = this.slotOf(hCard);
    check(slot.checkReaderStatus(), `reader "${slot.name}" is in error`);
    check(slot.checkSharing(hCard), heldElsewhere(slot.name));
    if (initialization === SCARD_RESET_CARD || initialization === SCARD_UNPOWER_CARD) {
      slot.setEventState('reset');
      const r = await this.#repower(slot, initialization);
      if (!r.ok) {
        if (r.code === SCARD_W_REMOVED_CARD) fail(SCARD_E_NO_SMARTCARD, `no card in "${slot.name}" to reset`);
        fail(SCARD_W_UNRESPONSIVE_CARD, `the card in "${slot.name}" did not answer the reset: ${r.detail}`);
      }
    } else {
      if (slot.readerState & SCARD_ABSENT) fail(SCARD_E_NO_SMARTCARD, `no card in "${slot.name}"`);
      if (slot.readerState & SCARD_PRESENT && slot.readerState & SCARD_SWALLOWED) {
        fail(SCARD_W_UNRESPONSIVE_CARD, `the card in "${slot.name}" is mute`);
      }
    }
    await this.#negotiate(slot, shareMode, preferred);
    if (!(preferred & SCARD_PROTOCOL_RAW) && shareMode !== SCARD_SHARE_DIRECT) slot.setPowerState('in-use');
    const dwActiveProtocol = slot.cardProtocol;

    if (shareMode === SCARD_SHARE_EXCLUSIVE) {
      if (slot.contexts !== SHARING_EXCLUSIVE) {
        if (slot.contexts === SHARING_LAST) {
          slot.contexts = SHARING_EXCLUSIVE;
          slot.lockSharing(hCard);
        } else {
          fail(SCARD_E_SHARING_VIOLATION, `"${slot.name}" has other handles: this one cannot become exclusive`);
        }
      }
    } else if (slot.contexts === SHARING_EXCLUSIVE) {
      slot.unlockSharing(hCard);
      slot.contexts = SHARING_LAST;
    }
    slot.clearEventState(hCard);
    slot.publishSharing();
    return dwActiveProtocol;
  }

  /** winscard.c SCardDisconnect. Returns without error when the handle's reader is gone. */
  async disconnect(hCard: number, disposition: number): Promise<void> {
    if (
      disposition !== SCARD_LEAVE_CARD &&
      disposition !== SCARD_UNPOWER_CARD &&
      disposition !== SCARD_RESET_CARD &&
      disposition !== SCARD_EJECT_CARD
    ) {
      fail(
        SCARD_E_INVALID_VALUE,
        `disposition ${disposition} is none of SCARD_LEAVE_CARD, _RESET_CARD, _UNPOWER_CARD, _EJECT_CARD`,
      );
    }
    const slot = this.readers.byHandle(hCard);
    if (slot === undefined || slot.removed) {
      // winscard.c: "ignore reader removal"
      if (slot !== undefined) {
        slot.handles.delete(hCard);
        this.readers.forgetIfUnused(slot);
      }
      this.ids.release(hCard);
      return;
    }
    if (disposition !== SCARD_LEAVE_CARD && slot.lockId !== 0 && slot.lockId !== hCard) {
      await this.#waitForLockRelease(slot, () => slot.lockId === 0).catch(() => undefined);
    }
    const rv = slot.unlockAllSharing(hCard);
    if (rv === SCARD_E_SHARING_VIOLATION && disposition !== SCARD_LEAVE_CARD) {
      fail(SCARD_E_SHARING_VIOLATION, heldElsewhere(slot.name));
    }
    if (disposition === SCARD_RESET_CARD || disposition === SCARD_UNPOWER_CARD) {
      slot.setEventState('reset');
      await slot.negotiation.run(() => this.#disposeLocked(slot, disposition));
    } else if (disposition === SCARD_EJECT_CARD) {
      // pcscd sends a CT-BCS "eject ICC" through IFDControl_v2, which fails with SCARD_E_UNSUPPORTED_FEATURE for
      // v3 drivers; SCardDisconnect logs that and still returns SCARD_S_SUCCESS: the card is left as it is.
      this.log('info', `${slot.name}: SCARD_EJECT_CARD: the reader cannot eject; the card is left as it is`);
    }
    slot.handles.delete(hCard);
    this.ids.release(hCard);
    if (slot.contexts === SHARING_EXCLUSIVE) slot.contexts = SHARING_NONE;
    else slot.contexts = Math.max(0, slot.contexts - 1);
    if (slot.contexts === SHARING_NONE) slot.enterGracePeriod();
    slot.publishSharing();
  }

  /** SCardDisconnect's RESET / UNPOWER, under the negotiation lock. */
  async #disposeLocked(slot: ReaderSlot, disposition: number): Promise<void> {
    {
      if (disposition === SCARD_RESET_CARD) {
        const r = await slot.ifd.power('reset');
        slot.cardProtocol = SCARD_PROTOCOL_UNDEFINED;
        if (r.ok) {
          slot.atr = r.value;
          slot.readerState = SCARD_PRESENT | SCARD_POWERED | SCARD_NEGOTIABLE;
        } else {
          slot.atr = new Uint8Array(0);
          slot.readerState = r.code === SCARD_W_REMOVED_CARD ? SCARD_ABSENT : SCARD_PRESENT | SCARD_SWALLOWED;
        }
      } else {
        const r = await slot.ifd.power('down');
        slot.setPowerState('unpowered');
        slot.cardProtocol = SCARD_PROTOCOL_UNDEFINED;
        if (r.ok) slot.readerState = SCARD_PRESENT;
        else slot.readerState = r.code === SCARD_W_REMOVED_CARD ? SCARD_ABSENT : SCARD_PRESENT | SCARD_SWALLOWED;
      }
    }
  }

  /** winscard.c SCardBeginTransaction (one attempt). */
  beginTransaction(hCard: number): void {
    const slot = this.slotOf(hCard);
    check(slot.checkReaderStatus(), `reader "${slot.name}" is in error`);
    this.#checkEvent(slot, hCard);
    check(slot.lockSharing(hCard), heldElsewhere(slot.name));
  }

  #checkEvent(slot: ReaderSlot, hCard: number): void {
    const rv = slot.checkEventState(hCard);
    if (rv !== SCARD_S_SUCCESS) {
      fail(
        rv,
        `the card in "${slot.name}" was ${rv === SCARD_W_REMOVED_CARD ? 'removed' : 'reset'} since this handle last used it; SCardReconnect to go on`,
      );
    }
  }

  /** winscard.c SCardEndTransaction: the disposition is checked before the handle lookup. */
  async endTransaction(hCard: number, disposition: number): Promise<void> {
    if (
      disposition !== SCARD_LEAVE_CARD &&
      disposition !== SCARD_UNPOWER_CARD &&
      disposition !== SCARD_RESET_CARD &&
      disposition !== SCARD_EJECT_CARD
    ) {
      fail(
        SCARD_E_INVALID_VALUE,
        `disposition ${disposition} is none of SCARD_LEAVE_CARD, _RESET_CARD, _UNPOWER_CARD, _EJECT_CARD`,
      );
    }
    const slot = this.slotOf(hCard);
    this.#checkEvent(slot, hCard);
    if (disposition !== SCARD_LEAVE_CARD && slot.lockId !== 0 && slot.lockId !== hCard) {
      fail(SCARD_E_SHARING_VIOLATION, `${heldElsewhere(slot.name)}: it cannot be ended with a disposition`);
    }
    let rv: number = SCARD_S_SUCCESS;
    let detail = '';
    if (disposition === SCARD_RESET_CARD || disposition === SCARD_UNPOWER_CARD) {
      const r = await this.#repower(slot, disposition);
      slot.setEventState('reset');
      if (!r.ok) {
        rv = r.code;
        detail = r.detail;
      }
    } else if (disposition === SCARD_EJECT_CARD) {
      // winscard.c sends the CT-BCS "eject ICC" through IFDControl_v2, which answers SCARD_E_UNSUPPORTED_FEATURE for
      // any driver newer than IFD handler v2 (libccid is v3, and so are our drivers). pcscd keeps that code, still
      // releases the lock below, and the NOT_TRANSACTED of a caller without the lock does not replace it.
      rv = SCARD_E_UNSUPPORTED_FEATURE;
      detail =
        `"${slot.name}" cannot eject the card (pcscd ejects only through IFD handler v2 drivers); ` +
        'the transaction is ended and the card left as it is';
    }
    const rv2 = slot.unlockSharing(hCard);
    if (rv === SCARD_S_SUCCESS) {
      rv = rv2;
      detail = `this handle holds no transaction on "${slot.name}"`;
    }
    check(rv, detail);
  }

  /** winscard.c SCardStatus (one attempt). The caller gives the reader name recorded at connection. */
  status(hCard: number, readerName: string): StatusResult {
    const slot = this.slotOf(hCard);
    check(slot.checkSharing(hCard), heldElsewhere(slot.name));
    if (slot.atr.length > MAX_ATR_SIZE) fail(SCARD_F_INTERNAL_ERROR, `ATR of ${slot.atr.length} bytes`);
    this.#checkEvent(slot, hCard);
    check(slot.checkReaderStatus(), `reader "${slot.name}" is in error`);
    return {
      szReaderName: readerName,
      dwState: ((slot.eventCounter << 16) | slot.readerState) >>> 0,
      dwProtocol: slot.cardProtocol,
      atr: slot.atr.slice(),
    };
  }

  /** winscard.c SCardTransmit (one attempt). `recvLength`: the caller's buffer. */
  async transmit(hCard: number, pciProtocol: number, apdu: Uint8Array, recvLength: number): Promise<Uint8Array> {
    // winscard.c's `dwRxLength < 2` check never fires through pcscd: winscard_svc.c passes its own 64 KiB buffer and
    // compares the response with the client's buffer afterwards (below).
    const slot = this.slotOf(hCard);
    check(slot.checkSharing(hCard), heldElsewhere(slot.name));
    check(slot.checkReaderStatus(), `reader "${slot.name}" is in error`);
    this.#checkEvent(slot, hCard);
    if (pciProtocol !== SCARD_PROTOCOL_RAW && slot.readerState & SCARD_ABSENT)
      fail(SCARD_E_NO_SMARTCARD, `no card in "${slot.name}"`);
    if (
      pciProtocol !== SCARD_PROTOCOL_RAW &&
      pciProtocol !== SCARD_PROTOCOL_ANY_OLD &&
      pciProtocol !== slot.cardProtocol
    ) {
      fail(
        SCARD_E_PROTO_MISMATCH,
        `the PCI says protocol ${hex(pciProtocol)} but the card runs ${hex(slot.cardProtocol)}: pass the dwActiveProtocol SCardConnect returned`,
      );
    }
    const r = await slot.ifd.transmit(apdu);
    if (!r.ok) {
      if (r.code === SCARD_E_NO_SMARTCARD) {
        // The driver saw the card gone during the exchange (IFD_ICC_NOT_PRESENT): forget it before the event handler.
        slot.atr = new Uint8Array(0);
        slot.cardProtocol = SCARD_PROTOCOL_UNDEFINED;
        slot.readerState = SCARD_ABSENT;
      }
      fail(r.code, r.detail);
    }
    const response = r.value;
    if (response.length > recvLength) {
      throw new PcscError(
        SCARD_E_INSUFFICIENT_BUFFER,
        `the response has ${response.length} bytes, the buffer ${recvLength}; the APDU was executed`,
        {
          needed: response.length,
        },
      );
    }
    return response;
  }

  /** winscard.c SCardControl + winscard_svc.c's receive-buffer check. */
  async control(hCard: number, code: number, input: Uint8Array, recvLength: number | undefined): Promise<Uint8Array> {
    const slot = this.slotOf(hCard);
    check(slot.checkSharing(hCard), heldElsewhere(slot.name));
    // winscard.c's "no input → SCARD_E_INVALID_PARAMETER" applies to IFD handler v2 drivers only; a v3 driver (libccid,
    // and every IfdSlot) gets the empty input (CM_IOCTL_GET_FEATURE_REQUEST is usually sent without any).
    check(slot.checkReaderStatus(), `reader "${slot.name}" is in error`);
    const r = await slot.ifd.control(code, input);
    if (!r.ok) fail(r.code, r.detail);
    const output = r.value;
    if (recvLength !== undefined && output.length > recvLength) {
      throw new PcscError(
        SCARD_E_INSUFFICIENT_BUFFER,
        `the reader answered ${output.length} bytes, the buffer holds ${recvLength}`,
        {
          needed: output.length,
        },
      );
    }
    return output;
  }

  /** winscard.c SCardGetAttrib, with pcscd's FRIENDLY_NAME / SYSTEM_NAME fallback (ANSI variants: pcscd is built without UNICODE). */
  getAttrib(hCard: number, attrId: number, bufferLength: number | undefined): Uint8Array {
    const slot = this.slotOf(hCard);
    check(slot.checkSharing(hCard), heldElsewhere(slot.name));
    check(slot.checkReaderStatus(), `reader "${slot.name}" is in error`);
    this.#checkEvent(slot, hCard);
    const r = slot.ifd.getCapabilities(attrId);
    if (!r.ok) fail(r.code, r.detail);
    let value = r.value;
    if (value === undefined) {
      const id = attrId >>> 0;
      if (id === SCARD_ATTR_DEVICE_FRIENDLY_NAME_A || id === SCARD_ATTR_DEVICE_SYSTEM_NAME_A) {
        const name = new TextEncoder().encode(slot.name);
        value = new Uint8Array(name.length + 1);
        value.set(name);
      } else {
        fail(SCARD_E_UNSUPPORTED_FEATURE, `"${slot.name}" does not know attribute ${hex(attrId)}`);
      }
    }
    if (bufferLength !== undefined && value.length > bufferLength) {
      throw new PcscError(
        SCARD_E_INSUFFICIENT_BUFFER,
        `attribute ${hex(attrId)} has ${value.length} bytes, the buffer ${bufferLength}`,
        {
          needed: value.length,
        },
      );
    }
    return value.slice();
  }

  /** winscard.c SCardSetAttrib. */
  async setAttrib(hCard: number, attrId: number, value: Uint8Array): Promise<void> {
    const slot = this.slotOf(hCard);
    check(slot.checkSharing(hCard), heldElsewhere(slot.name));
    check(slot.checkReaderStatus(), `reader "${slot.name}" is in error`);
    this.#checkEvent(slot, hCard);
    const r = await slot.ifd.setCapabilities(attrId, value);
    if (!r.ok) fail(r.code, r.detail);
  }
}
