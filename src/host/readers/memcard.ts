/**
 * An in-memory card reader for the daemon, the TypeScript twin of the native anchor's `ifd_memcard.c` (copied for the
 * differential suite as `test/diff/ifd-memcard.c`): no driver, no USB, no protocol; the "card" answers the benchmark
 * APDUs directly. The host serves it with `--memcard`, so a libpcsclite client sees the same reader and card through
 * our socket as through Debian's pcscd loading the C driver. Fed to PcscDaemon, it measures what the native
 * anchor measures — the PC/SC stack alone (client API → daemon → IFD handler) — so the two figures compare like for
 * like. (The figures through the CCID driver and the simulated reader add the T=1/CCID work the anchor does not do.)
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DriverError, IFD, type IfdReader, type IfdSlot } from '../../ifd/index.js';
import { SCARD_ATTR_ICC_PRESENCE } from '../../pcsc/constants.js';

const ATR = Uint8Array.of(
  0x3b,
  0x8c,
  0x80,
  0x01,
  0x48,
  0x65,
  0x6c,
  0x6c,
  0x6f,
  0x43,
  0x61,
  0x72,
  0x64,
  0x21,
  0x21,
  0x21,
  0x5b,
);
const HELLO = new TextEncoder().encode('Hello world!');

function withSw(data: Uint8Array, sw1: number, sw2: number): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data);
  out[data.length] = sw1;
  out[data.length + 1] = sw2;
  return out;
}

/**
 * How often the card's presence is checked when a presence directory is given: pcscd polls a driver without its own
 * polling thread every 400 ms (PCSCLITE_STATUS_POLL_RATE), so the C twin's removals show at the same pace.
 */
const PRESENCE_POLL_MS = 400;

class MemorySlot implements IfdSlot {
  readonly slot = 0;
  #powered = false;
  #rnd = 0x12345678;
  readonly #absentFile: string | undefined;
  readonly #listeners = new Set<(present: boolean) => void>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #present: boolean;

  constructor(presenceDir: string | undefined) {
    this.#absentFile = presenceDir === undefined ? undefined : join(presenceDir, 'absent');
    this.#present = this.#check();
  }

  /** The card is absent while `<presenceDir>/absent` exists (as in ifd-memcard.c when DEVICENAME is a directory). */
  #check(): boolean {
    return this.#absentFile === undefined || !existsSync(this.#absentFile);
  }

  #poll(): void {
    const present = this.#check();
    if (present === this.#present) return;
    this.#present = present;
    if (!present) this.#powered = false;
    for (const l of [...this.#listeners]) l(present);
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async iccPresence(): Promise<boolean> {
    return this.#check();
  }
  async power(action: 'up' | 'down' | 'reset'): Promise<Uint8Array> {
    if (action !== 'down' && !this.#check()) throw new DriverError(IFD.ICC_NOT_PRESENT, 'no card');
    this.#powered = action !== 'down';
    return this.#powered ? ATR.slice() : new Uint8Array(0);
  }
  async setProtocol(protocol: 1 | 2): Promise<void> {
    if (protocol !== 2) throw new DriverError(IFD.PROTOCOL_NOT_SUPPORTED, 'the memory card speaks T=1 only');
  }
  async transmit(tx: Uint8Array): Promise<Uint8Array> {
    if (!this.#check()) throw new DriverError(IFD.ICC_NOT_PRESENT, 'no card');
    if (!this.#powered) throw new DriverError(IFD.COMMUNICATION_ERROR, 'not powered');
    if (tx.length >= 4 && tx[0] === 0x00 && tx[1] === 0xa4) return Uint8Array.of(0x90, 0x00);
    if (tx.length >= 4 && tx[0] === 0x00 && tx[1] === 0x00) return withSw(HELLO, 0x90, 0x00);
    if (tx.length === 5 && tx[1] === 0x84) {
      const n = tx[4] === 0 ? 256 : tx[4]!;
      const out = new Uint8Array(n + 2);
      for (let i = 0; i < n; i++) {
        this.#rnd = (Math.imul(this.#rnd, 1103515245) + 12345) >>> 0;
        out[i] = (this.#rnd >>> 16) & 0xff;
      }
      out[n] = 0x90;
      return out;
    }
    if (tx.length >= 5 && tx[1] === 0xee) {
      const extended = tx[4] === 0 && tx.length >= 7;
      let lc = extended ? (tx[5]! << 8) | tx[6]! : tx[4]!;
      const off = extended ? 7 : 5;
      if (off + lc > tx.length) lc = tx.length - off;
      return withSw(tx.subarray(off, off + lc), 0x90, 0x00);
    }
    return Uint8Array.of(0x6d, 0x00);
  }
  async control(): Promise<Uint8Array> {
    throw new DriverError(IFD.ERROR_NOT_SUPPORTED, 'no control codes');
  }
  getAttribute(tag: number): Uint8Array | undefined {
    // ifd_memcard.c's IFDHGetCapabilities knows SCARD_ATTR_ICC_PRESENCE (2 = present) and no other SCARD_ATTR_* tag.
    return tag === SCARD_ATTR_ICC_PRESENCE ? Uint8Array.of(2) : undefined;
  }
  async setAttribute(): Promise<void> {
    throw new DriverError(IFD.ERROR_NOT_SUPPORTED, 'no attributes');
  }
  onCardEvent(listener: (present: boolean) => void): () => void {
    this.#listeners.add(listener);
    if (this.#absentFile !== undefined && this.#timer === undefined) {
      this.#timer = setInterval(() => this.#poll(), PRESENCE_POLL_MS);
      this.#timer.unref?.();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.close();
    };
  }
}

/**
 * The in-memory reader. `presenceDir`: the card is removed while `<presenceDir>/absent` exists (checked every 400 ms),
 * so a test can insert and remove it from another process; without it the card is always present.
 */
export function memoryCardReader(options: { presenceDir?: string } = {}): IfdReader {
  const slot = new MemorySlot(options.presenceDir);
  return {
    friendlyName: 'Memory Card Reader',
    slots: [slot],
    onRemoved: () => () => undefined,
    close: async () => slot.close(),
  };
}
