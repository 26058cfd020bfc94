/**
 * pcsc-lite reference §3 "Reader names" (RFSetReaderName, RFAddReader): "<name>[ [<interface>]][ (<serial>)] XX YY",
 * XX the first free index among readers of the same driver, YY the slot; §3 "Limits": 16 reader slots.
 */
import { describe, expect, it } from 'vitest';
import { SCARD_E_NO_MEMORY, type PcscDaemon } from '../../../src/pcsc/index.js';
import { closeRigsAfterEach, FakeReader, expectCode, fakeRig, ok, openSim, rig, settle } from './fixture.js';

const useRig = closeRigsAfterEach();
async function useFake(readers: FakeReader[]): Promise<{ daemon: PcscDaemon; names: string[] }> {
  return useRig(fakeRig(readers, { clients: 0 }));
}

describe('§3 Reader names', () => {
  it('a single-slot CCID reader is "<friendly name> 00 00" (no interface, no serial)', async () => {
    const r = await useRig(rig());
    expect(r.names).toEqual([`${r.readers[0]!.friendlyName} 00 00`]);
    expect(r.daemon.readerNames).toEqual(r.names);
  });

  it('name format: " [interface]" then " (serial)", in that order', async () => {
    const { names } = await useFake([
      new FakeReader('Acme Reader', { interfaceName: 'CCID Interface', serialNumber: 'SN123' }),
    ]);
    expect(names).toEqual(['Acme Reader [CCID Interface] (SN123) 00 00']);
  });

  it('the serial is left out when the interface string already contains it', async () => {
    const { names } = await useFake([
      new FakeReader('Acme Reader', { interfaceName: 'Acme SN123 iface', serialNumber: 'SN123' }),
    ]);
    expect(names).toEqual(['Acme Reader [Acme SN123 iface] 00 00']);
  });

  it('non-ASCII in the interface string becomes "." (one per UTF-8 byte)', async () => {
    const { names } = await useFake([new FakeReader('Acme Reader', { interfaceName: 'Lecteur é' })]);
    expect(names).toEqual(['Acme Reader [Lecteur ..] 00 00']);
  });

  it('the name part is cut to 121 characters before " XX YY" (MAX_READERNAME 128 with the NUL)', async () => {
    const long = 'R'.repeat(200);
    const { names } = await useFake([new FakeReader(long)]);
    expect(names).toEqual([`${'R'.repeat(121)} 00 00`]);
  });

  it('two readers of the same model get indexes 00 and 01 ✔', async () => {
    const r = await useRig(rig({ sims: [{}, {}] }));
    const base = r.readers[0]!.friendlyName;
    expect(r.names).toEqual([`${base} 00 00`, `${base} 01 00`]);
  });

  it('a two-slot reader gives "… 00 00" and "… 00 01" ✔', async () => {
    const r = await useRig(rig({ sims: [{ profile: 'two-slot', cards: [] }] }));
    const base = r.readers[0]!.friendlyName;
    expect(r.names).toEqual([`${base} 00 00`, `${base} 00 01`]);
  });

  it('XX is the first free index: after the 00 reader goes, a new reader of the same model takes 00 again', async () => {
    const r = await useRig(rig({ sims: [{}, {}] }));
    const base = r.readers[0]!.friendlyName;
    await ok(r.daemon.removeReader(r.readers[0]!), 'removeReader');
    expect(r.daemon.readerNames).toEqual([`${base} 01 00`]);
    const added = await r.addSim();
    expect(added.names).toEqual([`${base} 00 00`]);
  });

  it('ListReaders gives every slot, in slot order ✔', async () => {
    const r = await useRig(rig({ sims: [{ profile: 'two-slot', cards: [] }, {}] }));
    const c = r.clients[0]!;
    const { readers } = await ok(c.api.SCardListReaders(c.ctx, null));
    expect(readers).toEqual(r.names);
    expect(readers).toHaveLength(3);
  });

  it('§3 Limits: 16 reader slots; a 17th reader is refused (RFAddReader: SCARD_E_NO_MEMORY) and the 16 stay', async () => {
    const readers = Array.from({ length: 16 }, (_, i) => new FakeReader(`Fake ${i}`));
    const { daemon, names } = await useFake(readers);
    expect(names).toHaveLength(16);
    await expectCode(daemon.addReader(new FakeReader('One too many')), SCARD_E_NO_MEMORY, 'addReader #17');
    expect(daemon.readerNames).toEqual(names);
  });

  it('a reader removed and unplugged leaves the list; its slot is free for another reader', async () => {
    const r = await useRig(rig({ sims: [{}] }));
    r.sims[0]!.unplug();
    r.readers[0]!.markRemoved();
    await settle(r.daemon.removeReader(r.readers[0]!));
    expect(r.daemon.readerNames).toEqual([]);
    const other = await openSim();
    const n = await ok(r.daemon.addReader(other.reader));
    expect(n).toEqual([`${other.reader.friendlyName} 00 00`]);
  });
});
