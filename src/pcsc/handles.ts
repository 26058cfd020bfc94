/**
 * Context and card handles: random 31-bit non-zero values, unique daemon-wide.
 *
 * pcsc-lite draws both with SYS_RandomInt: winscard_svc.c/winscard.c SCardEstablishContext retries until the value is
 * not an existing context, readerfactory.c RFCreateReaderHandle until it is not an existing card handle. Here one
 * allocator serves both, so a context value is never also a card handle.
 */
export class HandleAllocator {
  readonly #inUse = new Set<number>();
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** A fresh value in 1..0x7FFFFFFF. Falls back to a scan if the random source keeps repeating itself. */
  allocate(): number {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const r = this.#random();
      const value = Math.floor((Number.isFinite(r) ? Math.abs(r) % 1 : 0) * 0x80000000) & 0x7fffffff;
      if (value !== 0 && !this.#inUse.has(value)) {
        this.#inUse.add(value);
        return value;
      }
    }
    // A degenerate random source (tests with a constant): keep unique anyway.
    for (let value = 1; value <= 0x7fffffff; value++) {
      if (!this.#inUse.has(value)) {
        this.#inUse.add(value);
        return value;
      }
    }
    throw new RangeError('no free 31-bit handle left');
  }

  release(value: number): void {
    this.#inUse.delete(value);
  }

  has(value: number): boolean {
    return this.#inUse.has(value);
  }

  get size(): number {
    return this.#inUse.size;
  }
}
