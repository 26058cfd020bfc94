/**
 * The readers (readerfactory.c): pcscd's array of PCSCLITE_MAX_READERS_CONTEXTS reader slots, filled by RFAddReader at
 * the first free position (so listing order is array order, not insertion order), named by RFSetReaderName, emptied by
 * RFRemoveReader.
 */
import type { IfdReader } from '../ifd/ifd.js';
import { buildReaderName, firstFreeIndex, readerNameIndex } from './reader-name.js';
import { PCSCLITE_MAX_READERS_CONTEXTS, SCARD_E_NO_MEMORY, SCARD_E_DUPLICATE_READER } from './constants.js';
import { PcscError } from './errors.js';
import { ReaderSlot, type ReaderSlotHooks } from './reader-slot.js';

/**
 * The driver a reader belongs to: RFSetReaderName numbers readers per driver library. Every IfdReader is served by
 * the one CCID driver (libccid in pcscd) unless it names another in an optional `driverName` property.
 */
export function driverOf(reader: IfdReader): string {
  const d = (reader as { driverName?: unknown }).driverName;
  return typeof d === 'string' && d !== '' ? d : 'ccid';
}

export class ReaderFactory {
  /** sReadersContexts: undefined = free position. */
  readonly #positions: (ReaderSlot | undefined)[] = new Array<ReaderSlot | undefined>(
    PCSCLITE_MAX_READERS_CONTEXTS,
  ).fill(undefined);
  readonly #byReader = new Map<IfdReader, ReaderSlot[]>();

  /** The readers in array order (pcscd's readerStates order). */
  get slots(): ReaderSlot[] {
    return this.#positions.filter((s): s is ReaderSlot => s !== undefined && s.published);
  }

  get names(): string[] {
    return this.slots.map((s) => s.name);
  }

  has(reader: IfdReader): boolean {
    return this.#byReader.has(reader);
  }

  slotsOf(reader: IfdReader): ReaderSlot[] {
    return this.#byReader.get(reader) ?? [];
  }

  /** RFReaderInfo: the reader with exactly this name. */
  byName(name: string): ReaderSlot | undefined {
    return this.slots.find((s) => s.name === name);
  }

  /** Removed readers whose handles have not all been disconnected yet (see `remove`). */
  readonly #gone = new Set<ReaderSlot>();

  /**
   * RFReaderInfoById: the reader whose handle list holds hCard. A removed reader keeps answering for its handles, as
   * an unavailable reader, until each is disconnected (see `remove`).
   */
  byHandle(hCard: number): ReaderSlot | undefined {
    return this.slots.find((s) => s.handles.has(hCard)) ?? [...this.#gone].find((s) => s.handles.has(hCard));
  }

  /** A removed reader's last handle was disconnected: forget it. */
  forgetIfUnused(slot: ReaderSlot): void {
    if (slot.handles.size === 0) this.#gone.delete(slot);
  }

  /**
   * RFAddReader + RFSetReaderName: one ReaderSlot per driver slot, named "<name> [iface] (serial) XX YY" with XX the
   * first index no reader of the same driver uses. Refuses (SCARD_E_NO_MEMORY) when the array has no room for every
   * slot, or no index is free; SCARD_E_DUPLICATE_READER for a reader already added.
   */
  create(reader: IfdReader, hooks: ReaderSlotHooks): ReaderSlot[] {
    if (this.#byReader.has(reader)) {
      throw new PcscError(SCARD_E_DUPLICATE_READER, `"${reader.friendlyName}" is already registered`);
    }
    const free = this.#positions.map((s, i) => (s === undefined ? i : -1)).filter((i) => i >= 0);
    if (free.length < reader.slots.length || reader.slots.length === 0) {
      throw new PcscError(
        SCARD_E_NO_MEMORY,
        reader.slots.length === 0
          ? `"${reader.friendlyName}" has no slot`
          : `cannot add "${reader.friendlyName}" (${reader.slots.length} slot(s)): pcscd handles at most ${PCSCLITE_MAX_READERS_CONTEXTS} readers and ${PCSCLITE_MAX_READERS_CONTEXTS - free.length} are in use; remove a reader first`,
      );
    }
    const driver = driverOf(reader);
    const used: number[] = [];
    for (const [other, slots] of this.#byReader) {
      if (driverOf(other) !== driver) continue;
      for (const s of slots) used.push(s.index);
    }
    const index = firstFreeIndex(used);
    if (index === undefined) {
      throw new PcscError(
        SCARD_E_NO_MEMORY,
        `no free reader index for driver ${driver}: ${PCSCLITE_MAX_READERS_CONTEXTS} readers of it are present`,
      );
    }
    const created: ReaderSlot[] = [];
    reader.slots.forEach((ifd, k) => {
      const name = buildReaderName({
        friendly: reader.friendlyName,
        ...(reader.interfaceName !== undefined ? { interfaceString: reader.interfaceName } : {}),
        ...(reader.serialNumber !== undefined ? { serial: reader.serialNumber } : {}),
        index,
        slot: ifd.slot,
      });
      const slot = new ReaderSlot(name, reader, ifd, readerNameIndex(name) ?? index, hooks);
      const position = free[k];
      if (position === undefined) throw new Error('unreachable: room was checked');
      this.#positions[position] = slot;
      created.push(slot);
    });
    this.#byReader.set(reader, created);
    return created;
  }

  /**
   * RFRemoveReader: free the reader's positions (it leaves ListReaders and GetStatusChange at once). Its handles are
   * then in no reader's list: calls through them give SCARD_E_INVALID_VALUE (RFReaderInfoById), Disconnect succeeds
   * ("ignore reader removal"), Status gives SCARD_E_READER_UNAVAILABLE (the client library's reader lookup). Calls
   * already running when the reader went away get the driver's IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE.
   */
  remove(reader: IfdReader): ReaderSlot[] {
    const slots = this.#byReader.get(reader) ?? [];
    this.#byReader.delete(reader);
    for (let i = 0; i < this.#positions.length; i++) {
      const s = this.#positions[i];
      if (s !== undefined && slots.includes(s)) this.#positions[i] = undefined;
    }
    return slots;
  }
}
