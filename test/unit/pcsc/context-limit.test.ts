import { describe, expect, it } from 'vitest';
import { PcscDaemon, PcscError, SCARD_E_NO_MEMORY, SCARD_SCOPE_SYSTEM } from '../../../src/pcsc/index.js';

async function fill(client: ReturnType<PcscDaemon['connect']>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
}

async function code(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof PcscError ? e.code : -1;
  }
}

describe('the 200-context limit (pcscd PCSC_MAX_CONTEXT_THREADS)', () => {
  it("is shared by all clients by default, as in pcscd: one client's 200 contexts refuse another's", async () => {
    const daemon = new PcscDaemon();
    const hog = daemon.connect({ name: 'hog' });
    const other = daemon.connect({ name: 'other' });
    await fill(hog, 200);
    expect(await code(other.SCardEstablishContext(SCARD_SCOPE_SYSTEM))).toBe(SCARD_E_NO_MEMORY);
    await hog.close();
    expect(await code(other.SCardEstablishContext(SCARD_SCOPE_SYSTEM))).toBeUndefined();
    await daemon.shutdown();
  });

  it("with contextLimitScope 'client', each client has its own 200: a hog cannot lock the others out", async () => {
    const daemon = new PcscDaemon({ contextLimitScope: 'client' });
    const hog = daemon.connect({ name: 'hog' });
    const other = daemon.connect({ name: 'other' });
    await fill(hog, 200);
    const refused = await code(hog.SCardEstablishContext(SCARD_SCOPE_SYSTEM));
    expect(refused).toBe(SCARD_E_NO_MEMORY);
    expect(await code(other.SCardEstablishContext(SCARD_SCOPE_SYSTEM))).toBeUndefined();
    await daemon.shutdown();
  });
});
