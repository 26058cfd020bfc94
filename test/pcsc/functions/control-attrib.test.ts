/**
 * Reference §2 rows Control, GetAttrib, SetAttrib (winscard_clnt.c SCardControl / SCardGetSetAttrib, winscard.c,
 * ifdwrapper.c IFDControl mapping) and UnitaryTests BufferOverflow_SCardControl.c / BufferOverflow_SCardGetAttrib.c.
 */
import { describe, expect, it } from 'vitest';
import { IFD } from '../../../src/ifd/errors.js';
import {
  CM_IOCTL_GET_FEATURE_REQUEST,
  MAX_BUFFER_SIZE_EXTENDED,
  SCARD_ATTR_ATR_STRING,
  SCARD_ATTR_DEVICE_FRIENDLY_NAME,
  SCARD_ATTR_DEVICE_FRIENDLY_NAME_W,
  SCARD_ATTR_DEVICE_SYSTEM_NAME,
  SCARD_ATTR_VENDOR_NAME,
  SCARD_CTL_CODE,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_PARAMETER,
  SCARD_E_NOT_TRANSACTED,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_SHARING_VIOLATION,
  SCARD_E_UNSUPPORTED_FEATURE,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_SHARED,
  SCARD_STATE_UNAVAILABLE,
  SCARD_W_RESET_CARD,
} from '../../../src/pcsc/index.js';
import { helloWorldCardT1 } from '../../../src/sim/index.js';
import {
  ascii,
  concat,
  expectBytes,
  fails,
  first,
  ok,
  rig,
  waitState,
  twoHandles as sharedTwoHandles,
} from './fixture.js';

const T1 = SCARD_PROTOCOL_T1;

/** Two SHARED handles of two clients on one simulated reader with a card. */
const twoHandles = (profile: 'gempc-twin' | 'pinpad' = 'gempc-twin') => sharedTwoHandles({ profile });

/** Two handles on a fake reader: `flagged` has a pending W_RESET_CARD. */
async function fakeHandles() {
  const r = rig();
  const { reader, names } = await r.addFake();
  const c = await r.client();
  const name = first(names);
  const h = (await ok(c.client.SCardConnect(c.ctx, name, SCARD_SHARE_SHARED, T1))).hCard;
  const flagged = (await ok(c.client.SCardConnect(c.ctx, name, SCARD_SHARE_SHARED, T1))).hCard;
  await ok(c.client.SCardReconnect(h, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD));
  return { r, slot: reader.slot0, name, ...c, h, flagged };
}

describe('SCardControl', () => {
  it('GET_FEATURE_REQUEST returns the part 10 TLVs (6 bytes each: tag, 4, ioctl big-endian)', async () => {
    const { a, ha } = await twoHandles('pinpad');
    const { output } = await ok(a.client.SCardControl(ha, CM_IOCTL_GET_FEATURE_REQUEST, Uint8Array.of(0)));
    expect(output.length % 6).toBe(0);
    expect(output.length).toBeGreaterThan(0);
    for (let i = 0; i < output.length; i += 6) expect(output[i + 1]).toBe(4);
  });

  it('check 1: unknown handle → SCARD_E_INVALID_HANDLE (also with an oversized input)', async () => {
    const { a } = await twoHandles();
    await fails(a.client.SCardControl(0x888, CM_IOCTL_GET_FEATURE_REQUEST, new Uint8Array(0)), SCARD_E_INVALID_HANDLE);
    await fails(
      a.client.SCardControl(0x888, CM_IOCTL_GET_FEATURE_REQUEST, new Uint8Array(MAX_BUFFER_SIZE_EXTENDED + 1)),
      SCARD_E_INVALID_HANDLE,
      'oversized',
    );
  });

  it('check 2: input > 65548 → SCARD_E_INSUFFICIENT_BUFFER, before the sharing check', async () => {
    const { a, b, ha, hb } = await twoHandles();
    await fails(
      b.client.SCardControl(hb, CM_IOCTL_GET_FEATURE_REQUEST, new Uint8Array(MAX_BUFFER_SIZE_EXTENDED + 1)),
      SCARD_E_INSUFFICIENT_BUFFER,
    );
    await ok(a.client.SCardBeginTransaction(ha));
    await fails(
      b.client.SCardControl(hb, CM_IOCTL_GET_FEATURE_REQUEST, new Uint8Array(MAX_BUFFER_SIZE_EXTENDED + 1)),
      SCARD_E_INSUFFICIENT_BUFFER,
      'during a transaction',
    );
  });

  it("check 3: another handle's transaction → SCARD_E_SHARING_VIOLATION at once ✔", async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardBeginTransaction(ha));
    await fails(b.client.SCardControl(hb, CM_IOCTL_GET_FEATURE_REQUEST, Uint8Array.of(0)), SCARD_E_SHARING_VIOLATION);
    await ok(a.client.SCardControl(ha, CM_IOCTL_GET_FEATURE_REQUEST, Uint8Array.of(0)), 'the holder');
  });

  it('check 4: empty input reaches an IFD handler v3 driver (the INVALID_PARAMETER check of winscard.c is for v2 drivers only)', async () => {
    const { client, slot, h } = await fakeHandles();
    slot.controlHandler = () => Uint8Array.of(1, 2, 3);
    expectBytes(
      (await ok(client.SCardControl(h, SCARD_CTL_CODE(1), new Uint8Array(0)))).output,
      Uint8Array.of(1, 2, 3),
    );
    expect(slot.calls).toContain('control 42000001 ');
  });

  it('check 5: reader in error → SCARD_E_READER_UNAVAILABLE; driver says no such device → READER_UNAVAILABLE', async () => {
    const f = await fakeHandles();
    f.slot.controlFailure = IFD.NO_SUCH_DEVICE;
    await fails(
      f.client.SCardControl(f.h, SCARD_CTL_CODE(1), Uint8Array.of(0)),
      SCARD_E_READER_UNAVAILABLE,
      'IFD_NO_SUCH_DEVICE',
    );
    f.slot.controlFailure = undefined;
    f.slot.breakDown();
    await waitState(f.client, f.ctx, f.name, SCARD_STATE_UNAVAILABLE);
    await fails(
      f.client.SCardControl(f.h, SCARD_CTL_CODE(1), Uint8Array.of(0)),
      SCARD_E_READER_UNAVAILABLE,
      'reader in error',
    );
  });

  it('check 6: not supported → SCARD_E_UNSUPPORTED_FEATURE ✔ (IFD_ERROR_NOT_SUPPORTED, IFD_NOT_SUPPORTED; the CCID driver on an unknown code)', async () => {
    const f = await fakeHandles();
    f.slot.controlFailure = IFD.ERROR_NOT_SUPPORTED;
    await fails(
      f.client.SCardControl(f.h, SCARD_CTL_CODE(1), Uint8Array.of(0)),
      SCARD_E_UNSUPPORTED_FEATURE,
      'IFD_ERROR_NOT_SUPPORTED',
    );
    f.slot.controlFailure = IFD.NOT_SUPPORTED;
    await fails(
      f.client.SCardControl(f.h, SCARD_CTL_CODE(1), Uint8Array.of(0)),
      SCARD_E_UNSUPPORTED_FEATURE,
      'IFD_NOT_SUPPORTED',
    );
    const { a, ha } = await twoHandles();
    await fails(
      a.client.SCardControl(ha, SCARD_CTL_CODE(3999), Uint8Array.of(0)),
      SCARD_E_UNSUPPORTED_FEATURE,
      'CCID, unknown code',
    );
  });

  it('check 7: other driver failure → SCARD_E_NOT_TRANSACTED', async () => {
    const f = await fakeHandles();
    f.slot.controlFailure = IFD.COMMUNICATION_ERROR;
    await fails(f.client.SCardControl(f.h, SCARD_CTL_CODE(1), Uint8Array.of(0)), SCARD_E_NOT_TRANSACTED);
  });

  it('check 8: no pending-event or card check: a flagged handle, and a DIRECT handle on an empty slot, both get an answer', async () => {
    const f = await fakeHandles();
    f.slot.controlHandler = () => Uint8Array.of(0x42);
    expectBytes(
      (await ok(f.client.SCardControl(f.flagged, SCARD_CTL_CODE(1), Uint8Array.of(0)))).output,
      Uint8Array.of(0x42),
      'flagged',
    );
    await fails(f.client.SCardStatus(f.flagged), SCARD_W_RESET_CARD, 'the flag is still there');
    const r = rig();
    const { names } = await r.addSim({ profile: 'gempc-twin' });
    const { client, ctx } = await r.client();
    const { hCard } = await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_DIRECT, 0));
    await ok(client.SCardControl(hCard, CM_IOCTL_GET_FEATURE_REQUEST, Uint8Array.of(0)), 'DIRECT, empty slot');
  });

  it('BufferOverflow_SCardControl.c: GET_FEATURE_REQUEST into 3 bytes → INSUFFICIENT_BUFFER with the length; enough succeeds; 65549 is no overflow', async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'pinpad', cards: [helloWorldCardT1()] });
    const { client, ctx } = await r.client();
    const { hCard } = await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_DIRECT, T1));
    const full = (await ok(client.SCardControl(hCard, CM_IOCTL_GET_FEATURE_REQUEST, new Uint8Array(0)))).output;
    expect(full.length).toBeGreaterThan(3);
    const e = await fails(
      client.SCardControl(hCard, CM_IOCTL_GET_FEATURE_REQUEST, new Uint8Array(0), { recvLength: 3 }),
      SCARD_E_INSUFFICIENT_BUFFER,
    );
    expect(e.needed).toBe(full.length);
    expectBytes(
      (await ok(client.SCardControl(hCard, CM_IOCTL_GET_FEATURE_REQUEST, new Uint8Array(0), { recvLength: 264 })))
        .output,
      full,
      '264',
    );
    expectBytes(
      (
        await ok(
          client.SCardControl(hCard, CM_IOCTL_GET_FEATURE_REQUEST, new Uint8Array(0), {
            recvLength: MAX_BUFFER_SIZE_EXTENDED + 1,
          }),
        )
      ).output,
      full,
      '65549',
    );
  });
});

describe('SCardGetAttrib', () => {
  it('libccid answers ATR_STRING (the card ATR) and VENDOR_NAME', async () => {
    const { a, ha, card } = await twoHandles();
    expectBytes((await ok(a.client.SCardGetAttrib(ha, SCARD_ATTR_ATR_STRING))).attr, card.atr, 'ATR_STRING');
    expect((await ok(a.client.SCardGetAttrib(ha, SCARD_ATTR_VENDOR_NAME))).attr.length).toBeGreaterThan(0);
  });

  it('check 1: unknown handle → SCARD_E_INVALID_HANDLE', async () => {
    const { a } = await twoHandles();
    await fails(a.client.SCardGetAttrib(0x888, SCARD_ATTR_ATR_STRING), SCARD_E_INVALID_HANDLE);
  });

  it("check 2: another handle's transaction → SCARD_E_SHARING_VIOLATION at once ✔, before the pending-event check", async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(b.client.SCardReconnect(hb, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD)); // flags ha
    await ok(b.client.SCardBeginTransaction(hb));
    await fails(a.client.SCardGetAttrib(ha, SCARD_ATTR_ATR_STRING), SCARD_E_SHARING_VIOLATION);
  });

  it('reader in error → SCARD_E_READER_UNAVAILABLE, before the pending-event check', async () => {
    const f = await fakeHandles();
    f.slot.breakDown();
    await waitState(f.client, f.ctx, f.name, SCARD_STATE_UNAVAILABLE);
    await fails(f.client.SCardGetAttrib(f.flagged, SCARD_ATTR_ATR_STRING), SCARD_E_READER_UNAVAILABLE);
  });

  it('check 3: pending event → SCARD_W_RESET_CARD', async () => {
    const f = await fakeHandles();
    await fails(f.client.SCardGetAttrib(f.flagged, SCARD_ATTR_DEVICE_FRIENDLY_NAME), SCARD_W_RESET_CARD);
  });

  it('check 4: unknown tag → SCARD_E_UNSUPPORTED_FEATURE ✔ (FRIENDLY_NAME_W is not the fallback)', async () => {
    const { a, ha } = await twoHandles();
    await fails(a.client.SCardGetAttrib(ha, 0x7fff0001), SCARD_E_UNSUPPORTED_FEATURE, 'DEVICE_UNIT');
    await fails(a.client.SCardGetAttrib(ha, 0x00123456), SCARD_E_UNSUPPORTED_FEATURE, 'made-up tag');
    await fails(
      a.client.SCardGetAttrib(ha, SCARD_ATTR_DEVICE_FRIENDLY_NAME_W),
      SCARD_E_UNSUPPORTED_FEATURE,
      'FRIENDLY_NAME_W',
    );
  });

  it('check 4 fallback: FRIENDLY_NAME / SYSTEM_NAME unknown to the driver → the reader name + NUL; too small → INSUFFICIENT_BUFFER with the length', async () => {
    const { a, ha, reader } = await twoHandles();
    const expected = concat(ascii(reader), Uint8Array.of(0));
    expectBytes(
      (await ok(a.client.SCardGetAttrib(ha, SCARD_ATTR_DEVICE_FRIENDLY_NAME))).attr,
      expected,
      'FRIENDLY_NAME',
    );
    expectBytes((await ok(a.client.SCardGetAttrib(ha, SCARD_ATTR_DEVICE_SYSTEM_NAME))).attr, expected, 'SYSTEM_NAME');
    const e = await fails(
      a.client.SCardGetAttrib(ha, SCARD_ATTR_DEVICE_FRIENDLY_NAME, { bufferLength: reader.length }),
      SCARD_E_INSUFFICIENT_BUFFER,
    );
    expect(e.needed).toBe(reader.length + 1);
    expectBytes(
      (await ok(a.client.SCardGetAttrib(ha, SCARD_ATTR_DEVICE_FRIENDLY_NAME, { bufferLength: reader.length + 1 })))
        .attr,
      expected,
      'exact',
    );
  });

  it('the driver answer wins over the name fallback', async () => {
    const f = await fakeHandles();
    f.slot.attributes.set(SCARD_ATTR_DEVICE_FRIENDLY_NAME, ascii('driver name'));
    expectBytes((await ok(f.client.SCardGetAttrib(f.h, SCARD_ATTR_DEVICE_FRIENDLY_NAME))).attr, ascii('driver name'));
  });

  it('check 5: other driver failure → SCARD_E_NOT_TRANSACTED; IFD_ERROR_INSUFFICIENT_BUFFER → INSUFFICIENT_BUFFER', async () => {
    const f = await fakeHandles();
    f.slot.attributeFailure = IFD.COMMUNICATION_ERROR;
    await fails(f.client.SCardGetAttrib(f.h, SCARD_ATTR_ATR_STRING), SCARD_E_NOT_TRANSACTED);
    f.slot.attributeFailure = IFD.ERROR_INSUFFICIENT_BUFFER;
    await fails(
      f.client.SCardGetAttrib(f.h, SCARD_ATTR_ATR_STRING),
      SCARD_E_INSUFFICIENT_BUFFER,
      'IFD_ERROR_INSUFFICIENT_BUFFER',
    );
  });

  it('INSUFFICIENT_BUFFER: an ATR into a buffer one byte short → the ATR length is needed', async () => {
    const { a, ha, card } = await twoHandles();
    const e = await fails(
      a.client.SCardGetAttrib(ha, SCARD_ATTR_ATR_STRING, { bufferLength: card.atr.length - 1 }),
      SCARD_E_INSUFFICIENT_BUFFER,
    );
    expect(e.needed).toBe(card.atr.length);
  });

  it('BufferOverflow_SCardGetAttrib.c: a 265-byte buffer is refused by the client (> MAX_BUFFER_SIZE → INSUFFICIENT_BUFFER); 264 is OK', async () => {
    const { a, ha, card } = await twoHandles();
    await fails(a.client.SCardGetAttrib(ha, SCARD_ATTR_ATR_STRING, { bufferLength: 265 }), SCARD_E_INSUFFICIENT_BUFFER);
    expectBytes(
      (await ok(a.client.SCardGetAttrib(ha, SCARD_ATTR_ATR_STRING, { bufferLength: 264 }))).attr,
      card.atr,
      '264',
    );
  });
});

describe('SCardSetAttrib', () => {
  it('check 1: empty value → SCARD_E_INVALID_PARAMETER ✔, before the handle lookup', async () => {
    const { a, ha } = await twoHandles();
    await fails(a.client.SCardSetAttrib(ha, SCARD_ATTR_ATR_STRING, new Uint8Array(0)), SCARD_E_INVALID_PARAMETER);
    await fails(
      a.client.SCardSetAttrib(0x888, SCARD_ATTR_ATR_STRING, new Uint8Array(0)),
      SCARD_E_INVALID_PARAMETER,
      'unknown handle',
    );
  });

  it('check 2: value > 264 → SCARD_E_INSUFFICIENT_BUFFER (after the handle lookup); 264 passes to the driver', async () => {
    const f = await fakeHandles();
    f.slot.setAttributeFailure = undefined;
    await fails(f.client.SCardSetAttrib(f.h, 0x00076543, new Uint8Array(265)), SCARD_E_INSUFFICIENT_BUFFER);
    await fails(
      f.client.SCardSetAttrib(0x888, 0x00076543, new Uint8Array(265)),
      SCARD_E_INVALID_HANDLE,
      'unknown handle',
    );
    await ok(f.client.SCardSetAttrib(f.h, 0x00076543, new Uint8Array(264).fill(7)));
    expect(f.slot.setAttributes.map((s) => s.value.length)).toEqual([264]);
  });

  it('then as GetAttrib: unknown handle → INVALID_HANDLE; transaction of another handle → SHARING_VIOLATION; pending event → W_RESET_CARD', async () => {
    const { a, b, ha, hb } = await twoHandles();
    await fails(a.client.SCardSetAttrib(0x888, SCARD_ATTR_ATR_STRING, Uint8Array.of(0)), SCARD_E_INVALID_HANDLE);
    await ok(b.client.SCardReconnect(hb, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD));
    await ok(b.client.SCardBeginTransaction(hb));
    await fails(
      a.client.SCardSetAttrib(ha, SCARD_ATTR_ATR_STRING, Uint8Array.of(0)),
      SCARD_E_SHARING_VIOLATION,
      'during a transaction',
    );
    await ok(b.client.SCardDisconnect(hb, 0));
    await fails(a.client.SCardSetAttrib(ha, SCARD_ATTR_ATR_STRING, Uint8Array.of(0)), SCARD_W_RESET_CARD, 'flagged');
  });

  it('driver answers: IFD_ERROR_TAG → UNSUPPORTED_FEATURE; any other failure → NOT_TRANSACTED (the CCID driver refuses every tag: testpcsc.c)', async () => {
    const f = await fakeHandles();
    f.slot.setAttributeFailure = IFD.ERROR_TAG;
    await fails(
      f.client.SCardSetAttrib(f.h, SCARD_ATTR_ATR_STRING, Uint8Array.of(0)),
      SCARD_E_UNSUPPORTED_FEATURE,
      'IFD_ERROR_TAG',
    );
    f.slot.setAttributeFailure = IFD.NOT_SUPPORTED;
    await fails(
      f.client.SCardSetAttrib(f.h, SCARD_ATTR_ATR_STRING, Uint8Array.of(0)),
      SCARD_E_NOT_TRANSACTED,
      'IFD_NOT_SUPPORTED',
    );
    f.slot.setAttributeFailure = IFD.ERROR_NOT_SUPPORTED;
    await fails(
      f.client.SCardSetAttrib(f.h, SCARD_ATTR_ATR_STRING, Uint8Array.of(0)),
      SCARD_E_NOT_TRANSACTED,
      'IFD_ERROR_NOT_SUPPORTED',
    );
    const { a, ha } = await twoHandles();
    await fails(
      a.client.SCardSetAttrib(ha, SCARD_ATTR_ATR_STRING, Uint8Array.of(0)),
      SCARD_E_NOT_TRANSACTED,
      'CCID driver',
    );
  });
});
