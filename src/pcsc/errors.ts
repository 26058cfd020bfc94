/**
 * PC/SC errors as values: every SCard* call that pcsc-lite would answer with anything but SCARD_S_SUCCESS rejects with
 * a PcscError carrying that exact (unsigned) code — the SCARD_W_* warnings included, as they are return values in C.
 */
import type { ReaderStateOut } from './api.js';
import { SCARD_S_SUCCESS, pcscStringifyError, toUnsigned32 } from './constants.js';

export interface PcscErrorOptions {
  /** SCARD_E_INSUFFICIENT_BUFFER: the length the caller's buffer would need. */
  needed?: number;
  /** SCardGetStatusChange SCARD_E_TIMEOUT / SCARD_E_CANCELLED: the reader states as last evaluated. */
  readerStates?: ReaderStateOut[];
  cause?: unknown;
}

export class PcscError extends Error {
  override readonly name = 'PcscError';
  /** The pcsc-lite return code, unsigned (e.g. 0x80100069). */
  readonly code: number;
  /** SCARD_E_INSUFFICIENT_BUFFER: the length needed. */
  readonly needed?: number;
  /** SCardGetStatusChange E_TIMEOUT / E_CANCELLED: the states evaluated, as the C caller would find them. */
  readonly readerStates?: ReaderStateOut[];

  /**
   * @param code a SCARD_* code (signed or unsigned form)
   * @param detail what happened, in words a person can act on; the message is `pcsc_stringify_error(code)` + detail.
   */
  constructor(code: number, detail?: string, options: PcscErrorOptions = {}) {
    const unsigned = toUnsigned32(code);
    const text = pcscStringifyError(unsigned);
    const hex = `0x${unsigned.toString(16).toUpperCase().padStart(8, '0')}`;
    super(
      detail ? `${text} (${hex}): ${detail}` : `${text} (${hex})`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = unsigned;
    if (options.needed !== undefined) this.needed = options.needed;
    if (options.readerStates !== undefined) this.readerStates = options.readerStates;
  }
}

/** True when `e` is a PcscError (with the given code, if one is given). */
export function isPcscError(e: unknown, code?: number): e is PcscError {
  return e instanceof PcscError && (code === undefined || e.code === toUnsigned32(code));
}

/** Throws a PcscError unless `code` is SCARD_S_SUCCESS (pcsc-lite's `if (rv != SCARD_S_SUCCESS) return rv;`). */
export function check(code: number, detail?: string): void {
  if (code !== SCARD_S_SUCCESS) throw new PcscError(code, detail);
}
