/**
 * Reference §2 rows ListReaders and ListReaderGroups (winscard_clnt.c SCardListReaders / SCardListReaderGroups).
 */
import { describe, expect, it } from 'vitest';
import {
  SCARD_DEFAULT_READERS,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_NO_READERS_AVAILABLE,
} from '../../../src/pcsc/index.js';
import { helloWorldCardT1 } from '../../../src/sim/index.js';
import { FakeReader, fails, ok, rig, until } from './fixture.js';

/** pcsc-lite's multi-string length: every name + NUL, plus the final NUL. */
const multiStringLength = (names: string[]): number => names.reduce((n, s) => n + s.length + 1, 0) + 1;

describe('SCardListReaders', () => {
  it('check 1: unknown context → SCARD_E_INVALID_HANDLE, before the no-readers check', async () => {
    const { client } = await rig().client();
    await fails(client.SCardListReaders(0x5a5a5a), SCARD_E_INVALID_HANDLE, 'no readers and an unknown context');
  });

  it('check 2: no readers → SCARD_E_NO_READERS_AVAILABLE, also with a too-small buffer (the size check comes later)', async () => {
    const { client, ctx } = await rig().client();
    await fails(client.SCardListReaders(ctx), SCARD_E_NO_READERS_AVAILABLE);
    await fails(
      client.SCardListReaders(ctx, null, { bufferLength: 0 }),
      SCARD_E_NO_READERS_AVAILABLE,
      'bufferLength 0',
    );
  });

  it('check 2: after the last reader is removed → SCARD_E_NO_READERS_AVAILABLE again', async () => {
    const r = rig();
    const { reader } = await r.addFake();
    const { client, ctx } = await r.client();
    expect((await ok(client.SCardListReaders(ctx))).readers).toHaveLength(1);
    await ok(r.daemon.removeReader(reader));
    await fails(client.SCardListReaders(ctx), SCARD_E_NO_READERS_AVAILABLE);
  });

  it('check 3: buffer too small → SCARD_E_INSUFFICIENT_BUFFER with the required size (names + NULs + final NUL); exact size succeeds', async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'two-slot', cards: [helloWorldCardT1()] });
    const { client, ctx } = await r.client();
    const needed = multiStringLength(names);
    const e = await fails(
      client.SCardListReaders(ctx, null, { bufferLength: needed - 1 }),
      SCARD_E_INSUFFICIENT_BUFFER,
    );
    expect(e.needed).toBe(needed);
    const e0 = await fails(
      client.SCardListReaders(ctx, null, { bufferLength: 0 }),
      SCARD_E_INSUFFICIENT_BUFFER,
      'bufferLength 0',
    );
    expect(e0.needed).toBe(needed);
    expect((await ok(client.SCardListReaders(ctx, null, { bufferLength: needed }))).readers).toEqual(names);
  });

  it('groups are ignored: any group string (or none) lists every reader', async () => {
    const r = rig();
    const { names } = await r.addFake();
    const { client, ctx } = await r.client();
    for (const groups of [undefined, null, SCARD_DEFAULT_READERS, 'No Such Group', '']) {
      expect((await ok(client.SCardListReaders(ctx, groups))).readers, String(groups)).toEqual(names);
    }
  });

  it('order is slot order ✔: a two-slot reader lists "… 00 00" then "… 00 01"; a reader added later comes after', async () => {
    const r = rig();
    const first = await r.addSim({ profile: 'two-slot', cards: [helloWorldCardT1()] });
    const second = await r.addFake(new FakeReader('Second Fake'));
    const { client, ctx } = await r.client();
    const { readers } = await ok(client.SCardListReaders(ctx));
    expect(readers).toEqual([...first.names, ...second.names]);
    expect(first.names).toHaveLength(2);
    expect(first.names[0]).toBe(`${first.reader.friendlyName} 00 00`);
    expect(first.names[1]).toBe(`${first.reader.friendlyName} 00 01`);
    expect(second.names).toHaveLength(1);
    expect(second.names[0]).toMatch(/^Second Fake [0-9A-F]{2} 00$/);
  });

  it('removing the first reader keeps the order of the others; a new reader takes the first free slot', async () => {
    const r = rig();
    const a = await r.addFake(new FakeReader('Alpha'));
    const b = await r.addFake(new FakeReader('Beta'));
    const { client, ctx } = await r.client();
    await ok(r.daemon.removeReader(a.reader));
    await until(async () => (await ok(client.SCardListReaders(ctx))).readers.length === 1, 'one reader left');
    expect((await ok(client.SCardListReaders(ctx))).readers).toEqual(b.names);
    const c = await r.addFake(new FakeReader('Gamma'));
    expect((await ok(client.SCardListReaders(ctx))).readers).toEqual([...c.names, ...b.names]);
  });
});

describe('SCardListReaderGroups', () => {
  it('unknown context → SCARD_E_INVALID_HANDLE', async () => {
    const { client } = await rig().client();
    await fails(client.SCardListReaderGroups(0x77), SCARD_E_INVALID_HANDLE);
  });

  it('result is ["SCard$DefaultReaders"] ✔, with or without readers', async () => {
    const r = rig();
    const { client, ctx } = await r.client();
    expect((await ok(client.SCardListReaderGroups(ctx))).groups).toEqual(['SCard$DefaultReaders']);
    await r.addFake();
    expect((await ok(client.SCardListReaderGroups(ctx))).groups).toEqual(['SCard$DefaultReaders']);
  });

  it('a buffer under 22 characters ("SCard$DefaultReaders" + 2 NULs) → SCARD_E_INSUFFICIENT_BUFFER with 22; 22 succeeds', async () => {
    const { client, ctx } = await rig().client();
    const e = await fails(client.SCardListReaderGroups(ctx, { bufferLength: 21 }), SCARD_E_INSUFFICIENT_BUFFER);
    expect(e.needed).toBe(22);
    expect((await ok(client.SCardListReaderGroups(ctx, { bufferLength: 22 }))).groups).toEqual([
      'SCard$DefaultReaders',
    ]);
  });
});
