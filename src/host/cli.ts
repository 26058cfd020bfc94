/**
 * smart-card-host: our pcsc-lite daemon port and CCID driver as a system service, in pcscd's place. Unmodified
 * PC/SC programs (pcsc_scan, opensc-tool, pyscard, anything linked with libpcsclite) reach it through pcscd's socket.
 *
 * Start-up failures (a bad option, a socket in use by a live pcscd, no permission, a vpcd port taken) end the process
 * with a non-zero status and one message that says what to do; readers that cannot be used (no USB bus, a reader held
 * by another program) are logged and the others served. SIGINT/SIGTERM: cards powered down, readers released, socket
 * removed, exit 0.
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { version as PACKAGE_VERSION } from '../../package.json';
import { PcscDaemon } from '../pcsc/daemon.js';
import { servePcscd, type PcscdServer } from './pcscd/server.js';
import { checkSocketPath, defaultSocketPath, DEFAULT_SOCKET_PATH, prepareSocketPath } from './pcscd/socket-path.js';
import { activationFd } from './pcscd/socket-activation.js';
import { startReaders, type ReaderSet } from './readers/index.js';
import { parseSimSpec, SIM_CARDS, type SimSpec } from './readers/sim.js';
import type { HostLog, HostLogLevel } from './readers/types.js';
import { VPCD_DEFAULT_PORT } from './readers/vpcd.js';
import { PROFILES } from '../sim/index.js';
import { installMain, nativeMain, nativeMode } from './native/command.js';
import { walkArgs } from './argv.js';

export const EXIT_OK = 0;
/** A start-up or run-time failure. */
export const EXIT_FAILURE = 1;
/** Bad usage: an unknown option or a bad value. */
export const EXIT_USAGE = 2;

const LEVELS: readonly HostLogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface CliOptions {
  help: boolean;
  version: boolean;
  demo: boolean;
  /** The in-memory reader (twin of the native anchor's ifd_memcard.c), for the differential suite; a string names
   * its presence directory. */
  memcard: boolean | string;
  sim: SimSpec[];
  /** undefined = no vpcd reader. */
  vpcd: number | undefined;
  usb: boolean;
  /** undefined = PCSCLITE_CSOCK_NAME or pcscd's default. */
  socket: string | undefined;
  logLevel: HostLogLevel;
  logApdus: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

function parsePort(text: string, option: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new UsageError(`${option}: "${text}" is not a TCP port (1 to 65535)`);
  }
  return Number(text);
}

/** Parses the command line (without `node` and the script). Throws UsageError with a message for the user. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    help: false,
    version: false,
    demo: false,
    memcard: false,
    sim: [],
    vpcd: undefined,
    usb: true,
    socket: undefined,
    logLevel: 'info',
    logApdus: false,
  };
  walkArgs(
    argv,
    (message) => new UsageError(message),
    ({ arg, name, inline, value, flag, optional }) => {
      switch (name) {
        case '-h':
        case '--help':
          o.help = flag();
          break;
        case '-V':
        case '--version':
          o.version = flag();
          break;
        case '--demo':
          o.demo = flag();
          break;
        case '--memcard':
          // Only `--memcard=DIR` takes a directory: a bare `--memcard` never swallows the next argument.
          if (inline !== undefined && inline === '') throw new UsageError('--memcard=DIR needs a directory');
          o.memcard = inline ?? true;
          break;
        case '--no-usb':
          o.usb = !flag();
          break;
        case '--log-apdus':
          o.logApdus = flag();
          break;
        case '--sim': {
          const v = value();
          try {
            o.sim.push(parseSimSpec(v));
          } catch (e) {
            throw new UsageError(`--sim: ${(e as Error).message}`);
          }
          break;
        }
        case '--vpcd': {
          // The port is optional: `--vpcd`, `--vpcd 35963`, `--vpcd=35963`.
          const port = inline ?? optional((next) => /^\d+$/.test(next));
          o.vpcd = port === undefined ? VPCD_DEFAULT_PORT : parsePort(port, '--vpcd');
          break;
        }
        case '--socket': {
          const v = value();
          try {
            checkSocketPath(v);
          } catch (e) {
            throw new UsageError(`--socket: ${(e as Error).message}`);
          }
          o.socket = v;
          break;
        }
        case '--log-level': {
          const v = value();
          if (!(LEVELS as readonly string[]).includes(v))
            throw new UsageError(`--log-level: "${v}" is not one of ${LEVELS.join(', ')}`);
          o.logLevel = v as HostLogLevel;
          break;
        }
        default:
          throw new UsageError(
            arg.startsWith('-')
              ? `unknown option ${name}`
              : `unexpected argument "${arg}" (this program takes options only)`,
          );
      }
    },
  );
  return o;
}

export function helpText(): string {
  const profiles = Object.keys(PROFILES).join(', ');
  const cards = Object.keys(SIM_CARDS).join(', ');
  return `NAME
    smart-card-host - a PC/SC daemon (pcscd) in TypeScript, with its own CCID driver

SYNOPSIS
    smart-card-host [--demo] [--sim PROFILE[:CARD]]... [--vpcd [PORT]] [--memcard[=DIR]] [--no-usb]
                    [--socket PATH] [--log-level LEVEL] [--log-apdus]
    smart-card-host --native-messaging [--backend auto|system|own] [--extension-id ID]...
                    [reader options] [--log-level LEVEL] [--log-apdus]
    smart-card-host install [--user|--system] [--browser chrome|chromium|all]
                    [--user-data-dir DIR] [--backend auto|system|own] [--extension-id ID]...
                    [reader options] [--log-level LEVEL] [--log-apdus]
    smart-card-host uninstall [--user|--system] [--browser chrome|chromium|all]
                    [--user-data-dir DIR]
    smart-card-host --help | --version

DESCRIPTION
    smart-card-host takes the place of pcscd: it serves pcscd's socket protocol 4.4, so
    unmodified PC/SC programs (pcsc_scan, opensc-tool, pyscard, anything linked with
    libpcsclite) use it as they would use pcscd. Behind the socket run a port of the
    pcsc-lite 1.9.9 daemon and a CCID reader driver, both in TypeScript.

    Readers come from any combination of sources, all hot-plugged:
      - USB smart card readers (CCID, interface class 0x0B or vendor class 0xFF), through
        node-usb, added and removed as they are plugged and unplugged;
      - simulated readers and cards (--demo, --sim);
      - a vsmartcard vpcd reader (--vpcd), for virtual cards such as vicc.

    It logs to standard error, one line per reader and card event.

    Only one program can drive a USB reader at a time: stop pcscd first
    (systemctl stop pcscd.socket pcscd).

NATIVE MESSAGING
    With --native-messaging (or a first argument chrome-extension://ID/, which is how
    Chrome starts it) the host serves the Smart Card Connector extension over Chrome's
    native messaging instead of a socket: standard input and output carry Chrome's
    frames (a 4-byte length in the machine's byte order, then UTF-8 JSON; at most
    1 MiB from host to browser), every log line goes to standard error. The connector's
    first message picks what the host serves:
      - system: the operating system's PC/SC service (pcsc-lite's pcscd on Linux,
        PCSC.framework on macOS, winscard.dll on Windows), through koffi;
      - own: this program's own daemon and CCID driver, with the reader options given
        (--demo, --sim, --vpcd, USB);
      - auto: what --backend says; by default system if its service answers, else own.
    Chrome starts one host per connection and closes its standard input when done: the
    host then releases every context and card and exits with status 0. Callers other
    than the connector (and the ids given with --extension-id) are refused.

    --backend auto|system|own
        What the connector's "auto" means (default auto).

    --extension-id ID
        Also serve the extension ID (32 letters a-p), e.g. a build with another key
        (repeatable).

    install
        Registers the host for the connector with Chrome and Chromium: writes
        org.smart_card_connector.host.json (the host manifest) and a launcher script beside
        it that runs this node and this program with --native-messaging and the options
        given to install (Chrome passes none). Per user (--user, the default):
        ~/.config/google-chrome/NativeMessagingHosts and ~/.config/chromium/
        NativeMessagingHosts on Linux ($XDG_CONFIG_HOME if set), ~/Library/Application
        Support/Google/Chrome/NativeMessagingHosts and .../Chromium/NativeMessagingHosts
        on macOS. System-wide (--system, as root): /etc/opt/chrome/native-messaging-hosts
        and /etc/chromium/native-messaging-hosts on Linux, /Library/Google/Chrome/
        NativeMessagingHosts and /Library/Application Support/Chromium/NativeMessagingHosts
        on macOS. --browser picks one browser (default all). --user-data-dir DIR writes
        into DIR/NativeMessagingHosts only: the profile of a browser started with
        --user-data-dir=DIR. Prints each file written; running it again rewrites them.
        On Windows use scripts\\install-host-windows.ps1 (the registry names the manifest).

    uninstall
        Removes what install wrote (the same selectors); prints each file removed.

OPTIONS
    --demo
        Add the demo reader: a simulated Gemalto GemPC Twin holding the hello-world card
        (SELECT A0 00 00 00 62 03 01 0C 06 01, then 00 00 00 00 answers "Hello world!").

    --sim PROFILE[:CARD[,CARD]]
        Add a simulated reader (repeatable). PROFILE is one of: ${profiles}.
        It gets a card suited to it (the PIN card for pinpad, two cards for two-slot, the
        hello-world T=1 card otherwise), or CARD per slot: ${cards}, none.

    --vpcd [PORT]
        Add a reader speaking vsmartcard's vpcd protocol, listening on 127.0.0.1:PORT
        (default ${VPCD_DEFAULT_PORT}) for one virtual card, e.g.
        vicc -t iso7816 -H 127.0.0.1 -P ${VPCD_DEFAULT_PORT}. The card is present while it is connected.

    --memcard[=DIR]
        Add "Memory Card Reader 00 00": an in-memory reader and card with no driver,
        the twin of the IFD handler that test/diff/ifd-memcard.c builds for pcscd
        (SELECT and 00 00 00 00 as the demo card, 80 EE echo, GET CHALLENGE). The
        differential suite (test/diff) compares pcscd and this program with it.
        With DIR, the card is removed while DIR/absent exists (checked every 400 ms).

    --no-usb
        Do not use USB readers.

    --socket PATH
        Serve on PATH instead of $PCSCLITE_CSOCK_NAME or ${DEFAULT_SOCKET_PATH}. A live
        socket there (a running pcscd) is refused; a stale one is replaced.

    --log-level LEVEL
        debug, info (default), warn or error.

    --log-apdus
        Log command and response APDUs in hex. PIN data (VERIFY, CHANGE REFERENCE DATA,
        RESET RETRY COUNTER) and SCardControl inputs are never logged. Without this
        option APDUs show as lengths only.

    -h, --help
        Show this text.

    -V, --version
        Show the version.

ENVIRONMENT
    PCSCLITE_CSOCK_NAME
        The socket path, as libpcsclite clients read it; --socket overrides it. Clients
        started with the same value find this daemon.

    LISTEN_FDS, LISTEN_PID
        Set by systemd socket activation (a .socket unit, see docs/systemd/): the host
        serves the listening socket passed as fd 3 instead of creating one, and leaves
        its removal to systemd.

FILES
    ${DEFAULT_SOCKET_PATH}
        pcscd's socket, the default path.

    /sys/bus/usb/devices
        Without it (containers, virtual machines without USB) USB readers are off.

EXIT STATUS
    0   Stopped by SIGINT or SIGTERM (cards powered down, socket removed); with
        --native-messaging, the browser closed the link; install/uninstall done.
    1   Start-up failed (socket in use by a live pcscd, no permission, vpcd port in use,
        ...) or a fatal error; the message says why. With --native-messaging: a caller
        other than the connector, or a stream that is not Chrome's framing. install/
        uninstall: a directory or file that cannot be written.
    2   Bad usage: unknown option or bad value.

EXAMPLES
    Replace the system's pcscd:
        sudo systemctl stop pcscd.socket pcscd
        sudo smart-card-host

    Try it without a reader, on a private socket:
        smart-card-host --demo --no-usb --socket /tmp/pcscd.comm &
        PCSCLITE_CSOCK_NAME=/tmp/pcscd.comm opensc-tool -a

    Let the connector use this host, with the demo reader in its own stack:
        smart-card-host install --backend own --demo

    Register the host in a test profile only:
        smart-card-host install --user-data-dir /tmp/profile --demo --no-usb

    Virtual cards from vsmartcard:
        smart-card-host --vpcd --no-usb --socket /tmp/pcscd.comm &
        vicc -t iso7816 -H 127.0.0.1 -P ${VPCD_DEFAULT_PORT}
`;
}

/** A log function writing "LEVEL message" lines at or above `min` (with a time stamp unless journald adds one). */
export function stderrLog(min: HostLogLevel, write: (line: string) => void = (l) => process.stderr.write(l)): HostLog {
  const floor = LEVELS.indexOf(min);
  const stamp = process.env['JOURNAL_STREAM'] === undefined;
  return (level, message) => {
    if (LEVELS.indexOf(level) < floor) return;
    write(`${stamp ? `${new Date().toISOString()} ` : ''}${level.padEnd(5)} ${message}\n`);
  };
}

function fail(message: string, code: number): never {
  process.stderr.write(`smart-card-host: ${message}\n`);
  if (code === EXIT_USAGE) process.stderr.write("Try 'smart-card-host --help' for more information.\n");
  process.exit(code);
}

function removeSocket(path: string): void {
  try {
    if (existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Best effort: the next start replaces a stale socket anyway.
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  const native = nativeMode(argv);
  if (native !== null) {
    // The native messaging host (what Chrome starts for the connector) and its install/uninstall: native/command.ts.
    const deps = {
      parseArgs,
      stderrLog: (min: HostLogLevel) => stderrLog(min),
      usageError: (message: string) => new UsageError(message),
      version: PACKAGE_VERSION,
    };
    let status: number;
    try {
      status = native === 'native' ? await nativeMain(argv, deps) : await installMain(argv, deps);
    } catch (e) {
      fail((e as Error).message, e instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE);
    }
    // Exit once what was written to stdout has gone (pipes are asynchronous on macOS and Windows).
    process.exitCode = status;
    process.stdout.write('', () => process.exit(status));
    setTimeout(() => process.exit(status), 1000).unref();
    return;
  }
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (e) {
    fail((e as Error).message, e instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE);
  }
  if (options.help) {
    process.stdout.write(helpText());
    return;
  }
  if (options.version) {
    process.stdout.write(`smart-card-host ${PACKAGE_VERSION}\n`);
    return;
  }
  const log = stderrLog(options.logLevel);
  const path = options.socket ?? defaultSocketPath();
  // Started by a systemd .socket unit (LISTEN_FDS): serve its socket, which is systemd's to create and remove.
  let fd: number | undefined;
  try {
    fd = activationFd();
    checkSocketPath(path);
    // Before any reader is opened: a live pcscd there also holds the USB readers, and its socket is the real problem.
    if (fd === undefined) await prepareSocketPath(path);
  } catch (e) {
    fail((e as Error).message, EXIT_FAILURE);
  }

  const daemon = new PcscDaemon({ log });
  let readers: ReaderSet | undefined;
  let server: PcscdServer | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      log('info', `${why}: stopping`);
      await server?.close().catch((e: unknown) => log('warn', `closing the socket: ${(e as Error).message}`));
      if (fd === undefined) removeSocket(path);
      await readers?.stop();
      await daemon.shutdown();
    })();
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping !== undefined) {
        log('warn', `${signal} again: exiting at once`);
        process.exit(EXIT_FAILURE);
      }
      void stop(signal).then(
        () => process.exit(EXIT_OK),
        (e: unknown) => {
          log('error', `stopping: ${(e as Error).message}`);
          process.exit(EXIT_FAILURE);
        },
      );
    });
  }

  try {
    readers = await startReaders(
      daemon,
      {
        usb: options.usb,
        demo: options.demo,
        memcard: options.memcard,
        sim: options.sim,
        ...(options.vpcd !== undefined ? { vpcd: options.vpcd } : {}),
      },
      log,
    );
    server = await servePcscd({
      daemon,
      path,
      log,
      logLevel: options.logLevel,
      logApdus: options.logApdus,
      ...(fd !== undefined ? { fd } : {}),
    });
  } catch (e) {
    await stop('start-up failed').catch(() => {});
    fail((e as Error).message, EXIT_FAILURE);
  }
  const names = daemon.readerNames;
  log(
    'info',
    `ready: ${names.length} reader${names.length === 1 ? '' : 's'}${names.length > 0 ? ` (${names.join(', ')})` : ''}`,
  );
}

main(process.argv.slice(2)).catch((e: unknown) => {
  fail(e instanceof Error ? (e.stack ?? e.message) : String(e), EXIT_FAILURE);
});
