/**
 * The per-platform declarations of the PC/SC library against the sizes its headers give (with this process's pointer
 * size: the host runs as a native process of the platform's architecture).
 */
import { existsSync } from 'node:fs';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIBRARY, loadWinscard, winscardTypes } from '../../../src/host/system/winscard-ffi.js';

const P = koffi.sizeof('void *');
const align = (n: number, a: number) => Math.ceil(n / a) * a;

describe('winscard-ffi declarations', () => {
  it('Linux (pcsc-lite): DWORD/LONG are C long, SCARD_READERSTATE naturally aligned with a 33-byte ATR', () => {
    const t = winscardTypes('linux');
    const L = koffi.sizeof('long');
    expect(koffi.sizeof(t.DWORD)).toBe(L);
    expect(koffi.sizeof(t.LONG)).toBe(L);
    expect(koffi.sizeof(t.HANDLE)).toBe(L);
    // szReader, pvUserData, dwCurrentState, dwEventState, cbAtr, rgbAtr[MAX_ATR_SIZE = 33]
    expect(koffi.sizeof(t.SCARD_READERSTATE)).toBe(align(2 * P + 3 * L + 33, Math.max(P, L)));
    expect(koffi.offsetof(t.SCARD_READERSTATE, 'rgbAtr')).toBe(2 * P + 3 * L);
    expect(koffi.sizeof(t.SCARD_IO_REQUEST)).toBe(2 * L);
    if (P === 8) expect(koffi.sizeof(t.SCARD_READERSTATE)).toBe(80); // x86_64 / aarch64, as measured
  });

  it('macOS (PCSC.framework): 32-bit DWORD/LONG/handles, SCARD_READERSTATE packed (#pragma pack(1))', () => {
    const t = winscardTypes('darwin');
    expect(koffi.sizeof(t.DWORD)).toBe(4);
    expect(koffi.sizeof(t.LONG)).toBe(4);
    expect(koffi.sizeof(t.HANDLE)).toBe(4);
    expect(koffi.sizeof(t.SCARD_READERSTATE)).toBe(2 * P + 12 + 33);
    expect(koffi.offsetof(t.SCARD_READERSTATE, 'rgbAtr')).toBe(2 * P + 12);
    expect(koffi.sizeof(t.SCARD_IO_REQUEST)).toBe(8);
    if (P === 8) expect(koffi.sizeof(t.SCARD_READERSTATE)).toBe(61);
  });

  it('Windows (winscard.dll): 32-bit DWORD/LONG, pointer-sized handles, SCARD_READERSTATEA with a 36-byte ATR', () => {
    const t = winscardTypes('win32');
    expect(koffi.sizeof(t.DWORD)).toBe(4);
    expect(koffi.sizeof(t.LONG)).toBe(4);
    expect(koffi.sizeof(t.HANDLE)).toBe(P);
    expect(t.atrFieldSize).toBe(36);
    expect(koffi.sizeof(t.SCARD_READERSTATE)).toBe(align(2 * P + 12 + 36, P));
    expect(koffi.sizeof(t.SCARD_IO_REQUEST)).toBe(8);
    if (P === 8) expect(koffi.sizeof(t.SCARD_READERSTATE)).toBe(64);
  });

  it("names each platform's library", () => {
    expect(DEFAULT_LIBRARY).toEqual({
      linux: 'libpcsclite.so.1',
      darwin: '/System/Library/Frameworks/PCSC.framework/PCSC',
      win32: 'winscard.dll',
    });
  });

  const libpcsclite = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].some((d) =>
    existsSync(`${d}/libpcsclite.so.1`),
  );
  const skipLinux = process.platform !== 'linux' || (!libpcsclite && !process.env.CI);
  if (process.platform === 'linux' && !libpcsclite && !process.env.CI) {
    console.log('skipping the libpcsclite load test: libpcsclite.so.1 not installed (apt-get install libpcsclite1)');
  }
  it.skipIf(skipLinux)('loads libpcsclite; its own g_rgSCardT1Pci matches our SCARD_IO_REQUEST', () => {
    const lib = loadWinscard('linux');
    // The library's constants carry cbPciLength = sizeof(SCARD_IO_REQUEST) as compiled: a check of our layout.
    const t0 = koffi.decode(lib.pci.T0, lib.types.SCARD_IO_REQUEST) as { dwProtocol: number; cbPciLength: number };
    const t1 = koffi.decode(lib.pci.T1, lib.types.SCARD_IO_REQUEST) as { dwProtocol: number; cbPciLength: number };
    const raw = koffi.decode(lib.pci.RAW, lib.types.SCARD_IO_REQUEST) as { dwProtocol: number; cbPciLength: number };
    expect([t0.dwProtocol, t1.dwProtocol, raw.dwProtocol]).toEqual([1, 2, 4]);
    expect(Number(t1.cbPciLength)).toBe(koffi.sizeof(lib.types.SCARD_IO_REQUEST));
  });
});
