/**
 * The in-memory reader (smart-card-host --memcard), twin of test/diff/ifd-memcard.c: the benchmark card's answers,
 * ICC_PRESENCE as the C driver gives it, and removal and insertion through its presence directory.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DriverError, IFD } from '../../../src/ifd/index.js';
import { memoryCardReader } from '../../../src/host/readers/memcard.js';
import { SCARD_ATTR_ATR_STRING, SCARD_ATTR_ICC_PRESENCE } from '../../../src/pcsc/constants.js';
import { until } from '../rig.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function ifdCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DriverError) return e.code;
    throw e;
  }
  throw new Error('resolved where it had to fail');
}

describe('memoryCardReader', () => {
  it("answers the benchmark card's APDUs and the attributes ifd_memcard.c knows", async () => {
    const reader = memoryCardReader();
    const slot = reader.slots[0]!;
    expect(await slot.iccPresence()).toBe(true);
    expect(await ifdCode(slot.transmit(Uint8Array.of(0, 0, 0, 0)))).toBe(IFD.COMMUNICATION_ERROR);
    const atr = await slot.power('up');
    expect(atr[0]).toBe(0x3b);
    expect(new TextDecoder().decode((await slot.transmit(Uint8Array.of(0, 0, 0, 0))).subarray(0, 12))).toBe(
      'Hello world!',
    );
    expect(await slot.transmit(Uint8Array.of(0x80, 0xee, 0, 0, 2, 7, 8))).toEqual(Uint8Array.of(7, 8, 0x90, 0));
    expect(slot.getAttribute(SCARD_ATTR_ICC_PRESENCE)).toEqual(Uint8Array.of(2));
    expect(slot.getAttribute(SCARD_ATTR_ATR_STRING)).toBeUndefined();
    await reader.close();
  });

  it('with a presence directory, the card is absent while DIR/absent exists, and each change is reported', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memcard-'));
    dirs.push(dir);
    const reader = memoryCardReader({ presenceDir: dir });
    const slot = reader.slots[0]!;
    const events: boolean[] = [];
    const off = slot.onCardEvent((present) => events.push(present));
    await slot.power('up');
    writeFileSync(join(dir, 'absent'), '');
    await until(() => events.length === 1, 'the removal reported');
    expect(events).toEqual([false]);
    expect(await slot.iccPresence()).toBe(false);
    expect(await ifdCode(slot.transmit(Uint8Array.of(0, 0, 0, 0)))).toBe(IFD.ICC_NOT_PRESENT);
    expect(await ifdCode(slot.power('up'))).toBe(IFD.ICC_NOT_PRESENT);
    unlinkSync(join(dir, 'absent'));
    await until(() => events.length === 2, 'the insertion reported');
    expect(events).toEqual([false, true]);
    // Not powered after a reinsertion until the daemon powers it up, as the C driver.
    expect(await ifdCode(slot.transmit(Uint8Array.of(0, 0, 0, 0)))).toBe(IFD.COMMUNICATION_ERROR);
    off();
    await reader.close();
  });
});
