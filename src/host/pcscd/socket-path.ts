/**
 * Where pcscd's socket lives and how to take the place: libpcsclite (winscard_msg.c getSocketName) connects to
 * `$PCSCLITE_CSOCK_NAME` when that variable is set (even to an odd value), else to `/run/pcscd/pcscd.comm`, copied
 * into a sockaddr_un path of 108 bytes with the last one forced to NUL — so a longer name would be cut, and clients
 * would knock at another door. We refuse such a path instead of listening where no client looks.
 */
import { mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';

/** PCSCLITE_CSOCK_NAME of Debian's pcsc-lite 1.9.9 (configure's --with-... default under /run). */
export const DEFAULT_SOCKET_PATH = '/run/pcscd/pcscd.comm';
/** sizeof(struct sockaddr_un.sun_path) on Linux, NUL included. */
export const SUN_PATH_SIZE = 108;

export class SocketPathError extends Error {
  override name = 'SocketPathError';
}

/** The path libpcsclite clients of this environment connect to. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const v = env['PCSCLITE_CSOCK_NAME'];
  return v !== undefined ? v : DEFAULT_SOCKET_PATH;
}

/** A path clients can reach: not empty, at most 107 bytes (libpcsclite cuts longer names). */
export function checkSocketPath(path: string): void {
  if (path === '') throw new SocketPathError('the socket path is empty (is PCSCLITE_CSOCK_NAME set to ""?)');
  const bytes = Buffer.byteLength(path);
  if (bytes >= SUN_PATH_SIZE) {
    throw new SocketPathError(
      `the socket path is ${bytes} bytes long; a Unix socket path holds at most ${SUN_PATH_SIZE - 1} ` +
        '(libpcsclite would cut it and miss the socket): choose a shorter path',
    );
  }
  if (path.includes('\0')) throw new SocketPathError('the socket path contains a NUL byte');
}

/** True when something accepts connections on the socket at `path` (a live server), false when nobody answers. */
export function isSocketLive(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((done) => {
    const s = connect(path);
    const finish = (live: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      done(live);
    };
    // A server that accepted but is too busy to be seen answering still accepted: connect success is what counts.
    const timer = setTimeout(() => finish(false), timeoutMs);
    s.once('connect', () => finish(true));
    s.once('error', () => finish(false));
  });
}

/**
 * Best effort: which process listens on the socket at `path` (Linux: the inode in /proc/net/unix, then the
 * process whose /proc/PID/fd links to `socket:[inode]`). Undefined when it cannot be known (other user, no /proc).
 */
export function socketOwner(path: string): { pid: number; command: string } | undefined {
  try {
    const abs = resolve(path);
    const lines = readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1);
    // Columns: Num RefCount Protocol Flags Type St Inode Path; flags 00010000 = __SO_ACCEPTCON (a listening socket).
    const inodes = new Set<string>();
    for (const line of lines) {
      const cols = line.trim().split(/\s+/);
      if (cols.length >= 8 && cols.slice(7).join(' ') === abs && cols[3] === '00010000') inodes.add(cols[6]!);
    }
    if (inodes.size === 0) return undefined;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m !== null && inodes.has(m[1]!)) {
          let command = '';
          try {
            command = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
              .split('\0')
              .filter((x) => x !== '')
              .join(' ');
          } catch {
            // The process may have gone meanwhile.
          }
          return { pid: Number(pid), command };
        }
      }
    }
  } catch {
    // No /proc (not Linux) or not readable: the caller says "another process".
  }
  return undefined;
}

/**
 * Make `path` ready for listen(): create its parent directory, refuse when a live server answers there (naming it
 * when /proc tells), refuse a path that is not a socket, remove a stale socket (nobody answers: a crashed pcscd or
 * host left it). Every refusal is a SocketPathError whose message the command line prints as is.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  checkSocketPath(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    throw new SocketPathError(`cannot create the directory ${dirname(path)}: ${(e as Error).message}`);
  }
  let st;
  try {
    st = statSync(path);
  } catch {
    return; // Nothing there.
  }
  if (!st.isSocket()) {
    throw new SocketPathError(`${path} exists and is not a socket: remove it or choose another path`);
  }
  if (await isSocketLive(path)) {
    const owner = socketOwner(path);
    const who =
      owner !== undefined
        ? `process ${owner.pid}${owner.command !== '' ? ` (${owner.command})` : ''}`
        : 'another process';
    throw new SocketPathError(
      `${path} is in use: ${who} answers on it (a running pcscd or smart-card-host?). ` +
        'Stop it first (e.g. systemctl stop pcscd.socket pcscd) or choose another path (PCSCLITE_CSOCK_NAME / --socket)',
    );
  }
  try {
    unlinkSync(path);
  } catch (e) {
    throw new SocketPathError(`${path} is a stale socket that cannot be removed: ${(e as Error).message}`);
  }
}
