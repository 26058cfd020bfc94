/**
 * `smart-card-host install` / `uninstall` run as programs: the manifest Chrome reads (name, path, type,
 * allowed_origins), the launcher it points at (executable, carrying install's options, and working: Chrome's way of
 * starting it reaches the demo reader), idempotence, removal of both files, the per-user directories of Chrome and
 * Chromium under HOME, and a clear error with a non-zero status where a directory cannot be written.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTOR_ID } from '../../../src/host/native/connector-id.js';
import { NATIVE_HOST_NAME } from '../../../src/protocol/native.js';
import { CONNECTOR_ID as SCRIPTS_CONNECTOR_ID } from '../../../scripts/chromium.mjs';
import { NativeLink, buildHost } from './link.js';

let CLI = '';
let outDir = '';

let dir = '';
let env: NodeJS.ProcessEnv = {};
beforeAll(() => {
  ({ cli: CLI, outDir } = buildHost('host-install-test'));
  dir = mkdtempSync(join(tmpdir(), 'sch-install-'));
  env = { ...process.env, HOME: join(dir, 'home'), PCSCLITE_CSOCK_NAME: join(dir, 'no-pcscd.comm') };
  delete env.XDG_CONFIG_HOME;
}, 150_000);
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  if (outDir !== '') rmSync(outDir, { recursive: true, force: true });
});

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('smart-card-host install / uninstall', () => {
  it('derives the connector id from manifest.json as scripts/chromium.mjs does', () => {
    expect(CONNECTOR_ID).toBe('ngfkfjneanfndnjljhacboedojhajjdi');
    expect(SCRIPTS_CONNECTOR_ID).toBe(CONNECTOR_ID);
  });

  it('registers the host in a profile (--user-data-dir): manifest, working launcher, idempotent, uninstall', async () => {
    const profile = join(dir, 'profile');
    const hosts = join(profile, 'NativeMessagingHosts');
    const manifestPath = join(hosts, `${NATIVE_HOST_NAME}.json`);
    const launcher = join(hosts, `${NATIVE_HOST_NAME}.sh`);

    const first = run('install', '--user-data-dir', profile, '--backend', 'own', '--demo', '--no-usb');
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toContain(`wrote ${manifestPath}`);
    expect(first.stdout).toContain(`wrote ${launcher}`);

    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
    expect(manifest).toEqual({
      name: NATIVE_HOST_NAME,
      description: expect.any(String),
      path: launcher,
      type: 'stdio',
      allowed_origins: [`chrome-extension://${CONNECTOR_ID}/`],
    });
    expect(statSync(launcher).mode & 0o111).toBe(0o111);
    const text = readFileSync(launcher, 'utf8');
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(text).toContain(
      `'${process.execPath}' '${CLI}' '--native-messaging' '--backend' 'own' '--demo' '--no-usb' "$@"`,
    );

    // Again: same files, same content.
    expect(run('install', '--user-data-dir', profile, '--backend', 'own', '--demo', '--no-usb').status).toBe(0);
    expect(readFileSync(launcher, 'utf8')).toBe(text);

    // As Chrome starts it: the launcher with the caller's origin; install's options reach the host.
    const l = new NativeLink(launcher, [`chrome-extension://${CONNECTOR_ID}/`], env);
    try {
      const hello = await l.hello('auto');
      expect(hello.backend).toBe('own');
      expect(hello.own).toMatchObject({ detail: expect.stringContaining('Gemalto PC Twin Reader 00 00') });
      expect(await l.end()).toEqual({ code: 0, signal: null });
    } finally {
      l.kill();
    }

    const removed = run('uninstall', '--user-data-dir', profile);
    expect(removed.status).toBe(0);
    expect(removed.stdout).toContain(`removed ${manifestPath}`);
    expect(removed.stdout).toContain(`removed ${launcher}`);
    expect(existsSync(manifestPath)).toBe(false);
    expect(existsSync(launcher)).toBe(false);
    const again = run('uninstall', '--user-data-dir', profile);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain(`not installed: ${manifestPath}`);
  });

  it("writes per user into Chrome's and Chromium's directories under HOME", () => {
    const home = env.HOME!;
    const r = run('install', '--user');
    expect(r.status).toBe(0);
    for (const d of ['.config/google-chrome/NativeMessagingHosts', '.config/chromium/NativeMessagingHosts']) {
      const m = JSON.parse(readFileSync(join(home, d, `${NATIVE_HOST_NAME}.json`), 'utf8')) as { path: string };
      expect(m.path).toBe(join(home, d, `${NATIVE_HOST_NAME}.sh`));
    }
    const chromium = run('uninstall', '--browser', 'chromium');
    expect(chromium.status).toBe(0);
    expect(existsSync(join(home, '.config/chromium/NativeMessagingHosts', `${NATIVE_HOST_NAME}.json`))).toBe(false);
    expect(existsSync(join(home, '.config/google-chrome/NativeMessagingHosts', `${NATIVE_HOST_NAME}.json`))).toBe(true);
    expect(run('uninstall').status).toBe(0);
    expect(existsSync(join(home, '.config/google-chrome/NativeMessagingHosts', `${NATIVE_HOST_NAME}.json`))).toBe(
      false,
    );
  });

  it('says clearly when a directory cannot be written, with a non-zero status', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const r = run('install', '--user-data-dir', join(file, 'profile'));
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `smart-card-host install: cannot create the directory ${join(file, 'profile', 'NativeMessagingHosts')}: ` +
        'a part of the path is not a directory\n',
    );
  });

  it('--help documents the native messaging mode and both subcommands', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('smart-card-host --native-messaging [--backend auto|system|own]');
    expect(r.stdout).toContain('smart-card-host install [--user|--system] [--browser chrome|chromium|all]');
    expect(r.stdout).toContain('smart-card-host uninstall [--user|--system]');
    expect(r.stdout).toMatch(/NATIVE MESSAGING\n/);
    expect(r.stdout).toContain('scripts\\install-host-windows.ps1');
  });

  it('refuses bad options before writing anything', () => {
    const profile = join(dir, 'bad');
    const r = run('install', '--user-data-dir', profile, '--backend', 'usb');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--backend: "usb" is not one of auto, system, own/);
    const s = run('install', '--user-data-dir', profile, '--sim', 'nonsense');
    expect(s.status).toBe(2);
    expect(existsSync(profile)).toBe(false);
  });
});
