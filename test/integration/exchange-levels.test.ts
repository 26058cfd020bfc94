/**
 * Exchange levels and protocol set-up through the driver: 64 KiB ECHO by T=1 chaining (TPDU) and by CCID chaining
 * (extended APDU), extended APDUs where they cannot go, PPS, specific mode, voltage selection, character level.
 */
import { describe, expect, it } from 'vitest';
import { PC_to_RDR_IccPowerOn, PC_to_RDR_SetParameters, PC_to_RDR_XfrBlock } from '../../src/ccid/constants.js';
import { IFD } from '../../src/ifd/errors.js';
import {
  dualProtocolCard,
  helloWorldCardT0,
  helloWorldCardT1,
  lowVoltageCard,
  PROFILES,
  SimulatedCard,
  specificModeCard,
} from '../../src/sim/index.js';
import {
  concat,
  echoExtended,
  echoShort,
  expectBytes,
  expectIfd,
  HELLO,
  HELLO_RESPONSE,
  hex,
  must,
  openRig,
  pattern,
  powerAndSet,
  SELECT_HELLO,
  SW_OK,
} from './helpers.js';

const BIG = 65000;

describe('64 KiB extended ECHO', () => {
  it('goes through T=1 chaining on the TPDU GemPC Twin (IFSD 254) and comes back exactly', async () => {
    const { sim, reader, traffic } = await openRig('gempc-twin');
    const card = helloWorldCardT1();
    sim.insertCard(card);
    await powerAndSet(reader, 2);
    expect(card.ifsd).toBe(254); // S(IFS request, 254) went first (dwFeatures has no 0x400)
    traffic.clear();
    const data = pattern(BIG, 3);
    const r = await must(reader.slots[0]!.transmit(echoExtended(data)));
    expectBytes(r, concat(data, SW_OK), '64 KiB ECHO');
    // Every block fits the reader's messages: at most 3 + 254 + 1 bytes of block per XfrBlock.
    const xfr = traffic.ofType(PC_to_RDR_XfrBlock);
    expect(xfr.length).toBeGreaterThan(2 * Math.floor(BIG / 254));
    for (const f of xfr) expect(f.data.length).toBeLessThanOrEqual(258);
    // A following short exchange still works (sequence numbers in step).
    expect(await must(reader.slots[0]!.transmit(SELECT_HELLO))).toEqual(SW_OK);
    expect(await must(reader.slots[0]!.transmit(HELLO))).toEqual(HELLO_RESPONSE);
    await reader.close();
  });

  it('goes through CCID chaining on the extended-APDU reader (T=1 card)', async () => {
    const { sim, reader, traffic } = await openRig('extended-apdu');
    sim.insertCard(helloWorldCardT1());
    await powerAndSet(reader, 2);
    traffic.clear();
    const data = pattern(BIG, 4);
    const r = await must(reader.slots[0]!.transmit(echoExtended(data)));
    expectBytes(r, concat(data, SW_OK), '64 KiB ECHO');
    const xfr = traffic.ofType(PC_to_RDR_XfrBlock);
    const levels = xfr.map((f) => f.b8 | (f.b9 << 8));
    const max = PROFILES['extended-apdu'].ccid.dwMaxCCIDMessageLength - 10;
    const commandParts = Math.ceil(echoExtended(data).length / max);
    // Command: 01, 03…, 02 (one message per part); response: one empty XfrBlock with 10 per further part.
    expect(levels.slice(0, commandParts)).toEqual([0x01, ...Array(commandParts - 2).fill(0x03), 0x02]);
    expect(levels.slice(commandParts)).toEqual(Array(Math.ceil((BIG + 2) / max) - 1).fill(0x10));
    for (const f of xfr) expect(f.data.length).toBeLessThanOrEqual(max);
    expect(await must(reader.slots[0]!.transmit(SELECT_HELLO))).toEqual(SW_OK);
    await reader.close();
  });

  it('over T=0 the extended-APDU reader wraps it in ENVELOPE, which this card refuses (6D 00); the reader goes on', async () => {
    const { sim, reader } = await openRig('extended-apdu');
    sim.insertCard(dualProtocolCard());
    await powerAndSet(reader, 1);
    expect(await must(reader.slots[0]!.transmit(echoExtended(pattern(BIG, 4))))).toEqual(hex('6D 00'));
    expect(await must(reader.slots[0]!.transmit(SELECT_HELLO))).toEqual(SW_OK);
    await reader.close();
  });

  it('a 255-byte short ECHO and a 256-byte extended ECHO both work on the extended-APDU reader', async () => {
    const { sim, reader } = await openRig('extended-apdu');
    sim.insertCard(helloWorldCardT1());
    await powerAndSet(reader, 2);
    const a = pattern(255, 9);
    const b = pattern(256, 10);
    expect(await must(reader.slots[0]!.transmit(echoShort(a)))).toEqual(concat(a, SW_OK));
    expect(await must(reader.slots[0]!.transmit(echoExtended(b)))).toEqual(concat(b, SW_OK));
    await reader.close();
  });
});

describe('T=0 cards behind APDU-level readers', () => {
  it.each(['short-apdu', 'extended-apdu'] as const)(
    "%s: ECHO (class 80) with Le comes back whole: the reader fetches the 61xx data with GET RESPONSE in the command's class (bClassGetResponse FF)",
    async (profile) => {
      const { sim, reader } = await openRig(profile);
      sim.insertCard(helloWorldCardT0());
      await powerAndSet(reader, 1);
      const data = pattern(200, 3);
      expect(await must(reader.slots[0]!.transmit(concat(hex('80 EE 00 00 C8'), data, hex('00'))))).toEqual(
        concat(data, SW_OK),
      );
      // And the hello-world case 1 command still leaves its 61 0C to the application, as ISO 7816-3 §12.2.2 says.
      expect(await must(reader.slots[0]!.transmit(SELECT_HELLO))).toEqual(SW_OK);
      expect(await must(reader.slots[0]!.transmit(HELLO))).toEqual(hex('61 0C'));
      await reader.close();
    },
  );
});

describe('extended APDUs where they cannot go', () => {
  it('the short-APDU reader refuses an extended APDU with a clear error, and keeps working', async () => {
    const { sim, reader, traffic } = await openRig('short-apdu');
    sim.insertCard(helloWorldCardT1());
    await powerAndSet(reader, 2);
    traffic.clear();
    const e = await expectIfd(reader.slots[0]!.transmit(echoExtended(pattern(300))), IFD.COMMUNICATION_ERROR);
    expect(e.message).toMatch(/extended/i);
    expect(traffic.ofType(PC_to_RDR_XfrBlock)).toEqual([]);
    // Even a small extended APDU is refused.
    await expectIfd(reader.slots[0]!.transmit(echoExtended(pattern(10))), IFD.COMMUNICATION_ERROR);
    expect(await must(reader.slots[0]!.transmit(SELECT_HELLO))).toEqual(SW_OK);
    await reader.close();
  });

  it('a T=0 card on a TPDU reader refuses an extended APDU with a clear error, and keeps working', async () => {
    const { sim, reader, traffic } = await openRig('gempc-twin');
    sim.insertCard(helloWorldCardT0());
    await powerAndSet(reader, 1);
    traffic.clear();
    const e = await expectIfd(reader.slots[0]!.transmit(echoExtended(pattern(300))), IFD.COMMUNICATION_ERROR);
    expect(e.message).toMatch(/T=0/);
    expect(traffic.ofType(PC_to_RDR_XfrBlock)).toEqual([]);
    expect(await must(reader.slots[0]!.transmit(SELECT_HELLO))).toEqual(SW_OK);
    await reader.close();
  });
});

describe('PPS and specific mode', () => {
  it('T=1 on a card whose default is T=0: the driver exchanges PPS, then sets T=1 parameters', async () => {
    const { sim, reader, traffic } = await openRig('gempc-twin');
    const card = dualProtocolCard();
    sim.insertCard(card);
    const slot = reader.slots[0]!;
    expect(await must(slot.power('up'))).toEqual(card.atr);
    expect(card.protocol).toBe(0);
    traffic.clear();
    await must(slot.setProtocol(2));
    const [pps, ...rest] = traffic.ofType(PC_to_RDR_XfrBlock);
    expect(pps).toBeDefined();
    // PPSS FF, PPS0 = 0x10 | T=1, PPS1 = TA1 0x96 (250 kbps at 4 MHz, under dwMaxDataRate 344086), PCK.
    expect(pps!.data).toEqual(hex('FF 11 96 78'));
    // The card took it: T=1 at Fi/Di 0x96.
    expect(card.protocol).toBe(1);
    expect(card.parameters.fidi).toBe(0x96);
    expect(slot.fidi).toBe(0x96);
    const setParams = traffic.ofType(PC_to_RDR_SetParameters);
    expect(setParams.length).toBe(1);
    expect(setParams[0]!.b7).toBe(1);
    expect(setParams[0]!.data[0]).toBe(0x96);
    // Next comes S(IFS request) then the applets.
    expect(rest.length).toBe(1);
    expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);
    expect(await must(slot.transmit(HELLO))).toEqual(HELLO_RESPONSE);
    await reader.close();
  });

  it('T=0 on the same card: PPS for the faster rate, T=0 parameters', async () => {
    const { sim, reader, traffic } = await openRig('gempc-twin');
    const card = dualProtocolCard();
    sim.insertCard(card);
    const slot = reader.slots[0]!;
    await must(slot.power('up'));
    traffic.clear();
    await must(slot.setProtocol(1));
    const pps = traffic.ofType(PC_to_RDR_XfrBlock);
    expect(pps.map((f) => f.data)).toEqual([hex('FF 10 96 79')]);
    expect(card.protocol).toBe(0);
    expect(card.parameters.fidi).toBe(0x96);
    expect(traffic.ofType(PC_to_RDR_SetParameters).map((f) => [f.b7, f.data[0]])).toEqual([[0, 0x96]]);
    expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);
    await reader.close();
  });

  it('a reader that negotiates itself (dwFeatures 0x80) gets no PPS from the driver', async () => {
    const { sim, reader, traffic } = await openRig('short-apdu');
    sim.insertCard(dualProtocolCard());
    await must(reader.slots[0]!.power('up'));
    traffic.clear();
    await must(reader.slots[0]!.setProtocol(1));
    expect(traffic.ofType(PC_to_RDR_XfrBlock)).toEqual([]);
    expect(await must(reader.slots[0]!.transmit(SELECT_HELLO))).toEqual(SW_OK);
    await reader.close();
  });

  it.each([
    { protocol: 1 as const, wanted: 2 as const },
    { protocol: 0 as const, wanted: 1 as const },
  ])('a specific-mode card (TA2, T=$protocol) gets no PPS and works at TA1', async ({ protocol, wanted }) => {
    const { sim, reader, traffic } = await openRig('gempc-twin');
    const card = specificModeCard({ protocol });
    sim.insertCard(card);
    const slot = reader.slots[0]!;
    expect(await must(slot.power('up'))).toEqual(card.atr);
    traffic.clear();
    await must(slot.setProtocol(wanted));
    expect(traffic.ofType(PC_to_RDR_XfrBlock).filter((f) => f.data[0] === 0xff)).toEqual([]);
    expect(traffic.ofType(PC_to_RDR_SetParameters).map((f) => [f.b7, f.data[0]])).toEqual([[protocol, 0x96]]);
    expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);
    await reader.close();
  });

  it('a specific-mode card refuses the other protocol with IFD_PROTOCOL_NOT_SUPPORTED', async () => {
    const { sim, reader } = await openRig('gempc-twin');
    sim.insertCard(specificModeCard({ protocol: 1 }));
    await must(reader.slots[0]!.power('up'));
    const e = await expectIfd(reader.slots[0]!.setProtocol(1), IFD.PROTOCOL_NOT_SUPPORTED);
    expect(e.message).toMatch(/specific mode/);
    // The card stays usable in its own protocol.
    await must(reader.slots[0]!.setProtocol(2));
    expect(await must(reader.slots[0]!.transmit(SELECT_HELLO))).toEqual(SW_OK);
    await reader.close();
  });
});

describe('voltage selection', () => {
  const classB = () =>
    new SimulatedCard({ atr: { protocols: [1], ta1: 0x13, t1: { ifsc: 254, bwi: 4, cwi: 5 }, classes: ['B'] } });

  it('a 1.8 V card on a reader without automatic voltage: 5 V, then 1.8 V', async () => {
    const { sim, reader, traffic } = await openRig('gempc-twin');
    const card = lowVoltageCard();
    sim.insertCard(card);
    traffic.clear();
    expect(await must(reader.slots[0]!.power('up'))).toEqual(card.atr);
    expect(traffic.ofType(PC_to_RDR_IccPowerOn).map((f) => f.b7)).toEqual([1, 3]);
    await must(reader.slots[0]!.setProtocol(2));
    expect(await must(reader.slots[0]!.transmit(SELECT_HELLO))).toEqual(SW_OK);
    await reader.close();
  });

  it('a 3 V card: 5 V, 1.8 V, then 3 V, as libccid steps', async () => {
    const { sim, reader, traffic } = await openRig('gempc-twin');
    const card = classB();
    sim.insertCard(card);
    traffic.clear();
    expect(await must(reader.slots[0]!.power('up'))).toEqual(card.atr);
    expect(traffic.ofType(PC_to_RDR_IccPowerOn).map((f) => f.b7)).toEqual([1, 3, 2]);
    await reader.close();
  });

  it('a 5 V card is powered at the first try', async () => {
    const { sim, reader, traffic } = await openRig('gempc-twin');
    sim.insertCard(helloWorldCardT1());
    traffic.clear();
    await must(reader.slots[0]!.power('up'));
    expect(traffic.ofType(PC_to_RDR_IccPowerOn).map((f) => f.b7)).toEqual([1]);
    await reader.close();
  });

  it('a reader with automatic voltage selection gets bPowerSelect 0 once', async () => {
    const { sim, reader, traffic } = await openRig('short-apdu');
    const card = classB();
    sim.insertCard(card);
    traffic.clear();
    expect(await must(reader.slots[0]!.power('up'))).toEqual(card.atr);
    expect(traffic.ofType(PC_to_RDR_IccPowerOn).map((f) => f.b7)).toEqual([0]);
    await reader.close();
  });

  it('a 5 V-only reader tries 5 V alone and fails a 1.8 V card with IFD_ERROR_POWER_ACTION', async () => {
    const { sim, reader, traffic } = await openRig('descriptor-after-endpoint');
    sim.insertCard(lowVoltageCard());
    traffic.clear();
    await expectIfd(reader.slots[0]!.power('up'), IFD.ERROR_POWER_ACTION);
    expect(traffic.ofType(PC_to_RDR_IccPowerOn).map((f) => f.b7)).toEqual([1]);
    await reader.close();
  });
});

describe('character-level reader (O2Micro OZ776, readers/Oz776S.txt)', () => {
  const wLevel = (f: { b8: number; b9: number }) => f.b8 | (f.b9 << 8);

  it('runs T=0 procedure bytes in the driver: header, then exactly the characters the card will send', async () => {
    const { sim, reader, traffic } = await openRig('character-level');
    expect(reader.level).toBe('character');
    const card = helloWorldCardT0();
    sim.insertCard(card);
    expect(await must(reader.slots[0]!.power('up'))).toEqual(card.atr);
    await must(reader.slots[0]!.setProtocol(1));
    traffic.clear();
    // Case 3: header → INS procedure byte (1 character asked), data → SW1 (1), then SW2 (1).
    expect(await must(reader.slots[0]!.transmit(SELECT_HELLO))).toEqual(SW_OK);
    const select = traffic.ofType(PC_to_RDR_XfrBlock);
    expect(select.map((f) => [f.data.length, wLevel(f)])).toEqual([
      [5, 1],
      [10, 1],
      [0, 1],
    ]);
    traffic.clear();
    // Case 2 (GET RESPONSE, Le 0C): header → INS; then 12 data characters and the next procedure byte (SW1); SW2.
    expect(await must(reader.slots[0]!.transmit(HELLO))).toEqual(hex('61 0C'));
    traffic.clear();
    expect(await must(reader.slots[0]!.transmit(hex('00 C0 00 00 0C')))).toEqual(
      concat(new TextEncoder().encode('Hello world!'), SW_OK),
    );
    expect(traffic.ofType(PC_to_RDR_XfrBlock).map((f) => [f.data.length, wLevel(f)])).toEqual([
      [5, 1],
      [0, 13],
      [0, 1],
    ]);
    await reader.close();
  });

  it('frames T=1 blocks from their prologue: 3 characters, then LEN + EDC', async () => {
    const { sim, reader, traffic } = await openRig('character-level');
    sim.insertCard(helloWorldCardT1());
    await must(reader.slots[0]!.power('up'));
    await must(reader.slots[0]!.setProtocol(2));
    traffic.clear();
    expect(await must(reader.slots[0]!.transmit(SELECT_HELLO))).toEqual(SW_OK);
    const frames = traffic.ofType(PC_to_RDR_XfrBlock);
    // I-block with the 15-byte APDU (3 + 15 + LRC), then the 2-byte answer's INF (90 00) + LRC.
    expect(frames.map((f) => [f.data.length, wLevel(f)])).toEqual([
      [19, 3],
      [0, 3],
    ]);
    await reader.close();
  });

  it('a card that stops answering mid-command fails the command, not the reader', async () => {
    const { sim, reader } = await openRig('character-level');
    sim.insertCard(helloWorldCardT0());
    await must(reader.slots[0]!.power('up'));
    await must(reader.slots[0]!.setProtocol(1));
    sim.injectFault({ kind: 'mute' });
    // The reader reports ICC_MUTE (CCID 1.1 §6.2.6): the card's waiting time ran out.
    await expectIfd(reader.slots[0]!.transmit(SELECT_HELLO), IFD.RESPONSE_TIMEOUT);
    sim.unmute();
    await must(reader.slots[0]!.power('reset'));
    await must(reader.slots[0]!.setProtocol(1));
    expect(await must(reader.slots[0]!.transmit(SELECT_HELLO))).toEqual(SW_OK);
    await reader.close();
  });
});
