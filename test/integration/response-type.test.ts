/**
 * A response whose bMessageType is not the one its command is answered with (CCID 1.1 §6.2), injected by garbling
 * bMessageType of the simulator's response: the call fails with IFD_COMMUNICATION_ERROR naming both types — it never
 * takes, say, an RDR_to_PC_Escape as an ATR or an RDR_to_PC_SlotStatus as an APDU response — and the reader works
 * afterwards. Faults-suite style: the fault is aimed at the phase's first command.
 */
import { describe, expect, it } from 'vitest';
import { IFD } from '../../src/ifd/errors.js';
import { helloWorldCardT1 } from '../../src/sim/index.js';
import { echoShort, expectBytes, expectIfd, must, openRig, pattern, SELECT_HELLO, SW_OK, concat } from './helpers.js';

const target = { on: 'nth-command', n: 1 } as const;

// RDR_to_PC_DataBlock 0x80 XOR mask: 0x81 SlotStatus ("processed"), 0x82 Parameters, 0x83 Escape, 0x84 DataRate…
describe.each([
  [0x01, 'RDR_to_PC_SlotStatus'],
  [0x02, 'RDR_to_PC_Parameters'],
  [0x03, 'RDR_to_PC_Escape'],
  [0x04, 'RDR_to_PC_DataRateAndClockFrequency'],
])('bMessageType XOR 0x%s (%s in place of RDR_to_PC_DataBlock)', (mask, wrongType) => {
  it('power up fails (IFD_ERROR_POWER_ACTION, as every power-up failure), and the next power up works', async () => {
    const { sim, reader } = await openRig('gempc-twin');
    const card = helloWorldCardT1();
    sim.insertCard(card);
    const slot = reader.slots[0]!;
    sim.injectFault({ kind: 'garble', where: 'header', offset: 0, mask, target });
    const e = await expectIfd(slot.power('up'), IFD.ERROR_POWER_ACTION, 'power up with a wrong response type');
    expect(e.message).toContain(wrongType);
    expect(e.message).toContain('PC_to_RDR_IccPowerOn');
    expect(sim.faults.injected).toBe(1);
    expectBytes(await must(slot.power('up'), 'power up after the fault'), card.atr, 'ATR');
    await reader.close();
  });

  it('an exchange fails with IFD_COMMUNICATION_ERROR, and the reader works afterwards', async () => {
    const { sim, reader } = await openRig('extended-apdu');
    sim.insertCard(helloWorldCardT1());
    const slot = reader.slots[0]!;
    await must(slot.power('up'));
    await must(slot.setProtocol(2));
    expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);
    sim.injectFault({ kind: 'garble', where: 'header', offset: 0, mask, target });
    const e = await expectIfd(slot.transmit(echoShort(pattern(20, 3))), IFD.COMMUNICATION_ERROR, 'ECHO');
    expect(e.message).toContain(wrongType);
    const data = pattern(40, 9);
    expectBytes(await must(slot.transmit(echoShort(data)), 'ECHO after the fault'), concat(data, SW_OK), 'ECHO');
    await reader.close();
  });
});

it('a reader refusing a command with RDR_to_PC_SlotStatus "failed" is answered as a refusal, not a type error', async () => {
  // CCID 1.1 §6.2.6: an unsupported command may be refused with a SlotStatus carrying bmCommandStatus 1.
  const { sim, reader } = await openRig('gempc-twin');
  sim.insertCard(helloWorldCardT1());
  const slot = reader.slots[0]!;
  // 0x80 → 0x81 and bmCommandStatus 0 → 1 (bStatus bit 6): a failed SlotStatus.
  sim.injectFault({ kind: 'garble', where: 'header', offset: 0, mask: 0x01, target });
  sim.injectFault({ kind: 'garble', where: 'header', offset: 7, mask: 0x40, target });
  const e = await expectIfd(slot.power('up'), IFD.ERROR_POWER_ACTION, 'power up refused');
  expect(e.message).toMatch(/power on .* failed in slot 0/);
  expect(e.message).not.toMatch(/answered PC_to_RDR_IccPowerOn/);
  await reader.close();
});
