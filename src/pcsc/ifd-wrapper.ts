/**
 * The daemon's only gate to a driver: pcscd's ifdwrapper.c. Every call from the daemon into an `IfdSlot` or
 * `IfdReader` goes through here, and every driver failure (a `DriverError` with its IFD_* code, or anything else the
 * driver throws, taken as IFD_COMMUNICATION_ERROR) comes back as the PC/SC code pcscd returns for that call:
 *
 * - IFDStatusICC: IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE, other → SCARD_E_NOT_TRANSACTED;
 * - IFDPowerICC: no card → SCARD_W_REMOVED_CARD, IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE,
 *   other → SCARD_E_NOT_TRANSACTED;
 * - IFDSetPTS: the IFD code itself (prothandler.c PHSetProtocol decides what it means, see protocol.ts);
 * - IFDTransmit (SCardTransmit): IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE, IFD_ICC_NOT_PRESENT →
 *   SCARD_E_NO_SMARTCARD, other → SCARD_E_NOT_TRANSACTED;
 * - IFDControl (SCardControl): IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE, IFD_ERROR_NOT_SUPPORTED and
 *   IFD_NOT_SUPPORTED → SCARD_E_UNSUPPORTED_FEATURE, IFD_ERROR_INSUFFICIENT_BUFFER → SCARD_E_INSUFFICIENT_BUFFER,
 *   other → SCARD_E_NOT_TRANSACTED;
 * - IFDGetCapabilities (SCardGetAttrib): IFD_ERROR_INSUFFICIENT_BUFFER → SCARD_E_INSUFFICIENT_BUFFER,
 *   other → SCARD_E_NOT_TRANSACTED;
 * - IFDSetCapabilities (SCardSetAttrib): IFD_ERROR_TAG → SCARD_E_UNSUPPORTED_FEATURE, other → SCARD_E_NOT_TRANSACTED.
 *
 * The calls that change the card or the reader are serialised per reader slot, as pcscd holds rContext->mMutex around
 * them; IFDGetCapabilities is synchronous here (the driver answers from what it knows) and needs no lock.
 */
import type { IfdProtocol, IfdReader, IfdSlot, PowerAction } from '../ifd/ifd.js';
import { DriverError, IFD, ifdCodeName } from '../ifd/errors.js';
import {
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_NOT_TRANSACTED,
  SCARD_E_NO_SMARTCARD,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_UNSUPPORTED_FEATURE,
  SCARD_W_REMOVED_CARD,
} from './constants.js';
import { SerialQueue } from './notifier.js';
import type { PtsOutcome } from './protocol.js';
import { hexNumber } from '../util/hex.js';

export type IfdLog = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

/** An IFD call's outcome mapped to PC/SC the way ifdwrapper.c (and winscard.c after it) does for that call. */
export type IfdResult<T> = { ok: true; value: T } | { ok: false; code: number; detail: string };

/** The IFD_* code of a driver failure; anything that is not a DriverError counts as IFD_COMMUNICATION_ERROR. */
export function ifdCodeOf(e: unknown): number {
  return e instanceof DriverError ? e.code : IFD.COMMUNICATION_ERROR;
}

/** "IFD_COMMUNICATION_ERROR: <the driver's message>" for logs and error details. */
export function describeDriverFailure(e: unknown): string {
  if (e instanceof DriverError) return `${ifdCodeName(e.code)}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

const hex = (n: number): string => `0x${hexNumber(n >>> 0, 1)}`;

const why = describeDriverFailure;

function failure(code: number, detail: string): { ok: false; code: number; detail: string } {
  return { ok: false, code, detail };
}

/** Access to one slot of a driver's reader, named as the daemon published it. */
export class IfdWrapper {
  readonly #slot: IfdSlot;
  /** rContext->mMutex. */
  readonly #mutex = new SerialQueue();

  constructor(
    slot: IfdSlot,
    /** The PC/SC reader name, for error details and logs. */
    readonly readerName: string,
    private readonly log: IfdLog,
  ) {
    this.#slot = slot;
  }

  /** The driver's card events (pcscd's event handler thread waits for them with IFDHPolling / polls). */
  onCardEvent(listener: (present: boolean) => void): () => void {
    return this.#slot.onCardEvent(listener);
  }

  /** IFDStatusICC: card present or not; IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE, other → NOT_TRANSACTED. */
  statusIcc(): Promise<IfdResult<boolean>> {
    return this.#mutex.run(async () => {
      try {
        return { ok: true, value: await this.#slot.iccPresence() };
      } catch (e) {
        const code = ifdCodeOf(e) === IFD.NO_SUCH_DEVICE ? SCARD_E_READER_UNAVAILABLE : SCARD_E_NOT_TRANSACTED;
        return failure(code, describeDriverFailure(e));
      }
    });
  }

  /**
   * IFDPowerICC: the card must be present (else SCARD_W_REMOVED_CARD), then the driver powers it;
   * IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE, any other failure → SCARD_E_NOT_TRANSACTED.
   */
  power(action: PowerAction): Promise<IfdResult<Uint8Array>> {
    return this.#mutex.run(async () => {
      try {
        if (!(await this.#slot.iccPresence())) {
          return failure(SCARD_W_REMOVED_CARD, 'no card in the reader');
        }
        return { ok: true, value: await this.#slot.power(action) };
      } catch (e) {
        const code = ifdCodeOf(e) === IFD.NO_SUCH_DEVICE ? SCARD_E_READER_UNAVAILABLE : SCARD_E_NOT_TRANSACTED;
        return failure(code, `power ${action} failed: ${why(e)}`);
      }
    });
  }

  /** IFDSetPTS: 'ok', or the driver's IFD_* code as is (PHSetProtocol, protocol.ts, decides what it means). */
  setProtocol(protocol: IfdProtocol): Promise<PtsOutcome> {
    return this.#mutex.run(async () => {
      try {
        await this.#slot.setProtocol(protocol);
        return 'ok' as const;
      } catch (e) {
        this.log('warn', `${this.readerName}: setting T=${protocol === 1 ? 0 : 1} failed: ${why(e)}`);
        return ifdCodeOf(e);
      }
    });
  }

  /**
   * IFDTransmit as SCardTransmit maps it: IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE, IFD_ICC_NOT_PRESENT →
   * SCARD_E_NO_SMARTCARD (the card left during the exchange), any other failure → SCARD_E_NOT_TRANSACTED.
   */
  transmit(apdu: Uint8Array): Promise<IfdResult<Uint8Array>> {
    return this.#mutex.run(async () => {
      try {
        return { ok: true, value: await this.#slot.transmit(apdu) };
      } catch (e) {
        const code = ifdCodeOf(e);
        const name = this.readerName;
        if (code === IFD.NO_SUCH_DEVICE) {
          return failure(SCARD_E_READER_UNAVAILABLE, `reader "${name}" went away: ${why(e)}`);
        }
        if (code === IFD.ICC_NOT_PRESENT) {
          return failure(SCARD_E_NO_SMARTCARD, `the card left "${name}" during the exchange`);
        }
        return failure(SCARD_E_NOT_TRANSACTED, `the exchange with the card in "${name}" failed: ${why(e)}`);
      }
    });
  }

  /**
   * IFDControl as SCardControl maps it: IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE, IFD_ERROR_NOT_SUPPORTED and
   * IFD_NOT_SUPPORTED → SCARD_E_UNSUPPORTED_FEATURE, IFD_ERROR_INSUFFICIENT_BUFFER → SCARD_E_INSUFFICIENT_BUFFER, any
   * other failure → SCARD_E_NOT_TRANSACTED.
   */
  control(controlCode: number, input: Uint8Array): Promise<IfdResult<Uint8Array>> {
    return this.#mutex.run(async () => {
      try {
        return { ok: true, value: await this.#slot.control(controlCode >>> 0, input) };
      } catch (e) {
        const c = ifdCodeOf(e);
        const name = this.readerName;
        if (c === IFD.NO_SUCH_DEVICE) {
          return failure(SCARD_E_READER_UNAVAILABLE, `reader "${name}" went away: ${why(e)}`);
        }
        if (c === IFD.ERROR_NOT_SUPPORTED || c === IFD.NOT_SUPPORTED) {
          return failure(SCARD_E_UNSUPPORTED_FEATURE, `"${name}" does not support control code ${hex(controlCode)}`);
        }
        if (c === IFD.ERROR_INSUFFICIENT_BUFFER) {
          return failure(SCARD_E_INSUFFICIENT_BUFFER, `the reader's answer to ${hex(controlCode)} does not fit`);
        }
        return failure(SCARD_E_NOT_TRANSACTED, `control ${hex(controlCode)} on "${name}" failed: ${why(e)}`);
      }
    });
  }

  /**
   * IFDGetCapabilities: the value, or undefined when the driver does not know the tag (SCardGetAttrib then falls back
   * or answers SCARD_E_UNSUPPORTED_FEATURE); IFD_ERROR_INSUFFICIENT_BUFFER → SCARD_E_INSUFFICIENT_BUFFER, any other
   * failure → SCARD_E_NOT_TRANSACTED.
   */
  getCapabilities(tag: number): IfdResult<Uint8Array | undefined> {
    try {
      return { ok: true, value: this.#slot.getAttribute(tag >>> 0) };
    } catch (e) {
      if (ifdCodeOf(e) === IFD.ERROR_INSUFFICIENT_BUFFER) {
        return failure(SCARD_E_INSUFFICIENT_BUFFER, `attribute ${hex(tag)} does not fit`);
      }
      return failure(SCARD_E_NOT_TRANSACTED, `reading attribute ${hex(tag)} of "${this.readerName}" failed: ${why(e)}`);
    }
  }

  /** IFDSetCapabilities: IFD_ERROR_TAG → SCARD_E_UNSUPPORTED_FEATURE, any other failure → SCARD_E_NOT_TRANSACTED. */
  setCapabilities(tag: number, value: Uint8Array): Promise<IfdResult<void>> {
    return this.#mutex.run(async () => {
      try {
        await this.#slot.setAttribute(tag >>> 0, value);
        return { ok: true, value: undefined };
      } catch (e) {
        if (ifdCodeOf(e) === IFD.ERROR_TAG) {
          return failure(SCARD_E_UNSUPPORTED_FEATURE, `"${this.readerName}" does not accept attribute ${hex(tag)}`);
        }
        const name = this.readerName;
        return failure(SCARD_E_NOT_TRANSACTED, `setting attribute ${hex(tag)} of "${name}" failed: ${why(e)}`);
      }
    });
  }
}

/** The driver's notice that the reader went away (pcscd learns it from the hotplug thread). */
export function onReaderRemoved(reader: IfdReader, listener: () => void): () => void {
  return reader.onRemoved(listener);
}

/**
 * IFDCloseIFD: release the driver's reader. A failure is only reported (RFRemoveReader goes on whatever the driver
 * answers); the detail is the driver's message.
 */
export async function closeReader(reader: IfdReader): Promise<IfdResult<void>> {
  try {
    await reader.close();
    return { ok: true, value: undefined };
  } catch (e) {
    return failure(SCARD_E_NOT_TRANSACTED, e instanceof Error ? e.message : String(e));
  }
}
