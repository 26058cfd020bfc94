/**
 * `smart-card-host --native-messaging`: the host as Chrome starts it for the connector (`path chrome-extension://ID/`,
 * on Windows also `--parent-window=N`). Standard input and output carry Chrome's frames and nothing else; every log
 * line goes to standard error (Chrome passes it on to its own stderr).
 *
 * Life: one process per `connectNative` port. When Chrome closes the port (or the browser goes), stdin ends: every
 * context and card of the connector is released (waits cancelled, own-stack cards powered down) and the process exits
 * with status 0. A stream that is not Chrome's framing (a length beyond the limit, bytes that are not UTF-8 JSON) is
 * logged in one line and ends the process with status 1: there is no frame boundary to resume at.
 */
import { randomBytes } from 'node:crypto';
import type { HostBackendChoice } from '../../protocol/native.js';
import type { OpenPcscOptions } from '../index.js';
import type { HostLog, HostLogLevel } from '../readers/index.js';
import { defaultBackendProvider, type BackendProvider } from './backends.js';
import { CONNECTOR_ID, extensionOrigin } from './connector-id.js';
import { FrameDecoder, FramingError, encodeFrame } from './framing.js';
import { NativeHostServer } from './server.js';

export interface NativeHostOptions {
  /** The host's --backend: what a `hello` asking for `auto` gets. */
  backend: HostBackendChoice;
  /** The own stack's reader sources. */
  own: OpenPcscOptions;
  /** The caller Chrome named (`chrome-extension://ID/`), if any. */
  origin: string | undefined;
  /** Extension ids allowed to call (the connector's, plus any --extension-id). */
  allowedIds: readonly string[];
  version: string;
  log: HostLog;
  /** --log-apdus: APDUs in the call log (debug level) as hex, PIN data never. */
  logApdus?: boolean;
  /** --log-level: the lowest level `log` keeps (default 'debug'); below debug, the per-call lines are not built. */
  logLevel?: HostLogLevel;
  /** For tests: another provider, other streams. */
  provider?: BackendProvider;
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
}

/** The ids a host accepts by default: the connector's. */
export const DEFAULT_ALLOWED_IDS: readonly string[] = [CONNECTOR_ID];

/** Checks the caller Chrome named; returns why it is refused, or null. */
export function refuseOrigin(origin: string | undefined, allowedIds: readonly string[]): string | null {
  if (origin === undefined) return null;
  if (allowedIds.some((id) => extensionOrigin(id) === origin)) return null;
  // The origin is Chrome's own argument, not data from a peer; still, only its length is shown if it looks odd.
  const shown = /^chrome-extension:\/\/[a-p]{32}\/$/.test(origin) ? origin : `an origin of ${origin.length} characters`;
  return (
    `refusing ${shown}: this host serves ${allowedIds.map(extensionOrigin).join(', ')} ` +
    '(install the host for that extension: smart-card-host install --extension-id ID)'
  );
}

/** Runs until stdin ends; resolves with the exit status. */
export async function runNativeHost(options: NativeHostOptions): Promise<number> {
  const { log } = options;
  const refused = refuseOrigin(options.origin, options.allowedIds);
  if (refused !== null) {
    log('error', refused);
    return 1;
  }
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const server = new NativeHostServer({
    provider: options.provider ?? defaultBackendProvider({ own: options.own, log }),
    send: (json) => {
      stdout.write(encodeFrame(json));
    },
    log,
    version: options.version,
    instance: randomBytes(8).toString('hex'),
    defaultBackend: options.backend,
    logApdus: options.logApdus === true,
    ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
  });
  log('info', `native messaging host ${options.version} started for ${options.origin ?? 'an unnamed caller'}`);

  const decoder = new FrameDecoder();
  return new Promise<number>((resolve) => {
    let ended = false;
    const finish = (status: number, why: string): void => {
      if (ended) return;
      ended = true;
      stdin.removeListener('data', onData);
      log(status === 0 ? 'info' : 'error', `${why}: releasing every context and card`);
      void server
        .close()
        .catch((e: unknown) => log('warn', `releasing: ${e instanceof Error ? e.message : String(e)}`))
        .then(() => resolve(status));
    };
    const onData = (chunk: Buffer | string): void => {
      let messages: unknown[];
      try {
        messages = decoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      } catch (e) {
        finish(1, `bad input from the browser: ${e instanceof FramingError ? e.message : String(e)}`);
        return;
      }
      for (const m of messages) server.handle(m);
    };
    // Chrome ends a host that outlives its port with SIGTERM; a person at a terminal uses Ctrl-C.
    const onSignal = (signal: NodeJS.Signals): void => finish(0, signal);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    stdin.on('data', onData);
    stdin.once('end', () => {
      try {
        decoder.end();
        finish(0, 'the browser closed the link');
      } catch (e) {
        finish(1, `the browser closed the link: ${(e as Error).message}`);
      }
    });
    stdin.once('error', (e: Error) => finish(1, `reading from the browser failed (${e.message})`));
    // A closed stdout (the browser gone) must not throw EPIPE through the host.
    stdout.on('error', (e: Error) => finish(0, `the browser stopped reading (${e.message})`));
  });
}
