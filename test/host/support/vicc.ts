/**
 * Debian's vicc (vsmartcard's card emulator, python3-virtualsmartcard) as a process: the one place that knows where
 * Debian puts it and how to make it start.
 *
 * Debian installs vicc's module one level too deep (its parent folder must be on PYTHONPATH) and ships pycryptodome
 * as `Cryptodome` where vicc imports `Crypto`: a folder holding a `Crypto` symlink bridges the two (see
 * /work/shared/reference/host-platform.md). vicc connects to vpcd's port as a TCP client and exits (status 0) when it
 * cannot connect or vpcd drops it.
 *
 * Debian's vicc (0.8) dies on any SELECT that asks for FCI/FCP: with P2 = 00 it builds the FCI and crashes in
 * TLVutils.bertlv_pack. Tests select the master file with P2 = 0C (ISO 7816-4 §11.1.1: no response data).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const VICC = '/usr/bin/vicc';
export const VICC_MODULE_PARENT = '/usr/lib/python3/site-packages/virtualsmartcard';
export const CRYPTODOME = '/usr/lib/python3/dist-packages/Cryptodome';
/** The Debian packages that hold the paths above. */
export const VICC_PACKAGES = 'python3-virtualsmartcard python3-pycryptodome';

/** ATR of vicc's iso7816 card. */
export const VICC_ISO7816_ATR = Uint8Array.of(0x3b, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xff, 0x01, 0x00, 0x0b);
/** The same ATR as pcsc_scan prints it. */
export const VICC_ATR_SPACED = Array.from(VICC_ISO7816_ATR, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(
  ' ',
);

/** The paths vicc needs that are not on this machine (empty when it can run). */
export function viccMissing(): string[] {
  return [VICC, VICC_MODULE_PARENT, CRYPTODOME].filter((p) => !existsSync(p));
}

/**
 * Whether vicc can run. Outside CI a missing piece skips (the reason printed); in CI the caller gets `true` and the
 * test then fails on what is missing.
 */
export function haveVicc(what: string): boolean {
  const missing = viccMissing();
  if (missing.length === 0 || process.env.CI) return true;
  console.warn(`${what} skipped: ${missing.join(', ')} not found (apt-get install ${VICC_PACKAGES})`);
  return false;
}

/** A folder holding the `Crypto` → `Cryptodome` symlink, made inside `parent` (default: the system's temp folder). */
export function cryptoShim(parent: string = tmpdir()): string {
  const shim = mkdtempSync(join(parent, 'vicc-crypto-'));
  symlinkSync(CRYPTODOME, join(shim, 'Crypto'));
  return shim;
}

/** Spawns vicc with its iso7816 card, connecting to vpcd on 127.0.0.1:port; `shim` comes from cryptoShim. */
export function spawnVicc(port: number, shim: string, stdio: StdioOptions = 'ignore'): ChildProcess {
  return spawn('/usr/bin/python3', [VICC, '-t', 'iso7816', '-H', '127.0.0.1', '-P', String(port)], {
    env: { ...process.env, PYTHONPATH: `${VICC_MODULE_PARENT}:${shim}` },
    stdio,
  });
}

export interface Vicc {
  child: ChildProcess;
  /** SIGTERM and wait for the exit: the card leaves the reader. */
  stop(): Promise<void>;
}

/** Starts vicc (iso7816 card) connecting to 127.0.0.1:port, with a shim of its own; a failing exit is reported. */
export function startVicc(port: number): Vicc {
  const shim = cryptoShim();
  const child = spawnVicc(port, shim, ['ignore', 'ignore', 'pipe']);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.once('exit', (code) => {
    rmSync(shim, { recursive: true, force: true });
    if (code !== 0 && code !== null) console.error(`vicc exited with ${code}: ${stderr}`);
  });
  return {
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    },
  };
}
