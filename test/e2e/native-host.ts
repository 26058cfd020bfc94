/**
 * The end-to-end suites' side of native messaging: registering `smart-card-host` in a test profile with its own
 * `install --user-data-dir` (Chromium looks for `<user-data-dir>/NativeMessagingHosts/NAME.json` first), and finding
 * the host processes that one browser started, to kill them mid-call as a crash would.
 *
 * Chromium starts a new host process for every `connectNative` port, with the caller's origin
 * (`chrome-extension://ID/`) as its argument; several browsers (other suites, other work on the machine) may run hosts
 * at once, so a process counts only when the browser using this profile is among its ancestors.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONNECTOR_ID, ROOT } from '../../scripts/chromium.mjs';
import { NATIVE_HOST_NAME } from '../../src/protocol/native.js';

export const HOST_CLI = join(ROOT, 'dist', 'host', 'cli.js');
export const HOST_MANIFEST = (userDataDir: string): string =>
  join(userDataDir, 'NativeMessagingHosts', `${NATIVE_HOST_NAME}.json`);

/** Why the host cannot be registered here (its build is missing), or null. */
export function hostBuildMissing(): string | null {
  return existsSync(HOST_CLI) ? null : `${HOST_CLI} is missing: run npm run build:host`;
}

/** Runs `smart-card-host ARGS…` from dist/host and returns what it printed (stdout); throws with stderr on failure. */
export function hostCommand(args: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  try {
    return execFileSync(process.execPath, [HOST_CLI, ...args], { encoding: 'utf8', env, stdio: 'pipe' });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; status?: number };
    throw new Error(
      `smart-card-host ${args.join(' ')} exited ${String(err.status)}: ${err.stderr || err.stdout || String(e)}`,
      {
        cause: e,
      },
    );
  }
}

/** `smart-card-host install --user-data-dir DIR`: the host registered for the connector in that profile only. */
export function installHost(userDataDir: string): string {
  return hostCommand(['install', '--user-data-dir', userDataDir]);
}

export function uninstallHost(userDataDir: string): string {
  return hostCommand(['uninstall', '--user-data-dir', userDataDir]);
}

function cmdline(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

function parent(pid: number): number | null {
  try {
    // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses, so split after the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) && ppid > 0 ? ppid : null;
  } catch {
    return null;
  }
}

/**
 * The live processes Chromium started as native messaging hosts for `origin`'s extension (default: the connector),
 * from the browser that uses `userDataDir`. A shell wrapper and the program it runs both count.
 */
export function hostProcesses(userDataDir: string, extensionId: string = CONNECTOR_ID): number[] {
  const origin = `chrome-extension://${extensionId}/`;
  const profileFlag = `--user-data-dir=${userDataDir}`;
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const argv = cmdline(pid);
    if (!argv?.includes(origin) || argv.some((a) => a.startsWith('--type='))) continue;
    for (let p = parent(pid), hops = 0; p !== null && hops < 8; p = parent(p), hops++) {
      if (cmdline(p)?.includes(profileFlag)) {
        found.push(pid);
        break;
      }
    }
  }
  return found;
}

/** SIGKILLs this browser's host processes (a crash, as far as Chromium and the connector can tell); their pids. */
export function killHosts(userDataDir: string): number[] {
  const pids = hostProcesses(userDataDir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return pids;
}
