/**
 * Fair share of a reader's handles (issue 13, item 6): with per-client limits, one client group (an extension, over all
 * its connections) may hold at most FAIR_READER_HANDLES of a reader's 200 card handles; past it SCardConnect fails with
 * pcscd's code for a reader out of handles, and another app can still connect.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CcidReader } from '../../../src/ccid/reader.js';
import { createSimulatedReader, helloWorldCardT1 } from '../../../src/sim/index.js';
import { FAIR_READER_HANDLES } from '../../../src/pcsc/daemon.js';
import {
  PcscDaemon,
  PcscError,
  SCARD_F_INTERNAL_ERROR,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
} from '../../../src/pcsc/index.js';

let daemons: PcscDaemon[] = [];
afterEach(async () => {
  for (const d of daemons) await d.shutdown();
  daemons = [];
});

async function rig(scope: 'client' | 'daemon') {
  const daemon = new PcscDaemon({ contextLimitScope: scope, powerOffGraceMs: 20 });
  daemons.push(daemon);
  const sim = createSimulatedReader('gempc-twin');
  sim.insertCard(helloWorldCardT1());
  const [name] = await daemon.addReader(await CcidReader.open(sim, { timeoutScale: 0.01 }));
  return { daemon, name: name! };
}

async function connectMany(client: ReturnType<PcscDaemon['connect']>, reader: string, n: number): Promise<void> {
  const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  for (let i = 0; i < n; i++) await client.SCardConnect(hContext, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
}

async function codeOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof PcscError ? e.code : -1;
  }
}

describe("a fair share of each reader's handles", () => {
  it("is a quarter of pcscd's 200 per app, over all its connections; others still connect", async () => {
    const { daemon, name } = await rig('client');
    expect(FAIR_READER_HANDLES).toBe(50);
    const hogA = daemon.connect({ name: 'hog 1', group: 'hog' });
    const hogB = daemon.connect({ name: 'hog 2', group: 'hog' });
    await connectMany(hogA, name, 30);
    await connectMany(hogB, name, 20);
    const { hContext } = await hogB.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const refused = hogB.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(await codeOf(refused)).toBe(SCARD_F_INTERNAL_ERROR);
    await expect(refused).rejects.toThrow(/fair share/);
    const other = daemon.connect({ name: 'hello', group: 'hello-world' });
    await expect(connectMany(other, name, 1)).resolves.toBeUndefined();
    // Freed handles can be taken again.
    await hogA.close();
    await expect(connectMany(hogB, name, 1)).resolves.toBeUndefined();
  });

  it("does not apply with pcscd's own daemon-wide limits", async () => {
    const { daemon, name } = await rig('daemon');
    await expect(connectMany(daemon.connect({ name: 'one' }), name, 60)).resolves.toBeUndefined();
  });
});
