/**
 * MODIFY_PIN_DIRECT (PC/SC v2 part 10) on the simulated GemPC Pinpad through the driver: the PC/SC
 * PIN_MODIFY_STRUCTURE becomes a PC_to_RDR_Secure (bPINOperation 1), the reader collects the PINs on its keypad and
 * sends CHANGE REFERENCE DATA (ISO/IEC 7816-4 §11.5.7) to the card — over T=1 (the driver builds the T=1 prologue and
 * keeps the sequence numbers) and over T=0.
 */
import { describe, expect, it } from 'vitest';
import { concat, HELLO, hex, must, pinRig, SELECT_HELLO, SW_OK } from './helpers.js';

const MODIFY_PIN_DIRECT = 0x42330007;

/**
 * PIN_MODIFY_STRUCTURE (pcsc-lite reader.h, packed, little-endian) for CHANGE REFERENCE DATA `00 24 00 80` with two
 * 4-digit ASCII PINs: the current one at offset 0, the new one at offset 4. `confirm` is bConfirmPIN (bit 0: type the
 * new PIN twice, bit 1: ask for the current PIN).
 */
function pinModifyStructure(confirm = 0x03): Uint8Array {
  const apdu = hex('00 24 00 80 00');
  return concat(
    Uint8Array.of(
      30, // bTimeOut
      0, // bTimeOut2
      0x82, // bmFormatString: byte units, position 0, left-justified, ASCII
      0x00, // bmPINBlockString: the data field holds just the PINs
      0x00, // bmPINLengthFormat
      0x00, // bInsertionOffsetOld
      0x04, // bInsertionOffsetNew
      0x04, // wPINMaxExtraDigit = 0x0404: 4 digits exactly
      0x04,
      confirm, // bConfirmPIN
      0x02, // bEntryValidationCondition: OK key
      0x03, // bNumberMessage
      0x09, // wLangId 0x0409
      0x04,
      0x00, // bMsgIndex1..3
      0x01,
      0x02,
      0x00, // bTeoPrologue
      0x00,
      0x00,
    ),
    Uint8Array.of(apdu.length, 0, 0, 0), // ulDataLength
    apdu,
  );
}

const verify = (pin: string) => concat(hex('00 20 00 80 04'), new TextEncoder().encode(pin));

describe.each(['T=1', 'T=0'] as const)('MODIFY_PIN_DIRECT with a %s card', (cardKind) => {
  it('current PIN, new PIN and its confirmation typed → 90 00; the new PIN verifies, the old one no longer does', async () => {
    const { sim, reader } = await pinRig(cardKind);
    const slot = reader.slots[0]!;
    sim.keypad.enter('1234');
    sim.keypad.enter('5678');
    sim.keypad.enter('5678');
    expect(await must(slot.control(MODIFY_PIN_DIRECT, pinModifyStructure()))).toEqual(SW_OK);
    expect(await must(slot.transmit(verify('1234')))).toEqual(hex('63 C2'));
    expect(await must(slot.transmit(verify('5678')))).toEqual(SW_OK);
    // The exchanges after the PIN command still work (T=1: the sequence numbers were kept in step).
    expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);
    expect(await must(slot.transmit(HELLO))).toEqual(
      cardKind === 'T=1' ? concat(new TextEncoder().encode('Hello world!'), SW_OK) : hex('61 0C'),
    );
    await reader.close();
  });

  it('a wrong current PIN → 63 C2 and the PIN is unchanged', async () => {
    const { sim, reader } = await pinRig(cardKind);
    const slot = reader.slots[0]!;
    sim.keypad.enter('0000');
    sim.keypad.enter('5678');
    sim.keypad.enter('5678');
    expect(await must(slot.control(MODIFY_PIN_DIRECT, pinModifyStructure()))).toEqual(hex('63 C2'));
    expect(await must(slot.transmit(verify('1234')))).toEqual(SW_OK);
    await reader.close();
  });

  it('cancel on the keypad → 64 01, and the card goes on working with its old PIN', async () => {
    const { sim, reader } = await pinRig(cardKind);
    const slot = reader.slots[0]!;
    sim.keypad.enter('1234');
    sim.keypad.cancel();
    expect(await must(slot.control(MODIFY_PIN_DIRECT, pinModifyStructure()))).toEqual(hex('64 01'));
    expect(await must(slot.transmit(verify('1234')))).toEqual(SW_OK);
    await reader.close();
  });
});

describe('MODIFY_PIN_DIRECT without confirmation', () => {
  it('bConfirmPIN 0x02 asks for the current and the new PIN once each', async () => {
    const { sim, reader } = await pinRig('T=1');
    const slot = reader.slots[0]!;
    sim.keypad.enter('1234');
    sim.keypad.enter('4321');
    expect(await must(slot.control(MODIFY_PIN_DIRECT, pinModifyStructure(0x02)))).toEqual(SW_OK);
    expect(sim.keypad.pending).toBe(0);
    expect(await must(slot.transmit(verify('4321')))).toEqual(SW_OK);
    await reader.close();
  });
});
