/**
 * The command lines of the native messaging modes, beside cli.ts's daemon mode:
 * - `smart-card-host --native-messaging [--backend auto|system|own] [--extension-id ID]... [reader options]`, and what
 *   Chrome runs: `smart-card-host chrome-extension://ID/` (on Windows also `--parent-window=N`);
 * - `smart-card-host install [--user|--system] [--browser chrome|chromium|all] [--user-data-dir DIR]
 *   [--backend ...] [--extension-id ID]... [reader options]`;
 * - `smart-card-host uninstall [--user|--system] [--browser ...] [--user-data-dir DIR]`.
 *
 * Reader options (`--demo`, `--sim`, `--vpcd`, `--no-usb`, `--log-level`, `--log-apdus`) are cli.ts's own, parsed by
 * its parseArgs (passed in: cli.ts runs as the program when imported).
 */
import { realpathSync } from 'node:fs';
import { HOST_BACKEND_CHOICES, type HostBackendChoice } from '../../protocol/native.js';
import type { CliOptions } from '../cli.js';
import type { HostLog, HostLogLevel } from '../readers/index.js';
import { CONNECTOR_ID, isExtensionId } from './connector-id.js';
import { BROWSERS, InstallError, install, uninstall, type Browser } from './install.js';
import { runNativeHost } from './main.js';
import { walkArgs } from '../argv.js';

/** What cli.ts's parseArgs gives (a type only: cli.ts runs as the program when imported). */
export type ReaderCliOptions = Omit<CliOptions, 'memcard'>;

export interface CliDeps {
  parseArgs(argv: readonly string[]): ReaderCliOptions;
  stderrLog(min: HostLogLevel): HostLog;
  /** cli.ts's UsageError, so that the caller's exit status is the usage one. */
  usageError(message: string): Error;
  version: string;
}

/** Whether argv asks for a native messaging mode rather than the daemon. */
export function nativeMode(argv: readonly string[]): 'native' | 'install' | 'uninstall' | null {
  if (argv[0] === 'install' || argv[0] === 'uninstall') return argv[0];
  if (argv.some((a) => a === '--native-messaging' || a.startsWith('chrome-extension://'))) return 'native';
  return null;
}

interface Taken {
  backend: HostBackendChoice;
  extensionIds: string[];
  rest: string[];
}

/** Takes the options of the native modes out of argv, leaving the reader options; `extra` handles mode-specific ones. */
function take(
  argv: readonly string[],
  deps: CliDeps,
  extra: (name: string, value: () => string) => boolean,
): Taken & { backendGiven: boolean } {
  const out = {
    backend: 'auto' as HostBackendChoice,
    backendGiven: false,
    extensionIds: [] as string[],
    rest: [] as string[],
  };
  walkArgs(
    argv,
    (message) => deps.usageError(message),
    ({ arg, name, value }) => {
      if (name === '--backend') {
        const v = value();
        if (!(HOST_BACKEND_CHOICES as readonly string[]).includes(v)) {
          throw deps.usageError(`--backend: "${v}" is not one of ${HOST_BACKEND_CHOICES.join(', ')}`);
        }
        out.backend = v as HostBackendChoice;
        out.backendGiven = true;
      } else if (name === '--extension-id') {
        const v = value();
        if (!isExtensionId(v)) throw deps.usageError(`--extension-id: "${v}" is not an extension id (32 letters a-p)`);
        out.extensionIds.push(v);
      } else if (!extra(name, value)) {
        out.rest.push(arg);
      }
    },
  );
  return out;
}

function readerOptions(o: ReaderCliOptions) {
  return {
    usb: o.usb,
    demo: o.demo,
    sim: o.sim,
    ...(o.vpcd !== undefined ? { vpcd: o.vpcd } : {}),
  };
}

/** `--native-messaging`: resolves with the exit status. */
export async function nativeMain(argv: readonly string[], deps: CliDeps): Promise<number> {
  let origin: string | undefined;
  const taken = take(argv, deps, (name) => {
    if (name === '--native-messaging') return true;
    // Chrome on Windows names the calling window; nothing here uses it.
    if (name === '--parent-window') return true;
    if (name.startsWith('chrome-extension://')) {
      if (origin !== undefined) throw deps.usageError('more than one chrome-extension:// origin');
      origin = name;
      return true;
    }
    return false;
  });
  const o = deps.parseArgs(taken.rest);
  if (o.socket !== undefined)
    throw deps.usageError('--socket has no meaning with --native-messaging (no socket is served)');
  return runNativeHost({
    backend: taken.backend,
    own: readerOptions(o),
    origin,
    allowedIds: [CONNECTOR_ID, ...taken.extensionIds],
    version: deps.version,
    log: deps.stderrLog(o.logLevel),
    logApdus: o.logApdus,
    logLevel: o.logLevel,
  });
}

/** `install` / `uninstall`: prints what it did; resolves with the exit status. */
export async function installMain(argv: readonly string[], deps: CliDeps): Promise<number> {
  const mode = argv[0] as 'install' | 'uninstall';
  let scope: 'user' | 'system' | undefined;
  let browsers: readonly Browser[] = BROWSERS;
  let userDataDir: string | undefined;
  const taken = take(argv.slice(1), deps, (name, value) => {
    switch (name) {
      case '--user':
      case '--system': {
        const s = name === '--user' ? 'user' : 'system';
        if (scope !== undefined && scope !== s) throw deps.usageError('--user and --system exclude each other');
        scope = s;
        return true;
      }
      case '--browser': {
        const v = value();
        if (v === 'all') browsers = BROWSERS;
        else if ((BROWSERS as readonly string[]).includes(v)) browsers = [v as Browser];
        else throw deps.usageError(`--browser: "${v}" is not one of chrome, chromium, all`);
        return true;
      }
      case '--user-data-dir':
        userDataDir = value();
        return true;
      default:
        return false;
    }
  });
  if (scope === 'system' && userDataDir !== undefined) {
    throw deps.usageError('--user-data-dir names one profile: it goes without --system');
  }
  // The launcher's options are checked now, not when Chrome first starts it.
  const o = deps.parseArgs(taken.rest);
  if (o.help || o.version) throw deps.usageError(`${mode} takes no --help or --version (see smart-card-host --help)`);
  if (o.socket !== undefined) throw deps.usageError(`--socket has no meaning for the native messaging host`);
  if (mode === 'uninstall' && (taken.rest.length > 0 || taken.backendGiven || taken.extensionIds.length > 0)) {
    throw deps.usageError('uninstall takes only --user, --system, --browser and --user-data-dir');
  }
  const target = {
    scope: scope ?? 'user',
    browsers,
    ...(userDataDir !== undefined ? { userDataDir } : {}),
    ...(process.env.XDG_CONFIG_HOME ? { xdgConfigHome: process.env.XDG_CONFIG_HOME } : {}),
  };
  try {
    const lines =
      mode === 'install'
        ? install({
            ...target,
            extensionIds: [CONNECTOR_ID, ...taken.extensionIds],
            hostArgs: [...(taken.backendGiven ? ['--backend', taken.backend] : []), ...taken.rest],
            nodePath: process.execPath,
            cliPath: realpathSync(process.argv[1] ?? ''),
          })
        : uninstall(target);
    for (const line of lines) process.stdout.write(`${line}\n`);
    return 0;
  } catch (e) {
    if (e instanceof InstallError) {
      process.stderr.write(`smart-card-host ${mode}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
