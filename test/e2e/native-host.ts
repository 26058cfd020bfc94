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
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONNECTOR_ID, ROOT } from '../../scripts/chromium.mjs';
import { NATIVE_HOST_NAME } from '../../src/protocol/native.js';
import { privatePcscdUnavailable, startPrivatePcscd, type PrivatePcscd } from '../host/support/private-pcscd.js';
import { launchRig, type Rig } from './harness.js';

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

/** Why the host suites cannot run here (a Debian package, the host build), or null. */
export function hostRigUnavailable(): string | null {
  return privatePcscdUnavailable() ?? hostBuildMissing();
}

export interface HostRig {
  rig: Rig;
  /** The private pcscd (vpcd reader "Virtual PCD 00 00"), the "system PC/SC service" the host's backend reaches. */
  pcscd: PrivatePcscd;
  /** The test profile (`--user-data-dir`), where the host is registered. */
  profile: string;
  close(): Promise<void>;
}

/**
 * A private pcscd with vpcd (vicc's card in it when `card`), a fresh profile with the host registered by its own
 * `install --user-data-dir` (unless `install: false`), and Chromium on that profile with the connector and the
 * clients. Chromium gets PCSCLITE_CSOCK_NAME naming the private pcscd: the host it starts inherits it, so its system
 * backend (libpcsclite through koffi) reaches that pcscd and never the machine's own.
 */
export async function launchHostRig(options: {
  connector: 'release' | 'test';
  install?: boolean;
  card?: boolean;
}): Promise<HostRig> {
  const pcscd = await startPrivatePcscd();
  const profile = mkdtempSync(join(tmpdir(), 'scc-host-profile-'));
  let rig: Rig | undefined;
  const close = async (): Promise<void> => {
    await rig?.close();
    await pcscd.close();
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    if (options.card !== false) pcscd.startCard();
    if (options.install !== false) installHost(profile);
    rig = await launchRig({
      connector: options.connector,
      userDataDir: profile,
      env: { ...(process.env as Record<string, string>), PCSCLITE_CSOCK_NAME: pcscd.socketPath },
    });
    return { rig, pcscd, profile, close };
  } catch (e) {
    await close();
    throw e;
  }
}
