/**
 * The operating system's PC/SC library, declared for koffi per platform, from each platform's own headers:
 *
 * - Linux (pcsc-lite, `wintypes.h` / `pcsclite.h`): `DWORD` = `unsigned long`, `LONG` = `long` (8 bytes on LP64),
 *   `SCARDCONTEXT`/`SCARDHANDLE` = `LONG`, `MAX_ATR_SIZE` 33; `SCARD_READERSTATE` is naturally aligned (80 bytes on
 *   x86_64), `SCARD_IO_REQUEST` is two `unsigned long` (16 bytes).
 * - macOS (PCSC.framework, Apple's `wintypes.h` / `pcsclite.h`): `DWORD` = `uint32_t`, `LONG` = `int32_t`,
 *   `SCARDCONTEXT`/`SCARDHANDLE` = `int32_t`, `MAX_ATR_SIZE` 33, and `SCARD_READERSTATE` is declared under
 *   `#pragma pack(1)` (61 bytes with 64-bit pointers).
 * - Windows (`winscard.h`): `DWORD`/`LONG` are 32-bit, `SCARDCONTEXT`/`SCARDHANDLE` = `ULONG_PTR`, the `A` (ANSI)
 *   variants of the string functions, `SCARD_READERSTATEA` with a 36-byte `rgbAtr` (64 bytes on x64), WINAPI =
 *   __stdcall (only meaningful on 32-bit x86).
 *
 * koffi type names are process-global, so nothing here is registered by name: every type is anonymous, which lets a
 * test declare all three platforms side by side and compare their sizes with the headers'.
 */
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

export type WinscardPlatform = 'linux' | 'darwin' | 'win32';

export interface WinscardTypes {
  platform: WinscardPlatform;
  /** The library's file name, as `dlopen`/`LoadLibrary` takes it. */
  libraryPath: string;
  /** koffi spellings of DWORD, LONG and SCARDCONTEXT/SCARDHANDLE on that platform. */
  DWORD: string;
  LONG: string;
  HANDLE: string;
  /** Size of `rgbAtr` in the reader state structure. */
  atrFieldSize: number;
  SCARD_READERSTATE: TypeObject;
  SCARD_IO_REQUEST: TypeObject;
}

/** The default library of each platform. */
export const DEFAULT_LIBRARY: Record<WinscardPlatform, string> = {
  linux: 'libpcsclite.so.1',
  darwin: '/System/Library/Frameworks/PCSC.framework/PCSC',
  win32: 'winscard.dll',
};

/** Declares the types of one platform's PC/SC headers (pointer sizes are the running process's). */
export function winscardTypes(platform: WinscardPlatform): WinscardTypes {
  const DWORD = platform === 'linux' ? 'unsigned long' : 'uint32_t';
  const LONG = platform === 'linux' ? 'long' : 'int32_t';
  const HANDLE = platform === 'linux' ? 'long' : platform === 'darwin' ? 'int32_t' : 'uintptr_t';
  const atrFieldSize = platform === 'win32' ? 36 : 33;
  const fields = {
    szReader: 'const char *',
    pvUserData: 'void *',
    dwCurrentState: DWORD,
    dwEventState: DWORD,
    cbAtr: DWORD,
    rgbAtr: koffi.array('uint8_t', atrFieldSize, 'Typed'),
  };
  // Apple's pcsclite.h wraps SCARD_READERSTATE in #pragma pack(1); the others use natural alignment.
  const SCARD_READERSTATE = platform === 'darwin' ? koffi.pack(fields) : koffi.struct(fields);
  const SCARD_IO_REQUEST = koffi.struct({ dwProtocol: DWORD, cbPciLength: DWORD });
  return {
    platform,
    libraryPath: DEFAULT_LIBRARY[platform],
    DWORD,
    LONG,
    HANDLE,
    atrFieldSize,
    SCARD_READERSTATE,
    SCARD_IO_REQUEST,
  };
}

/** A koffi parameter type: a C spelling, a declared type or a direction marker. */
type ArgType = Parameters<typeof koffi.out>[0] | ReturnType<typeof koffi.out>;

/** A bound koffi function: call it synchronously, or `.async(...args, callback)` on libuv's thread pool. */
export interface NativeFn {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  (...args: any[]): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async(...args: any[]): void;
}

export interface WinscardLibrary {
  types: WinscardTypes;
  SCardEstablishContext: NativeFn;
  SCardReleaseContext: NativeFn;
  SCardIsValidContext: NativeFn;
  SCardListReaders: NativeFn;
  SCardListReaderGroups: NativeFn;
  SCardConnect: NativeFn;
  SCardReconnect: NativeFn;
  SCardDisconnect: NativeFn;
  SCardBeginTransaction: NativeFn;
  SCardEndTransaction: NativeFn;
  SCardStatus: NativeFn;
  SCardGetStatusChange: NativeFn;
  SCardControl: NativeFn;
  SCardGetAttrib: NativeFn;
  SCardSetAttrib: NativeFn;
  SCardTransmit: NativeFn;
  SCardCancel: NativeFn;
  /** Addresses of the library's exported `g_rgSCardT0Pci`, `g_rgSCardT1Pci`, `g_rgSCardRawPci`. */
  pci: { T0: bigint; T1: bigint; RAW: bigint };
  unload(): void;
}

/** Running platform as a WinscardPlatform, or null where no PC/SC library is known. */
export function currentPlatform(): WinscardPlatform | null {
  const p = process.platform;
  return p === 'linux' || p === 'darwin' || p === 'win32' ? p : null;
}

/** Loads the PC/SC library, binds the 17 functions. Throws koffi's error when the library or a symbol is missing. */
export function loadWinscard(platform: WinscardPlatform, libraryPath?: string): WinscardLibrary {
  const types = winscardTypes(platform);
  const lib = koffi.load(libraryPath ?? types.libraryPath);
  const { DWORD: D, LONG: L, HANDLE: H, SCARD_READERSTATE: RS, SCARD_IO_REQUEST: IO } = types;
  // Windows exports the string functions twice; we use the ANSI (`A`) ones, whose strings are char * like pcsc-lite's.
  const a = platform === 'win32' ? 'A' : '';
  const conv = platform === 'win32' && process.arch === 'ia32' ? '__stdcall' : '';
  const fn = (name: string, args: ArgType[]): NativeFn =>
    conv ? lib.func(conv, name, L, args) : lib.func(name, L, args);
  const outD = koffi.inout(koffi.pointer(D));
  const outH = koffi.out(koffi.pointer(H));
  try {
    return {
      types,
      SCardEstablishContext: fn('SCardEstablishContext', [D, 'const void *', 'const void *', outH]),
      SCardReleaseContext: fn('SCardReleaseContext', [H]),
      SCardIsValidContext: fn('SCardIsValidContext', [H]),
      SCardListReaders: fn(`SCardListReaders${a}`, [H, 'const char *', 'uint8_t *', outD]),
      SCardListReaderGroups: fn(`SCardListReaderGroups${a}`, [H, 'uint8_t *', outD]),
      SCardConnect: fn(`SCardConnect${a}`, [H, 'const char *', D, D, outH, koffi.out(koffi.pointer(D))]),
      SCardReconnect: fn('SCardReconnect', [H, D, D, D, koffi.out(koffi.pointer(D))]),
      SCardDisconnect: fn('SCardDisconnect', [H, D]),
      SCardBeginTransaction: fn('SCardBeginTransaction', [H]),
      SCardEndTransaction: fn('SCardEndTransaction', [H, D]),
      SCardStatus: fn(`SCardStatus${a}`, [
        H,
        'uint8_t *',
        outD,
        koffi.out(koffi.pointer(D)),
        koffi.out(koffi.pointer(D)),
        'uint8_t *',
        outD,
      ]),
      SCardGetStatusChange: fn(`SCardGetStatusChange${a}`, [H, D, koffi.inout(koffi.pointer(RS)), D]),
      SCardControl: fn('SCardControl', [H, D, 'const uint8_t *', D, 'uint8_t *', D, koffi.out(koffi.pointer(D))]),
      SCardGetAttrib: fn('SCardGetAttrib', [H, D, 'uint8_t *', outD]),
      SCardSetAttrib: fn('SCardSetAttrib', [H, D, 'const uint8_t *', D]),
      SCardTransmit: fn('SCardTransmit', [
        H,
        'const void *',
        'const uint8_t *',
        D,
        koffi.out(koffi.pointer(IO)),
        'uint8_t *',
        outD,
      ]),
      SCardCancel: fn('SCardCancel', [H]),
      pci: {
        T0: lib.symbol('g_rgSCardT0Pci') as bigint,
        T1: lib.symbol('g_rgSCardT1Pci') as bigint,
        RAW: lib.symbol('g_rgSCardRawPci') as bigint,
      },
      unload: () => lib.unload(),
    };
  } catch (e) {
    lib.unload();
    throw e;
  }
}
