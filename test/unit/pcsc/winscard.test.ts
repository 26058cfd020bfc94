/**
 * The server side of the SCard* functions (winscard.c) over a scripted driver: pcscd's checks in pcscd's order, the
 * driver failures as the PC/SC codes pcscd returns, the card state each call leaves behind.
 */
import { describe, expect, it } from 'vitest';
import { IFD } from '../../../src/ifd/index.js';
import {
  SCARD_ABSENT,
  SCARD_ATTR_ATR_STRING,
  SCARD_ATTR_DEVICE_FRIENDLY_NAME_A,
  SCARD_ATTR_VENDOR_NAME,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NOT_TRANSACTED,
  SCARD_E_NO_SMARTCARD,
  SCARD_E_PROTO_MISMATCH,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_SHARING_VIOLATION,
  SCARD_E_UNKNOWN_READER,
  SCARD_E_UNSUPPORTED_FEATURE,
  SCARD_EJECT_CARD,
  SCARD_LEAVE_CARD,
  SCARD_NEGOTIABLE,
  SCARD_POWERED,
  SCARD_PRESENT,
  SCARD_PROTOCOL_ANY_OLD,
  SCARD_PROTOCOL_RAW,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_PROTOCOL_UNDEFINED,
  SCARD_RESET_CARD,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_SWALLOWED,
  SCARD_UNKNOWN,
  SCARD_UNPOWER_CARD,
  SCARD_W_RESET_CARD,
  SCARD_W_UNPOWERED_CARD,
  SCARD_W_UNRESPONSIVE_CARD,
} from '../../../src/pcsc/constants.js';
import { PcscError } from '../../../src/pcsc/errors.js';
import { HandleAllocator } from '../../../src/pcsc/handles.js';
import { ReaderFactory } from '../../../src/pcsc/reader-factory.js';
import { Winscard } from '../../../src/pcsc/winscard.js';
import { DUAL_ATR, FakeReader, ManualClock, T1_ATR, flush } from './fake-ifd.js';

const NAME = 'Fake Reader 00 00';
const T0_OR_T1 = SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1;
const SW_OK = Uint8Array.of(0x90, 0x00);

async function setup(options: { atr?: Uint8Array; present?: boolean } = {}) {
  const readers = new ReaderFactory();
  const ids = new HandleAllocator();
  const logs: string[] = [];
  const log = (level: string, message: string): void => void logs.push(`${level} ${message}`);
  const clock = new ManualClock();
  const server = new Winscard(readers, ids, log);
  const reader = new FakeReader();
  const driver = reader.slot0;
  driver.atr = options.atr ?? T1_ATR;
  driver.present = options.present ?? true;
  const [slot] = readers.create(reader, { signalClients: () => undefined, powerOffGraceMs: 5000, timers: clock, log });
  if (slot === undefined) throw new Error('no slot');
  await slot.start();
  driver.calls.length = 0;
  return { readers, ids, logs, clock, server, reader, driver, slot };
}

/** The PcscError a call fails with (sync or async). */
async function failure(call: () => unknown): Promise<PcscError> {
  try {
    await call();
  } catch (e) {
    if (e instanceof PcscError) return e;
    throw e;
  }
  throw new Error('the call succeeded');
}

async function codeOf(call: () => unknown): Promise<number> {
  return (await failure(call)).code;
}

/** SCardConnect(SHARED) to the fake reader, as a call for `codeOf`. */
const connectShared =
  (server: Winscard, protocol: number = SCARD_PROTOCOL_T1) =>
  () =>
    server.connect(NAME, SCARD_SHARE_SHARED, protocol);

describe('SCardConnect', () => {
  it('checks the protocols, then the share mode, then the reader name', async () => {
    const { server } = await setup();
    expect(await codeOf(() => server.connect('nope', 9, 0))).toBe(SCARD_E_PROTO_MISMATCH);
    expect(await codeOf(() => server.connect('nope', 9, SCARD_PROTOCOL_T1))).toBe(SCARD_E_INVALID_VALUE);
    const unknown = await codeOf(() => server.connect('nope', SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1));
    expect(unknown).toBe(SCARD_E_UNKNOWN_READER);
  });

  it('negotiates T=1 with the driver and hands out a handle', async () => {
    const { server, driver, slot } = await setup();
    const r = await server.connect(NAME, SCARD_SHARE_SHARED, T0_OR_T1);
    expect(r.dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    expect(r.slot).toBe(slot);
    expect(driver.calls).toEqual(['setProtocol 2']);
    expect(slot.handles.has(r.hCard)).toBe(true);
    expect(slot.contexts).toBe(1);
    expect(slot.powerState).toBe('in-use');
    // a second connection reuses the negotiated protocol: no second PPS
    await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(driver.calls).toEqual(['setProtocol 2']);
  });

  it('refuses a protocol the card does not offer, or other than the one already negotiated', async () => {
    const { server } = await setup();
    const e = await failure(() => server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0));
    expect(e.code).toBe(SCARD_E_PROTO_MISMATCH);
    expect(e.message).toContain('offers protocols 0x2, none of the requested 0x1');
    const dual = await setup({ atr: DUAL_ATR });
    await dual.server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(await codeOf(connectShared(dual.server, SCARD_PROTOCOL_T0))).toBe(SCARD_E_PROTO_MISMATCH);
  });

  it('falls back to the default protocol when the driver cannot do the PPS (IFD_PROTOCOL_NOT_SUPPORTED)', async () => {
    const { server, driver, logs } = await setup({ atr: DUAL_ATR });
    driver.fail.setProtocol = IFD.PROTOCOL_NOT_SUPPORTED;
    const r = await server.connect(NAME, SCARD_SHARE_SHARED, T0_OR_T1);
    expect(r.dwActiveProtocol).toBe(SCARD_PROTOCOL_T0);
    expect(logs).toContain(`warn ${NAME}: setting T=1 failed: IFD_PROTOCOL_NOT_SUPPORTED: fake: PPS`);
  });

  it('a failing PPS is SCARD_W_UNRESPONSIVE_CARD, and no handle is made', async () => {
    const { server, driver, slot } = await setup();
    driver.fail.setProtocol = IFD.COMMUNICATION_ERROR;
    expect(await codeOf(connectShared(server))).toBe(SCARD_W_UNRESPONSIVE_CARD);
    expect(slot.handles.size).toBe(0);
    expect(slot.cardProtocol).toBe(SCARD_PROTOCOL_UNDEFINED);
  });

  it('RAW takes the card as is, without a PPS', async () => {
    const { server, driver } = await setup();
    const r = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_RAW);
    expect(r.dwActiveProtocol).toBe(SCARD_PROTOCOL_RAW);
    expect(driver.calls).toEqual([]);
  });

  it('no card: SCARD_E_NO_SMARTCARD, except for a direct connection, which gets no protocol', async () => {
    const { server, driver } = await setup({ present: false });
    expect(await codeOf(connectShared(server))).toBe(SCARD_E_NO_SMARTCARD);
    const r = await server.connect(NAME, SCARD_SHARE_DIRECT, 0);
    expect(r.dwActiveProtocol).toBe(SCARD_PROTOCOL_UNDEFINED);
    expect(driver.calls).toEqual([]);
  });

  it('a reader in error is SCARD_E_READER_UNAVAILABLE, checked before the card', async () => {
    const { server, driver } = await setup({ present: false });
    driver.fail.presence = IFD.COMMUNICATION_ERROR;
    driver.setCard(false);
    await flush();
    expect(await codeOf(connectShared(server))).toBe(SCARD_E_READER_UNAVAILABLE);
  });

  it('a mute card is SCARD_W_UNPOWERED_CARD', async () => {
    const { server, slot } = await setup();
    slot.readerState = SCARD_PRESENT | SCARD_SWALLOWED;
    slot.powerState = 'in-use';
    expect(await codeOf(connectShared(server))).toBe(SCARD_W_UNPOWERED_CARD);
  });

  it('powers up again a card the grace period powered down', async () => {
    const { server, driver, slot, clock } = await setup();
    await clock.advance(5000);
    expect(slot.powerState).toBe('unpowered');
    driver.calls.length = 0;
    const r = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(driver.calls).toEqual(['iccPresence', 'power up', 'setProtocol 2']);
    expect(r.dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    expect(slot.powerState).toBe('in-use');
  });

  it('exclusive means alone: either way round, SCARD_E_SHARING_VIOLATION', async () => {
    const { server } = await setup();
    await server.connect(NAME, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1);
    expect(await codeOf(connectShared(server))).toBe(SCARD_E_SHARING_VIOLATION);
    const other = await setup();
    await other.server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const e = await failure(() => other.server.connect(NAME, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1));
    expect(e.code).toBe(SCARD_E_SHARING_VIOLATION);
    expect(other.slot.contexts).toBe(1);
  });
});

describe('SCardTransmit', () => {
  it('sends the APDU to the driver and returns its answer', async () => {
    const { server, driver } = await setup();
    driver.transmitHandler = () => Uint8Array.of(0x61, 0x62, 0x90, 0x00);
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(await server.transmit(hCard, SCARD_PROTOCOL_T1, Uint8Array.of(0, 0xb0, 0, 0, 2), 258)).toEqual(
      Uint8Array.of(0x61, 0x62, 0x90, 0x00),
    );
  });

  it('translates the driver failures: NO_SUCH_DEVICE, ICC_NOT_PRESENT, and the rest', async () => {
    const { server, driver, slot } = await setup();
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const send = () => server.transmit(hCard, SCARD_PROTOCOL_T1, Uint8Array.of(0, 0, 0, 0), 258);
    driver.fail.transmit = IFD.COMMUNICATION_ERROR;
    const e = await failure(send);
    expect(e.code).toBe(SCARD_E_NOT_TRANSACTED);
    expect(e.message).toContain(
      `the exchange with the card in "${NAME}" failed: IFD_COMMUNICATION_ERROR: fake: transmit`,
    );
    driver.fail.transmit = IFD.RESPONSE_TIMEOUT;
    expect(await codeOf(send)).toBe(SCARD_E_NOT_TRANSACTED);
    driver.fail.transmit = IFD.NO_SUCH_DEVICE;
    expect(await codeOf(send)).toBe(SCARD_E_READER_UNAVAILABLE);
    expect(slot.readerState).toBe(SCARD_PRESENT | SCARD_POWERED | SCARD_NEGOTIABLE);
    // the card left during the exchange: the reader forgets it at once, before the event handler notices
    driver.fail.transmit = IFD.ICC_NOT_PRESENT;
    expect(await codeOf(send)).toBe(SCARD_E_NO_SMARTCARD);
    expect(slot.readerState).toBe(SCARD_ABSENT);
    expect(slot.atr).toEqual(new Uint8Array(0));
    expect(slot.cardProtocol).toBe(SCARD_PROTOCOL_UNDEFINED);
    driver.fail.transmit = undefined;
    expect(await codeOf(send)).toBe(SCARD_E_NO_SMARTCARD);
  });

  it('a response longer than the buffer: INSUFFICIENT_BUFFER with the length needed (the APDU ran)', async () => {
    const { server, driver } = await setup();
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    driver.transmitHandler = () => new Uint8Array(10);
    const e = await failure(() => server.transmit(hCard, SCARD_PROTOCOL_T1, Uint8Array.of(0, 0, 0, 0), 9));
    expect(e.code).toBe(SCARD_E_INSUFFICIENT_BUFFER);
    expect(e.needed).toBe(10);
    expect(driver.calls).toContain('transmit 4');
  });

  it('the PCI protocol must be the card protocol (or RAW / ANY_OLD)', async () => {
    const { server, driver } = await setup();
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(await codeOf(() => server.transmit(hCard, SCARD_PROTOCOL_T0, SW_OK, 258))).toBe(SCARD_E_PROTO_MISMATCH);
    expect(driver.calls.filter((c) => c.startsWith('transmit'))).toEqual([]);
    await server.transmit(hCard, SCARD_PROTOCOL_RAW, SW_OK, 258);
    await server.transmit(hCard, SCARD_PROTOCOL_ANY_OLD, SW_OK, 258);
    expect(driver.calls.filter((c) => c.startsWith('transmit'))).toHaveLength(2);
  });

  it("checks another handle's transaction first, then the reader, then the handle's pending event", async () => {
    const { server, slot } = await setup();
    const a = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const b = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    server.beginTransaction(a.hCard);
    slot.setEventState('reset');
    slot.readerState = SCARD_UNKNOWN;
    const send = (h: number) => () => server.transmit(h, SCARD_PROTOCOL_T1, SW_OK, 258);
    expect(await codeOf(send(b.hCard))).toBe(SCARD_E_SHARING_VIOLATION);
    expect(await codeOf(send(a.hCard))).toBe(SCARD_E_READER_UNAVAILABLE);
    slot.readerState = SCARD_PRESENT | SCARD_POWERED | SCARD_NEGOTIABLE;
    expect(await codeOf(send(a.hCard))).toBe(SCARD_W_RESET_CARD);
  });

  it('a handle in no reader is SCARD_E_INVALID_VALUE', async () => {
    const { server } = await setup();
    expect(await codeOf(() => server.transmit(0x1234, SCARD_PROTOCOL_T1, SW_OK, 258))).toBe(SCARD_E_INVALID_VALUE);
  });
});

describe('SCardStatus', () => {
  it('reports the state with the event counter in the high word', async () => {
    const { server, slot } = await setup();
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    slot.eventCounter = 3;
    const s = server.status(hCard, NAME);
    expect(s).toEqual({
      szReaderName: NAME,
      dwState: (3 << 16) | SCARD_PRESENT | SCARD_POWERED | SCARD_NEGOTIABLE,
      dwProtocol: SCARD_PROTOCOL_T1,
      atr: T1_ATR,
    });
  });

  it('checks the pending event before the reader status (unlike Transmit)', async () => {
    const { server, slot } = await setup();
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    slot.setEventState('reset');
    slot.readerState = SCARD_UNKNOWN;
    expect(await codeOf(() => server.status(hCard, NAME))).toBe(SCARD_W_RESET_CARD);
  });
});

describe('SCardControl', () => {
  it('works on a direct connection without a card, and checks the receive buffer', async () => {
    const { server, driver } = await setup({ present: false });
    driver.controlHandler = () => Uint8Array.of(1, 2, 3);
    const { hCard } = await server.connect(NAME, SCARD_SHARE_DIRECT, 0);
    expect(await server.control(hCard, 0x42000d48, new Uint8Array(0), undefined)).toEqual(Uint8Array.of(1, 2, 3));
    const e = await failure(() => server.control(hCard, 0x42000d48, new Uint8Array(0), 2));
    expect(e.code).toBe(SCARD_E_INSUFFICIENT_BUFFER);
    expect(e.needed).toBe(3);
  });

  it('translates the driver failures', async () => {
    const { server, driver } = await setup();
    const { hCard } = await server.connect(NAME, SCARD_SHARE_DIRECT, 0);
    const call = () => server.control(hCard, 0x42000d48, Uint8Array.of(1), undefined);
    driver.fail.control = IFD.NOT_SUPPORTED;
    const e = await failure(call);
    expect(e.code).toBe(SCARD_E_UNSUPPORTED_FEATURE);
    expect(e.message).toContain(`"${NAME}" does not support control code 0x42000D48`);
    driver.fail.control = IFD.ERROR_NOT_SUPPORTED;
    expect(await codeOf(call)).toBe(SCARD_E_UNSUPPORTED_FEATURE);
    driver.fail.control = IFD.ERROR_INSUFFICIENT_BUFFER;
    expect(await codeOf(call)).toBe(SCARD_E_INSUFFICIENT_BUFFER);
    driver.fail.control = IFD.NO_SUCH_DEVICE;
    expect(await codeOf(call)).toBe(SCARD_E_READER_UNAVAILABLE);
    driver.fail.control = IFD.COMMUNICATION_ERROR;
    expect(await codeOf(call)).toBe(SCARD_E_NOT_TRANSACTED);
  });

  it('a reader in error is refused before the driver is asked', async () => {
    const { server, driver, slot } = await setup();
    const { hCard } = await server.connect(NAME, SCARD_SHARE_DIRECT, 0);
    slot.readerState = SCARD_UNKNOWN;
    expect(await codeOf(() => server.control(hCard, 1, new Uint8Array(0), undefined))).toBe(SCARD_E_READER_UNAVAILABLE);
    expect(driver.calls.filter((c) => c.startsWith('control'))).toEqual([]);
  });
});

describe('SCardGetAttrib / SCardSetAttrib', () => {
  it("answers the driver's value, or the reader name for FRIENDLY_NAME, else SCARD_E_UNSUPPORTED_FEATURE", async () => {
    const { server, driver } = await setup();
    driver.attributes.set(SCARD_ATTR_ATR_STRING, T1_ATR);
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(server.getAttrib(hCard, SCARD_ATTR_ATR_STRING, undefined)).toEqual(T1_ATR);
    const name = server.getAttrib(hCard, SCARD_ATTR_DEVICE_FRIENDLY_NAME_A, undefined);
    expect(new TextDecoder().decode(name)).toBe(`${NAME}\0`);
    const vendor = await codeOf(() => server.getAttrib(hCard, SCARD_ATTR_VENDOR_NAME, undefined));
    expect(vendor).toBe(SCARD_E_UNSUPPORTED_FEATURE);
    const e = await failure(() => server.getAttrib(hCard, SCARD_ATTR_ATR_STRING, 3));
    expect(e.code).toBe(SCARD_E_INSUFFICIENT_BUFFER);
    expect(e.needed).toBe(T1_ATR.length);
  });

  it('translates the driver failures of GetAttrib', async () => {
    const { server, driver } = await setup();
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const get = () => server.getAttrib(hCard, SCARD_ATTR_ATR_STRING, undefined);
    driver.fail.getAttribute = IFD.ERROR_INSUFFICIENT_BUFFER;
    expect(await codeOf(get)).toBe(SCARD_E_INSUFFICIENT_BUFFER);
    driver.fail.getAttribute = IFD.ERROR_TAG;
    expect(await codeOf(get)).toBe(SCARD_E_NOT_TRANSACTED);
  });

  it('SetAttrib: IFD_ERROR_TAG is SCARD_E_UNSUPPORTED_FEATURE, other failures SCARD_E_NOT_TRANSACTED', async () => {
    const { server, driver } = await setup();
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    await server.setAttrib(hCard, 0x7a007, Uint8Array.of(5));
    expect(driver.attributes.get(0x7a007)).toEqual(Uint8Array.of(5));
    driver.fail.setAttribute = IFD.ERROR_TAG;
    expect(await codeOf(() => server.setAttrib(hCard, 0x7a007, Uint8Array.of(5)))).toBe(SCARD_E_UNSUPPORTED_FEATURE);
    driver.fail.setAttribute = IFD.ERROR_SET_FAILURE;
    expect(await codeOf(() => server.setAttrib(hCard, 0x7a007, Uint8Array.of(5)))).toBe(SCARD_E_NOT_TRANSACTED);
  });
});

describe('SCardReconnect', () => {
  it('checks the initialization before anything else', async () => {
    const { server } = await setup();
    const bad = await codeOf(() => server.reconnect(0x1234, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, 9));
    expect(bad).toBe(SCARD_E_INVALID_VALUE);
    expect(await codeOf(() => server.reconnect(0x1234, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD))).toBe(
      SCARD_E_INVALID_VALUE,
    );
  });

  it('RESET resets the card through the driver, flags the other handles, and renegotiates', async () => {
    const { server, driver } = await setup();
    const a = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const b = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    driver.calls.length = 0;
    const protocol = await server.reconnect(a.hCard, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD);
    expect(protocol).toBe(SCARD_PROTOCOL_T1);
    expect(driver.calls).toEqual(['iccPresence', 'power reset', 'setProtocol 2']);
    expect(await codeOf(() => server.status(b.hCard, NAME))).toBe(SCARD_W_RESET_CARD);
    expect(server.status(a.hCard, NAME).dwProtocol).toBe(SCARD_PROTOCOL_T1);
  });

  it('a reset that fails: no card → SCARD_E_NO_SMARTCARD, a mute card → SCARD_W_UNRESPONSIVE_CARD', async () => {
    const { server, driver, slot } = await setup();
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    driver.fail.power = IFD.ERROR_POWER_ACTION;
    expect(await codeOf(() => server.reconnect(hCard, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD))).toBe(
      SCARD_W_UNRESPONSIVE_CARD,
    );
    expect(slot.readerState).toBe(SCARD_PRESENT | SCARD_SWALLOWED);
    driver.present = false;
    expect(await codeOf(() => server.reconnect(hCard, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_UNPOWER_CARD))).toBe(
      SCARD_E_NO_SMARTCARD,
    );
    expect(slot.readerState).toBe(SCARD_ABSENT);
  });
});

describe('SCardDisconnect', () => {
  it('checks the disposition; UNPOWER powers the card down through the driver', async () => {
    const { server, driver, slot, ids } = await setup();
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(await codeOf(() => server.disconnect(hCard, 7))).toBe(SCARD_E_INVALID_VALUE);
    driver.calls.length = 0;
    await server.disconnect(hCard, SCARD_UNPOWER_CARD);
    expect(driver.calls).toEqual(['iccPresence', 'power down']);
    expect(slot.powerState).toBe('unpowered');
    expect(slot.readerState).toBe(SCARD_PRESENT);
    expect(slot.cardProtocol).toBe(SCARD_PROTOCOL_UNDEFINED);
    expect(slot.handles.size).toBe(0);
    expect(ids.size).toBe(0);
  });

  it('LEAVE of the last handle starts a new power-off grace period', async () => {
    const { server, driver, slot, clock } = await setup();
    await clock.advance(3000);
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    await server.disconnect(hCard, SCARD_LEAVE_CARD);
    expect(slot.powerState).toBe('powered');
    expect(clock.pending).toEqual([5000]);
    await clock.advance(2000); // the insertion's timer would have fired here
    expect(driver.calls).not.toContain('power down');
    await clock.advance(3000);
    expect(driver.calls).toContain('power down');
    expect(slot.powerState).toBe('unpowered');
  });

  it('EJECT succeeds and leaves the card as it is (pcscd: the v2-only eject fails, the disconnect does not)', async () => {
    const { server, driver, slot, ids } = await setup();
    const a = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const b = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    driver.calls.length = 0;
    await server.disconnect(a.hCard, SCARD_EJECT_CARD);
    expect(driver.calls.filter((c) => c.startsWith('power'))).toEqual([]);
    expect(slot.readerState & SCARD_POWERED).toBe(SCARD_POWERED);
    expect(slot.cardProtocol).toBe(SCARD_PROTOCOL_T1);
    // No reset event: the other handle goes on without W_RESET_CARD.
    expect(await server.transmit(b.hCard, SCARD_PROTOCOL_T1, SW_OK, 258)).toBeInstanceOf(Uint8Array);
    await server.disconnect(b.hCard, SCARD_LEAVE_CARD);
    expect(ids.size).toBe(0);
  });

  it('a handle of a removed reader disconnects without error ("ignore reader removal")', async () => {
    const { server, readers, reader, slot, ids } = await setup();
    const { hCard } = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    readers.remove(reader);
    slot.detach();
    expect(await codeOf(() => server.transmit(hCard, SCARD_PROTOCOL_T1, SW_OK, 258))).toBe(SCARD_E_INVALID_VALUE);
    await server.disconnect(hCard, SCARD_RESET_CARD);
    expect(ids.size).toBe(0);
  });
});

describe('transactions', () => {
  it('Begin is refused while another handle holds the lock; End without a transaction is NOT_TRANSACTED', async () => {
    const { server } = await setup();
    const a = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const b = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(await codeOf(() => server.endTransaction(a.hCard, SCARD_LEAVE_CARD))).toBe(SCARD_E_NOT_TRANSACTED);
    server.beginTransaction(a.hCard);
    expect(await codeOf(() => server.beginTransaction(b.hCard))).toBe(SCARD_E_SHARING_VIOLATION);
    expect(await codeOf(() => server.endTransaction(b.hCard, SCARD_RESET_CARD))).toBe(SCARD_E_SHARING_VIOLATION);
    await server.endTransaction(a.hCard, SCARD_LEAVE_CARD);
    server.beginTransaction(b.hCard);
  });

  it('End with EJECT is UNSUPPORTED_FEATURE, holding the lock or not, and still releases the lock', async () => {
    const { server, driver, slot } = await setup();
    const a = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const b = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    driver.calls.length = 0;
    // Not holding: pcscd's UNSUPPORTED_FEATURE is not replaced by RFUnlockSharing's NOT_TRANSACTED.
    expect(await codeOf(() => server.endTransaction(a.hCard, SCARD_EJECT_CARD))).toBe(SCARD_E_UNSUPPORTED_FEATURE);
    server.beginTransaction(a.hCard);
    const e = await failure(() => server.endTransaction(a.hCard, SCARD_EJECT_CARD));
    expect(e.code).toBe(SCARD_E_UNSUPPORTED_FEATURE);
    expect(e.message).toContain('cannot eject');
    expect(slot.lockId).toBe(0);
    server.beginTransaction(b.hCard); // the lock was released
    // Another handle's transaction: SHARING_VIOLATION comes first, as for any disposition but LEAVE.
    expect(await codeOf(() => server.endTransaction(a.hCard, SCARD_EJECT_CARD))).toBe(SCARD_E_SHARING_VIOLATION);
    expect(driver.calls.filter((c) => c.startsWith('power'))).toEqual([]);
    // No reset event either: the holder goes on without W_RESET_CARD.
    expect(await server.transmit(b.hCard, SCARD_PROTOCOL_T1, SW_OK, 258)).toBeInstanceOf(Uint8Array);
  });

  it('Reconnect refuses EJECT as an initialization (INVALID_VALUE), as pcscd does', async () => {
    const { server } = await setup();
    const a = await server.connect(NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const e = await failure(() => server.reconnect(a.hCard, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_EJECT_CARD));
    expect(e.code).toBe(SCARD_E_INVALID_VALUE);
  });

  it('End checks the disposition before the handle', async () => {
    const { server } = await setup();
    const e = await failure(() => server.endTransaction(0x1234, 9));
    expect(e.code).toBe(SCARD_E_INVALID_VALUE);
    expect(e.message).toContain('disposition 9');
  });
});
