import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_SOCKET_PATH,
  SocketPathError,
  checkSocketPath,
  defaultSocketPath,
  isSocketLive,
  prepareSocketPath,
  socketOwner,
} from '../../../../src/host/pcscd/socket-path.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sp-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function listen(path: string) {
  const server = createServer((s) => s.destroy());
  return new Promise<typeof server>((resolve) => server.listen(path, () => resolve(server)));
}

describe('the pcscd socket path', () => {
  it('is /run/pcscd/pcscd.comm unless PCSCLITE_CSOCK_NAME is set, as libpcsclite reads it', () => {
    expect(defaultSocketPath({})).toBe(DEFAULT_SOCKET_PATH);
    expect(DEFAULT_SOCKET_PATH).toBe('/run/pcscd/pcscd.comm');
    expect(defaultSocketPath({ PCSCLITE_CSOCK_NAME: '/tmp/x.comm' })).toBe('/tmp/x.comm');
    // Set but empty is still "set" for libpcsclite; the check then says why it cannot be used.
    expect(defaultSocketPath({ PCSCLITE_CSOCK_NAME: '' })).toBe('');
    expect(() => checkSocketPath('')).toThrow(/empty/);
  });

  it('refuses a path libpcsclite would cut (108-byte sun_path)', () => {
    expect(() => checkSocketPath(`/tmp/${'a'.repeat(102)}`)).not.toThrow();
    expect(() => checkSocketPath(`/tmp/${'a'.repeat(103)}`)).toThrow(SocketPathError);
    expect(() => checkSocketPath(`/tmp/${'a'.repeat(103)}`)).toThrow(
      /108 bytes long; a Unix socket path holds at most 107/,
    );
  });

  it('creates the parent directory', async () => {
    const p = join(tempDir(), 'a', 'b', 'pcscd.comm');
    await prepareSocketPath(p);
    expect(existsSync(join(p, '..'))).toBe(true);
  });

  it('removes a stale socket (nobody answers)', async () => {
    const p = join(tempDir(), 'stale.comm');
    // A server killed outright leaves its socket file behind (what a crashed pcscd leaves).
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(p)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(existsSync(p)).toBe(true);
    expect(await isSocketLive(p)).toBe(false);
    await prepareSocketPath(p);
    expect(existsSync(p)).toBe(false);
  });

  it('refuses a live socket and names the process holding it', async () => {
    const p = join(tempDir(), 'live.comm');
    const server = await listen(p);
    try {
      expect(await isSocketLive(p)).toBe(true);
      expect(socketOwner(p)?.pid).toBe(process.pid);
      const err = await prepareSocketPath(p).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SocketPathError);
      expect((err as Error).message).toContain(`${p} is in use: process ${process.pid}`);
      expect(existsSync(p)).toBe(true);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('refuses a path that is not a socket', async () => {
    const p = join(tempDir(), 'file');
    writeFileSync(p, 'x');
    await expect(prepareSocketPath(p)).rejects.toThrow(/exists and is not a socket/);
  });
});
