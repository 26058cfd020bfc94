/**
 * The two things the native host can serve the connector: the operating system's PC/SC service (pcsc-lite,
 * PCSC.framework or winscard.dll, through koffi: src/host/system) and the host's own stack (our pcsc-lite port and
 * CCID driver, with the reader sources of the host's options: src/host/readers).
 *
 * A backend hands out clients; each client owns the contexts and cards made through it and releases them all on
 * `close()` (pcscd's client death: waits cancelled, cards disconnected). Closing the backend closes its clients.
 */
import type { PcscApi } from '../../pcsc/api.js';
import { SCARD_E_NO_SERVICE, SCARD_SCOPE_SYSTEM } from '../../pcsc/constants.js';
import { PcscError } from '../../pcsc/errors.js';
import type { HostBackend, HostBackendState } from '../../protocol/native.js';
import { openPcsc, type OpenPcscOptions } from '../index.js';
import { usbBusStatus, type HostLog } from '../readers/index.js';
import type { SystemPcsc, SystemPcscOptions } from '../system/system-pcsc.js';

export interface BackendClient extends PcscApi {
  /** Releases everything made through this client (waits cancelled first). Idempotent. */
  close(): Promise<void>;
}

export interface Backend {
  readonly kind: HostBackend;
  /** For the hello reply: what serves ("pcsc-lite through libpcsclite", "own stack: 1 reader (…)"). */
  detail(): string;
  connect(name: string): BackendClient;
  /** Closes every client, then the backend (the own stack powers its cards down and releases its readers). */
  close(): Promise<void>;
}

/** Opens backends; the server asks it at each `hello`. */
export interface BackendProvider {
  /** Whether the system's service answers SCardEstablishContext now, in words a person can act on when not. */
  probeSystem(): Promise<HostBackendState>;
  openSystem(): Promise<Backend>;
  /** What the own stack would serve (no reader is opened to answer this). */
  ownState(): HostBackendState;
  openOwn(): Promise<Backend>;
}

const OWN_CHOICE = "or choose the host's own stack";

/** Tracks clients so that closing the backend closes them all. */
class Clients {
  readonly #open = new Set<BackendClient>();
  add(make: () => BackendClient): BackendClient {
    const client = make();
    const close = client.close.bind(client);
    let closing: Promise<void> | undefined;
    const tracked = Object.create(client) as BackendClient;
    Object.defineProperty(tracked, 'close', {
      value: () => {
        closing ??= close().finally(() => this.#open.delete(tracked));
        return closing;
      },
    });
    this.#open.add(tracked);
    return tracked;
  }
  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.#open].map((c) => c.close()));
  }
}

/** The detail of a PcscError without its "<code text> (0x…): " prefix. */
function detailOf(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/^[^(]*\(0x[0-9A-F]{8}\): /, '');
}

export interface DefaultProviderOptions {
  /** The own stack's readers and log (the host's options: --demo, --sim, --vpcd, USB). */
  own: OpenPcscOptions;
  system?: SystemPcscOptions;
  log: HostLog;
}

function ownSources(o: OpenPcscOptions): string[] {
  const sources: string[] = [];
  if (o.demo) sources.push('the demo reader');
  for (const s of o.sim ?? []) sources.push(`simulated ${typeof s === 'string' ? s : s.profile}`);
  if (o.vpcd !== undefined && o.vpcd !== false) sources.push('a vpcd reader');
  if (o.usb !== false) {
    const bus = usbBusStatus();
    sources.push(bus.available ? 'USB readers' : (bus.reason ?? 'no USB bus'));
  }
  return sources;
}

export function defaultBackendProvider(options: DefaultProviderOptions): BackendProvider {
  const { log } = options;
  // koffi and the system library are loaded on first use only: the own stack works where they cannot load.
  const loadSystem = async (): Promise<SystemPcsc> => {
    const m = await import('../system/system-pcsc.js');
    return m.openSystemPcsc(options.system);
  };

  const probeSystem = async (): Promise<HostBackendState> => {
    let pcsc: SystemPcsc | undefined;
    try {
      pcsc = await loadSystem();
      const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
      await pcsc.SCardReleaseContext(hContext).catch(() => {});
      return { available: true, detail: systemName() };
    } catch (e) {
      return { available: false, detail: `${detailOf(e)}; ${OWN_CHOICE}` };
    } finally {
      await pcsc?.close().catch(() => {});
    }
  };

  return {
    probeSystem,

    async openSystem() {
      const state = await probeSystem();
      if (!state.available) throw new PcscError(SCARD_E_NO_SERVICE, state.detail);
      const { openSystemPcsc } = await import('../system/system-pcsc.js');
      const clients = new Clients();
      log('info', `serving the system's PC/SC service (${systemName()})`);
      return {
        kind: 'system',
        detail: systemName,
        // One SystemPcsc per client: its close() cancels that client's waits and releases its contexts only.
        connect: () => clients.add(() => openSystemPcsc(options.system)),
        close: () => clients.closeAll(),
      };
    },

    ownState() {
      const sources = ownSources(options.own);
      return {
        available: true,
        detail: `the host's own stack (pcsc-lite port, CCID driver): ${sources.length ? sources.join(', ') : 'no readers'}`,
      };
    },

    async openOwn() {
      const pcsc = await openPcsc({ ...options.own, log, name: 'connector' });
      const clients = new Clients();
      log('info', `serving the host's own stack (${pcsc.daemon.readerNames.length} readers)`);
      return {
        kind: 'own',
        detail: () => {
          const names = pcsc.daemon.readerNames;
          return `the host's own stack: ${names.length} reader${names.length === 1 ? '' : 's'}${
            names.length ? ` (${names.join(', ')})` : ''
          }`;
        },
        connect: (name) => clients.add(() => pcsc.daemon.connect({ name })),
        close: async () => {
          await clients.closeAll();
          await pcsc.close();
        },
      };
    },
  };
}

function systemName(): string {
  switch (process.platform) {
    case 'linux':
      return 'pcsc-lite (pcscd) through libpcsclite';
    case 'darwin':
      return 'macOS PCSC.framework';
    case 'win32':
      return 'Windows winscard.dll';
    default:
      return `the PC/SC library of ${process.platform}`;
  }
}
