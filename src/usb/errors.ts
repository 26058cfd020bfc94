/**
 * Turning a failure to open a reader (WebUSB DOMException, the driver's DriverError, the daemon's PcscError) into what
 * the readers list shows: a state and a reason in plain words. The reasons are what users read, so they say what
 * happened and what to do, without error codes.
 */
import { DriverError, IFD } from '../ifd/errors.js';
import { ProtectedInterfaceClassError, classifyUsbError } from '../ccid/usb-failure.js';
import { SCARD_E_NO_MEMORY } from '../pcsc/constants.js';
import { isPcscError } from '../pcsc/errors.js';
import { hexNumber } from '../util/hex.js';

/**
 * 'blocked': the browser refuses the reader and nothing on our side can change it.
 * 'unsupported': the device is a reader this driver cannot drive (broken descriptor, unknown protocol, ...).
 * 'failed': it could not be opened now; unplugging and plugging it again retries.
 * 'gone': the device disappeared while being opened; there is nothing to show.
 */
export type OpenFailureState = 'blocked' | 'unsupported' | 'failed' | 'gone';

export interface OpenFailure {
  state: OpenFailureState;
  reason: string;
}

/** Why a class-0x0B reader cannot be used from an extension, and what works instead. */
export const PROTECTED_CLASS_EXPLANATION =
  'Chrome does not let extensions use this reader. It presents itself as a standard USB smart card reader ' +
  '(interface class 0x0B), and Chrome reserves that class for its own smart card support: no extension, this one ' +
  'included, can open it, and no setting, flag or policy changes that. What works instead: ' +
  'a reader that exposes its smart card (CCID) interface as a vendor-specific interface (class 0xFF), which Chrome ' +
  'lets extensions open; ' +
  "the operating system's own smart card service (pcscd on Linux, the Smart Card service on Windows, CryptoTokenKit " +
  'on macOS), which native applications can use with this reader; ' +
  "or, on a Chromebook, ChromeOS's built-in smart card support.";

/** The daemon's reader limit (pcsc-lite PCSCLITE_MAX_READERS_CONTEXTS) was reached. */
export const TOO_MANY_READERS_EXPLANATION =
  'Too many readers: the smart card service can use at most 16 reader slots at once. ' +
  'Unplug a reader you do not need, then unplug this one and plug it in again.';

export const BUSY_EXPLANATION =
  'The reader is busy or was reset: another program may be using it (for example pcscd, or the operating ' +
  "system's smart card driver). Close that program, or unplug the reader and plug it in again.";

function errorName(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const name = (e as { name?: unknown }).name;
  return typeof name === 'string' ? name : undefined;
}

function errorMessage(e: unknown): string {
  if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  return String(e);
}

function hasNameInChain(e: unknown, names: readonly string[]): boolean {
  for (let cur = e, depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    const name = errorName(cur);
    if (name !== undefined && names.includes(name)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

/** "could not open ...: x" → "Could not open ...: x." */
function sentence(text: string): string {
  const t = text.trim();
  if (t === '') return t;
  const first = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

function protectedClassReason(interfaceClass: number | undefined, cause: unknown): string {
  if (interfaceClass === undefined || interfaceClass === 0x0b) return PROTECTED_CLASS_EXPLANATION;
  const cls = `0x${hexNumber(interfaceClass, 2)}`;
  return (
    `Chrome refused to let this extension open the reader: its interface (class ${cls}) is one Chrome protects ` +
    `from extensions (${errorMessage(cause)}). No setting changes that; use the reader through the operating ` +
    "system's smart card service instead."
  );
}

export interface OpenFailureContext {
  /** The class of the interface that was being claimed, when known (default: 0x0B). */
  interfaceClass?: number;
  /** The driver refused the reader's firmware as known to be buggy (known-readers `firmwareRefusal`). */
  firmwareRefused?: boolean;
}

/** Classifies an error from opening a reader (CcidReader.open, claimInterface, the daemon's addReader). */
export function describeOpenFailure(e: unknown, context: OpenFailureContext = {}): OpenFailure {
  const { interfaceClass } = context;
  if (context.firmwareRefused === true && e instanceof DriverError) {
    // Retrying will not help: only another firmware (or the driver option) will.
    return { state: 'unsupported', reason: `This reader is not supported: ${sentence(e.message)}` };
  }
  if (e instanceof ProtectedInterfaceClassError) {
    return { state: 'blocked', reason: protectedClassReason(e.interfaceClass, e.cause) };
  }
  // Which rejections mean "refused" or "gone" is the driver's usb-failure.ts classifier: one place for the dialects.
  if (classifyUsbError(e) === 'refused') {
    return { state: 'blocked', reason: protectedClassReason(interfaceClass, e) };
  }
  if (isPcscError(e, SCARD_E_NO_MEMORY)) {
    return { state: 'failed', reason: TOO_MANY_READERS_EXPLANATION };
  }
  if (isPcscError(e)) {
    return { state: 'failed', reason: `The smart card service could not add the reader: ${sentence(errorMessage(e))}` };
  }
  if (e instanceof DriverError) {
    if (e.code === IFD.NO_SUCH_DEVICE)
      return { state: 'gone', reason: 'The reader was unplugged while it was being opened.' };
    if (e.code === IFD.NOT_SUPPORTED || e.code === IFD.ERROR_NOT_SUPPORTED) {
      return { state: 'unsupported', reason: `This reader is not supported: ${sentence(e.message)}` };
    }
    if (hasNameInChain(e.cause, ['NetworkError', 'InvalidStateError']))
      return { state: 'failed', reason: BUSY_EXPLANATION };
    if (hasNameInChain(e.cause, ['NotFoundError'])) {
      return { state: 'gone', reason: 'The reader was unplugged while it was being opened.' };
    }
    return { state: 'failed', reason: `${sentence(e.message)} Unplug the reader and plug it in again to retry.` };
  }
  const name = errorName(e);
  if (classifyUsbError(e) === 'gone') {
    return { state: 'gone', reason: 'The reader was unplugged while it was being opened.' };
  }
  if (name === 'NetworkError' || name === 'InvalidStateError') return { state: 'failed', reason: BUSY_EXPLANATION };
  return {
    state: 'failed',
    reason: `The reader could not be opened: ${sentence(errorMessage(e))} Unplug it and plug it in again to retry.`,
  };
}
