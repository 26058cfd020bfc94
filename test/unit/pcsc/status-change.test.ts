import { describe, expect, it } from 'vitest';
import {
  SCARD_ABSENT,
  SCARD_NEGOTIABLE,
  SCARD_POWERED,
  SCARD_PRESENT,
  SCARD_STATE_CHANGED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_EXCLUSIVE,
  SCARD_STATE_IGNORE,
  SCARD_STATE_INUSE,
  SCARD_STATE_MUTE,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAVAILABLE,
  SCARD_STATE_UNKNOWN,
  SCARD_SWALLOWED,
  SCARD_UNKNOWN,
  PNP_NOTIFICATION_READER_NAME,
} from '../../../src/pcsc/constants.js';
import { evaluateEntry, evaluatePass, type ReaderSnapshot } from '../../../src/pcsc/status-change.js';

const ATR = Uint8Array.of(0x3b, 0x00);
const CARD = SCARD_PRESENT | SCARD_POWERED | SCARD_NEGOTIABLE;
const reader = (over: Partial<ReaderSnapshot> = {}): ReaderSnapshot => ({
  name: 'R 00 00',
  eventCounter: 1,
  readerState: CARD,
  readerSharing: 0,
  atr: ATR,
  ...over,
});
const ev = (current: number, r: ReaderSnapshot[] = [reader()], name = 'R 00 00') =>
  evaluateEntry({ szReader: name, dwCurrentState: current }, 0, new Uint8Array(0), r, r.length);

describe('GetStatusChange evaluation (winscard_clnt.c)', () => {
  it('gives the observed values: idle card, in use, exclusive, empty, after removal', () => {
    expect(ev(0).dwEventState).toBe(0x0001_0022);
    expect(ev(0, [reader({ readerSharing: 2 })]).dwEventState).toBe(0x0001_0122);
    expect(ev(0, [reader({ readerSharing: -1 })]).dwEventState).toBe(0x0001_00a2);
    expect(ev(0, [reader({ eventCounter: 0, readerState: SCARD_ABSENT, atr: new Uint8Array(0) })]).dwEventState).toBe(
      0x12,
    );
    expect(ev(0, [reader({ eventCounter: 2, readerState: SCARD_ABSENT })]).dwEventState).toBe(0x0002_0012);
  });

  it('does not fire when nothing changed, and returns the ATR only with a card', () => {
    const r = ev(0x0001_0020);
    expect(r.changed).toBe(false);
    expect(r.dwEventState).toBe(0x0001_0020);
    expect(r.rgbAtr).toEqual(ATR);
    expect(ev(SCARD_STATE_EMPTY, [reader({ readerState: SCARD_ABSENT })]).rgbAtr.length).toBe(0);
  });

  it('fires on a different event counter, on EMPTY→PRESENT and PRESENT→EMPTY', () => {
    expect(ev(0x0005_0020).changed).toBe(true);
    expect(ev(SCARD_STATE_EMPTY).changed).toBe(true);
    expect(ev(SCARD_STATE_PRESENT, [reader({ readerState: SCARD_ABSENT })]).changed).toBe(true);
  });

  it('free → in use alone does not fire; in use → free and exclusive ↔ in use do', () => {
    expect(ev(SCARD_STATE_PRESENT, [reader({ readerSharing: 1 })]).changed).toBe(false);
    expect(ev(SCARD_STATE_PRESENT, [reader({ readerSharing: -1 })]).changed).toBe(false);
    expect(ev(SCARD_STATE_PRESENT | SCARD_STATE_INUSE).changed).toBe(true);
    expect(ev(SCARD_STATE_PRESENT | SCARD_STATE_EXCLUSIVE, [reader({ readerSharing: 1 })]).changed).toBe(true);
    expect(ev(SCARD_STATE_PRESENT | SCARD_STATE_INUSE, [reader({ readerSharing: -1 })]).changed).toBe(true);
  });

  it('reports a mute card as PRESENT | MUTE', () => {
    const r = ev(SCARD_STATE_PRESENT, [reader({ readerState: SCARD_PRESENT | SCARD_SWALLOWED })]);
    expect(r.dwEventState & 0xffff).toBe(SCARD_STATE_PRESENT | SCARD_STATE_MUTE | SCARD_STATE_CHANGED);
  });

  it('a vanished reader is UNKNOWN | UNAVAILABLE, CHANGED unless already known so', () => {
    expect(ev(SCARD_STATE_PRESENT, []).dwEventState).toBe(
      SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE | SCARD_STATE_CHANGED,
    );
    expect(ev(SCARD_STATE_UNKNOWN, []).changed).toBe(false);
    expect(ev(SCARD_STATE_UNKNOWN).changed).toBe(true);
  });

  it('a reader in error is UNAVAILABLE (without the counter)', () => {
    const r = ev(0x0001_0020, [reader({ readerState: SCARD_UNKNOWN })]);
    expect(r.dwEventState).toBe(SCARD_STATE_UNAVAILABLE | SCARD_STATE_CHANGED);
    expect(ev(SCARD_STATE_UNAVAILABLE, [reader()]).changed).toBe(true);
  });

  it('IGNORE entries stay as they are', () => {
    const r = ev(SCARD_STATE_IGNORE);
    expect(r).toEqual({ dwEventState: 0, rgbAtr: new Uint8Array(0), changed: false });
  });

  it('PnP fires only when the reader count changes from the start of the call', () => {
    const pnp = {
      szReader: PNP_NOTIFICATION_READER_NAME.toUpperCase(),
      dwCurrentState: 0,
      dwEventState: 0,
      rgbAtr: new Uint8Array(0),
    };
    expect(evaluatePass([pnp], [reader()], 1).changed).toBe(false);
    const p = evaluatePass([pnp], [reader(), reader({ name: 'S 01 00' })], 1);
    expect(p.changed).toBe(true);
    expect(p.entries[0]!.dwEventState).toBe(SCARD_STATE_CHANGED);
    expect(p.readerCount).toBe(2);
  });
});
