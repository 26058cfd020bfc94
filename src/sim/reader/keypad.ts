/**
 * The simulated PIN pad's keypad. A test "types" a PIN (`enter('1234')`), presses cancel, or lets the entry time out;
 * entries queue up, and a PC_to_RDR_Secure waiting for input takes the next one (CCID 1.1 §6.1.11). Deterministic: no
 * clocks are involved, the timeout is an explicit event.
 */
export type KeypadEntry = { kind: 'pin'; digits: string } | { kind: 'cancel' } | { kind: 'timeout' };

export class Keypad {
  private readonly queue: KeypadEntry[] = [];
  private waiter: ((entry: KeypadEntry | null) => void) | null = null;

  /** The user types `digits` (0–9) and presses OK. */
  enter(digits: string): void {
    if (!/^[0-9]*$/.test(digits)) throw new RangeError(`a PIN pad only has digits 0-9, got "${digits}"`);
    this.push({ kind: 'pin', digits });
  }

  /** The user presses Cancel (→ bError PIN_CANCELLED 0xEF). */
  cancel(): void {
    this.push({ kind: 'cancel' });
  }

  /** The user does nothing until bTimeOut runs out (→ bError PIN_TIMEOUT 0xF0). */
  timeout(): void {
    this.push({ kind: 'timeout' });
  }

  /** Entries typed but not yet consumed. */
  get pending(): number {
    return this.queue.length;
  }

  /** True while a Secure command waits for the user. */
  get waiting(): boolean {
    return this.waiter !== null;
  }

  /** Drops unconsumed entries. */
  clear(): void {
    this.queue.length = 0;
  }

  /** @internal The next entry, now if one is queued; null if the wait is interrupted (abort, removal, unplug). */
  next(): KeypadEntry | Promise<KeypadEntry | null> {
    const entry = this.queue.shift();
    if (entry !== undefined) return entry;
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** @internal Ends a wait in progress without an entry. */
  interrupt(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.(null);
  }

  private push(entry: KeypadEntry): void {
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w(entry);
    } else {
      this.queue.push(entry);
    }
  }
}
