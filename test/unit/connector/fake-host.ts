/**
 * An in-memory smart-card-host for the connector's tests: `connectNative` gives a JSON port pair whose far end is a
 * protocol-v1 server (the connector's own router over a PcscDaemon with simulated readers, as the host serves its
 * daemon) plus the link's `hello` exchange. Each connectNative is a new "process", as in Chrome; `kill()` ends one the
 * way Chrome reports a host that exited, `notInstalled` the way it reports a missing manifest.
 */
import { ConnectorRouter, type RouterDaemon } from '../../../src/connector/router.js';
import { protocolPort } from '../../../src/connector/host-link.js';
import { PROTOCOL_VERSION } from '../../../src/protocol/messages.js';
import {
  decodeHello,
  encodeHelloReply,
  isHello,
  type HelloMessage,
  type HostBackend,
  type HostBackendChoice,
  type HostBackendState,
} from '../../../src/protocol/native.js';
import { createPortPair, type PortLike } from '../../../src/protocol/port.js';
import { PcscDaemon } from '../../../src/pcsc/index.js';
import { CcidReader } from '../../../src/ccid/reader.js';
import { createSimulatedReader, helloWorldCardT1, type SimulatedReader } from '../../../src/sim/index.js';

export const HOST_EXITED = 'Native host has exited.';
export const HOST_NOT_FOUND = 'Specified native messaging host not found.';

export interface HostProcess {
  /** What the connector sent, in order (hello included). */
  received: unknown[];
  hellos: HelloMessage[];
  /** The host process exits: Chrome disconnects the port with "Native host has exited.". */
  kill(): void;
  /** Whether the connector closed it (stdin closed). */
  closedByConnector: boolean;
  exited: boolean;
}

export interface FakeHostOptions {
  /** The daemon the host serves (its "own stack"). */
  daemon?: RouterDaemon;
  protocol?: number;
  version?: string;
  platform?: string;
  system?: HostBackendState;
  own?: HostBackendState;
  /** Which backend serves for a choice (default: auto → own, system → null unless system is available). */
  choose?: (choice: HostBackendChoice) => HostBackend | null;
  /** Never answers `hello`. */
  silent?: boolean;
  /** Calls by function name that get no answer (a call in flight when the host dies). */
  hold?: readonly string[];
}

export class FakeNative {
  readonly processes: HostProcess[] = [];
  /** No manifest: every connectNative fails as Chrome's does. */
  notInstalled = false;
  /** chrome.runtime.lastError as Chrome sets it during onDisconnect. */
  #lastError: string | undefined;
  options: FakeHostOptions;
  readonly names: string[] = [];

  constructor(options: FakeHostOptions = {}) {
    this.options = options;
  }

  get connects(): number {
    return this.names.length;
  }

  /** The latest process. */
  get current(): HostProcess | undefined {
    return this.processes.at(-1);
  }

  lastError = (): string | undefined => this.#lastError;

  connectNative = (name: string): PortLike => {
    this.names.push(name);
    const [connector, host] = createPortPair('');
    const proc: HostProcess = {
      received: [],
      hellos: [],
      closedByConnector: false,
      exited: false,
      kill: () => {
        if (proc.exited) return;
        proc.exited = true;
        this.#disconnectWith(host, HOST_EXITED);
      },
    };
    this.processes.push(proc);
    // Cleared once every onDisconnect listener has run (Chrome's lastError lives for the listener call only).
    connector.onDisconnect.addListener(() => queueMicrotask(() => (this.#lastError = undefined)));
    host.onDisconnect.addListener(() => {
      proc.closedByConnector = true;
      proc.exited = true;
    });
    if (this.notInstalled) {
      proc.exited = true;
      this.#disconnectWith(host, HOST_NOT_FOUND);
      return connector;
    }
    const o = this.options;
    const router = o.daemon
      ? new ConnectorRouter({ daemon: o.daemon, instance: `host-${this.processes.length}`, version: '0.1.0' })
      : undefined;
    const toRouter = protocolPort(host);
    const held = new Set(o.hold ?? []);
    // The router sees protocol v1 only, minus the held calls.
    const filtered: PortLike = {
      name: '',
      postMessage: (m) => toRouter.postMessage(m),
      disconnect: () => toRouter.disconnect(),
      onDisconnect: toRouter.onDisconnect,
      onMessage: {
        addListener: (l) =>
          toRouter.onMessage.addListener((m, p) => {
            const fn = (m as { fn?: unknown }).fn;
            if (typeof fn === 'string' && held.has(fn)) return;
            l(m, p);
          }),
        removeListener: () => undefined,
      },
    };
    router?.attach(filtered, { id: 'native-host' });
    host.onMessage.addListener((m) => {
      proc.received.push(m);
      if (!isHello(m) || o.silent) return;
      const hello = decodeHello(m);
      proc.hellos.push(hello);
      const system = o.system ?? { available: false, detail: 'pcscd is not running' };
      const own = o.own ?? { available: true, detail: 'smart-card-host daemon, 1 reader' };
      const backend = o.choose
        ? o.choose(hello.backend)
        : hello.backend === 'own'
          ? 'own'
          : hello.backend === 'system'
            ? system.available
              ? 'system'
              : null
            : system.available
              ? 'system'
              : 'own';
      const reply = {
        ...encodeHelloReply({
          id: hello.id,
          version: o.version ?? '0.2.0',
          platform: o.platform ?? 'linux-x64',
          backend,
          system,
          own,
        }),
        protocol: o.protocol ?? PROTOCOL_VERSION,
      };
      try {
        host.postMessage(reply);
      } catch {
        /* the connector left */
      }
    });
    return connector;
  };

  /** Chrome's way: lastError is set while the connector's onDisconnect listeners run. */
  #disconnectWith(host: PortLike, message: string): void {
    // The host end goes: the connector end's onDisconnect fires (asynchronously), lastError set just before.
    queueMicrotask(() => {
      this.#lastError = message;
      host.disconnect();
    });
  }
}

/** A daemon with one simulated GemPC Twin holding the hello-world card (the host's own stack in these tests). */
export async function hostDaemon(): Promise<{ daemon: PcscDaemon; sim: SimulatedReader; close(): Promise<void> }> {
  const daemon = new PcscDaemon({ powerOffGraceMs: 20 });
  const sim = createSimulatedReader('gempc-twin');
  sim.insertCard(helloWorldCardT1());
  const reader = await CcidReader.open(sim, { timeoutScale: 0.01 });
  await daemon.addReader(reader);
  return {
    daemon,
    sim,
    async close() {
      await daemon.shutdown().catch(() => undefined);
      await reader.close().catch(() => undefined);
    },
  };
}

/** Timers a test moves by hand: nothing runs until `advance`; `pending` shows what is left (leak checks). */
export class ManualTimers {
  #now = 0;
  #next = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.#timers.delete(handle as number);
  };
  now = (): number => this.#now;
  get pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b);
  }
  /** Moves the clock, running each timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].at <= end && (!due || e[1].at < due[1].at)) due = e;
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
    }
    this.#now = end;
  }
}
