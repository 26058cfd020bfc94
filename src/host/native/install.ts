/**
 * `smart-card-host install` / `uninstall`: the native messaging host manifest (`NATIVE_HOST_NAME.json`) that lets
 * Chrome and Chromium start the host for the connector, and the launcher it points at.
 *
 * Chrome starts the manifest's `path` with no option of ours (only `chrome-extension://ID/`), so the options given to
 * `install` (backend, reader sources, log level) live in a small launcher script beside the manifest: the absolute
 * paths of this Node (`process.execPath`) and of cli.js, then `--native-messaging` and those options.
 *
 * Where Chrome looks (Chromium 150; /work/shared/reference/host-platform.md), per user and system-wide:
 * - Linux, Chrome: `$XDG_CONFIG_HOME/google-chrome/NativeMessagingHosts/` (default `~/.config/...`),
 *   `/etc/opt/chrome/native-messaging-hosts/`; Chromium: `$XDG_CONFIG_HOME/chromium/NativeMessagingHosts/`,
 *   `/etc/chromium/native-messaging-hosts/`;
 * - macOS, Chrome: `~/Library/Application Support/Google/Chrome/NativeMessagingHosts/`,
 *   `/Library/Google/Chrome/NativeMessagingHosts/`; Chromium: `~/Library/Application Support/Chromium/
 *   NativeMessagingHosts/`, `/Library/Application Support/Chromium/NativeMessagingHosts/`;
 * - any profile started with `--user-data-dir=DIR`: `DIR/NativeMessagingHosts/` (looked at first).
 * Windows reads the manifest's path from the registry instead: scripts/install-host-windows.ps1.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NATIVE_HOST_NAME } from '../../protocol/native.js';
import { extensionOrigin } from './connector-id.js';

export type Browser = 'chrome' | 'chromium';
export const BROWSERS: readonly Browser[] = ['chrome', 'chromium'];

/** The first line after the shebang of every launcher we write: uninstall removes only files that carry it. */
export const LAUNCHER_MARK = '# smart-card-host native messaging launcher';

export class InstallError extends Error {
  override name = 'InstallError';
}

export interface InstallTarget {
  scope: 'user' | 'system';
  browsers: readonly Browser[];
  /** Instead of the browsers' directories: this profile's `NativeMessagingHosts/`. */
  userDataDir?: string;
  platform?: NodeJS.Platform;
  home?: string;
  /** XDG_CONFIG_HOME (Linux), when set. */
  xdgConfigHome?: string;
}

export interface InstallOptions extends InstallTarget {
  /** Extension ids allowed to start the host (the connector's first). */
  extensionIds: readonly string[];
  /** Options of the launcher after `--native-messaging` (`--backend own`, `--demo`, …). */
  hostArgs: readonly string[];
  nodePath: string;
  cliPath: string;
}

/** The directories the target names, each with what it is for (shown to the user). */
export function manifestDirs(t: InstallTarget): { label: string; dir: string }[] {
  if (t.userDataDir !== undefined) {
    return [{ label: 'profile', dir: join(resolve(t.userDataDir), 'NativeMessagingHosts') }];
  }
  const platform = t.platform ?? process.platform;
  const home = t.home ?? process.env.HOME ?? '';
  const out: { label: string; dir: string }[] = [];
  for (const b of t.browsers) {
    let dir: string;
    if (platform === 'linux') {
      const config = t.xdgConfigHome || join(home, '.config');
      if (t.scope === 'user') dir = join(config, b === 'chrome' ? 'google-chrome' : 'chromium', 'NativeMessagingHosts');
      else dir = b === 'chrome' ? '/etc/opt/chrome/native-messaging-hosts' : '/etc/chromium/native-messaging-hosts';
    } else if (platform === 'darwin') {
      const app = b === 'chrome' ? 'Google/Chrome' : 'Chromium';
      if (t.scope === 'user') dir = join(home, 'Library/Application Support', app, 'NativeMessagingHosts');
      else
        dir =
          b === 'chrome'
            ? '/Library/Google/Chrome/NativeMessagingHosts'
            : join('/Library/Application Support', app, 'NativeMessagingHosts');
    } else if (platform === 'win32') {
      throw new InstallError(
        'on Windows Chrome finds the host through the registry: run scripts\\install-host-windows.ps1 (see the README)',
      );
    } else {
      throw new InstallError(`no known native messaging directories on ${platform} (Linux and macOS are supported)`);
    }
    out.push({ label: `${b}, ${t.scope === 'user' ? 'this user' : 'system-wide'}`, dir });
  }
  return out;
}

/** sh quoting: everything between single quotes, a quote as '\''. */
function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function launcherText(o: Pick<InstallOptions, 'nodePath' | 'cliPath' | 'hostArgs'>): string {
  const command = [o.nodePath, o.cliPath, '--native-messaging', ...o.hostArgs].map(shQuote).join(' ');
  return [
    '#!/bin/sh',
    LAUNCHER_MARK,
    '# Written by `smart-card-host install`; `smart-card-host uninstall` removes it. Chrome starts it with the',
    "# caller's origin (chrome-extension://ID/) as argument. Each SCardGetStatusChange waiting on the system's",
    "# PC/SC service holds a thread of libuv's pool: give the pool room for them.",
    `UV_THREADPOOL_SIZE="\${UV_THREADPOOL_SIZE:-16}" exec ${command} "$@"`,
    '',
  ].join('\n');
}

export function manifestText(launcher: string, extensionIds: readonly string[]): string {
  const manifest = {
    name: NATIVE_HOST_NAME,
    description: 'Smart Card Connector host: PC/SC readers for the connector extension',
    path: launcher,
    type: 'stdio',
    allowed_origins: extensionIds.map(extensionOrigin),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

function failure(what: string, path: string, e: unknown, scope: 'user' | 'system'): InstallError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'ENOTDIR'
        ? 'a part of the path is not a directory'
        : code === 'EROFS'
          ? 'read-only file system'
          : e instanceof Error
            ? e.message
            : String(e);
  const hint =
    scope === 'system' && (code === 'EACCES' || code === 'EPERM')
      ? ' (a system-wide install needs root: sudo smart-card-host install --system, or install --user)'
      : '';
  return new InstallError(`cannot ${what} ${path}: ${why}${hint}`);
}

/** Writes the launcher and the manifest into every directory of the target. Returns one line per file written. */
export function install(o: InstallOptions): string[] {
  const lines: string[] = [];
  for (const { label, dir } of manifestDirs(o)) {
    const manifest = join(dir, `${NATIVE_HOST_NAME}.json`);
    const launcher = join(dir, `${NATIVE_HOST_NAME}.sh`);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw failure('create the directory', dir, e, o.scope);
    }
    try {
      writeFileSync(launcher, launcherText(o), { mode: 0o755 });
      // writeFileSync's mode applies to new files only: an older launcher keeps being executable.
      chmodSync(launcher, 0o755);
    } catch (e) {
      throw failure('write', launcher, e, o.scope);
    }
    try {
      writeFileSync(manifest, manifestText(launcher, o.extensionIds), { mode: 0o644 });
    } catch (e) {
      throw failure('write', manifest, e, o.scope);
    }
    lines.push(`wrote ${manifest} (${label})`, `wrote ${launcher}`);
  }
  return lines;
}

/** Removes what install wrote (a launcher only if it is ours). Returns one line per file removed or absent. */
export function uninstall(t: InstallTarget): string[] {
  const lines: string[] = [];
  for (const { label, dir } of manifestDirs(t)) {
    const manifest = join(dir, `${NATIVE_HOST_NAME}.json`);
    const launcher = join(dir, `${NATIVE_HOST_NAME}.sh`);
    for (const path of [manifest, launcher]) {
      if (!existsSync(path)) {
        lines.push(`not installed: ${path} (${label})`);
        continue;
      }
      if (path === launcher) {
        let text: string;
        try {
          text = readFileSync(path, 'utf8');
        } catch (e) {
          throw failure('read', path, e, t.scope);
        }
        if (!text.includes(LAUNCHER_MARK)) {
          lines.push(`left ${path}: not a launcher written by smart-card-host install`);
          continue;
        }
      }
      try {
        rmSync(path);
      } catch (e) {
        throw failure('remove', path, e, t.scope);
      }
      lines.push(`removed ${path}`);
    }
  }
  return lines;
}
