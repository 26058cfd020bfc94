/**
 * The connector's composition: one pcsc-lite daemon, the USB device manager feeding it readers, the reader watcher
 * (reader-watcher.ts) following them, the router serving client extensions over their ports, the page server
 * (page-server.ts) serving the connector's own pages, and the demo reader (a simulated GemPC Twin with the hello-world
 * card).
 *
 * Nothing here touches `chrome.*` or `navigator`: background.ts hands in `navigator.usb`, the ports and a settings
 * store, so the whole service runs in Node against the simulator too.
 */
import { PcscDaemon } from '../pcsc/index.js';
import { UsbDeviceManager, type ReaderEntry, type UsbLike, type UsbLog } from '../usb/device-manager.js';
import { createDemoReader, type DemoReader } from '../sim/demo.js';
import { SimulatedUsb } from '../usb/simulated-usb.js';
import { LogBuffer, type LogLevel, type Redaction } from './log.js';
import type { Permissions } from './permissions.js';
import { ConnectorRouter } from './router.js';
import type { PortLike } from '../protocol/port.js';
import { ReaderWatcher } from '../protocol/reader-watcher.js';
import { PageServer } from './page-server.js';
import { appViews, holderViews, hostReaderView, hostView, readerView } from './status-view.js';
import { CombinedDaemon, HOST_SERVICE, WORKER_SERVICE, type CombinedClient } from './combined-daemon.js';
import { HostLink, type HostLinkTimers } from './host-link.js';
import { HOST_BACKEND_CHOICES, type HostBackend, type HostBackendChoice } from '../protocol/native.js';

import type { ConnectorStatus, PagePort } from './pages/messages.js';

export {
  PAGE_PORT_NAME,
  type AppView,
  type ConnectorStatus,
  type PagePort,
  type PagePush,
  type PageService,
  type ReaderView,
} from './pages/messages.js';
import { toHex } from '../util/hex.js';

/** Where small settings survive a worker restart (chrome.storage.local in the extension). */
export interface SettingsStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
}

export class MemorySettings implements SettingsStore {
  readonly #values = new Map<string, unknown>();
  get(key: string): Promise<unknown> {
    return Promise.resolve(this.#values.get(key));
  }
  set(key: string, value: unknown): Promise<void> {
    this.#values.set(key, value);
    return Promise.resolve();
  }
}

/** A client extension's port as the service counts it. */
export interface ClientPort extends PortLike {
  readonly name?: string;
}
export interface ClientSender {
  id?: string;
  url?: string;
  origin?: string;
}

export interface ConnectorServiceOptions {
  /** navigator.usb, or a simulated USB in tests; null where there is no WebUSB. */
  usb: UsbLike | null;
  version: string;
  /** Random when absent. */
  instance?: string;
  settings?: SettingsStore;
  /**
   * An echo of every log line (background.ts: warnings and errors to the console), except the call log's info lines:
   * those stay unbuilt in the log buffer until something reads them (log.ts `LogText`).
   */
  log?: UsbLog;
  /** Makes the demo reader (default: createDemoReader from src/sim/demo.ts). */
  createDemoReader?: () => DemoReader;
  daemon?: PcscDaemon;
  /**
   * Who may call (permissions.ts, with its storage and prompt). Absent: every client may (Node tests, tools); the
   * extension always passes one.
   */
  permissions?: Permissions;
  /** The log ring buffer (default: 2000 entries). */
  logs?: LogBuffer;
  /**
   * chrome.runtime.connectNative: with it the connector links to smart-card-host (host-link.ts) and combines its
   * readers with its own. Absent: this browser's readers only (Node tests, tools).
   */
  connectNative?: (name: string) => PortLike;
  /** chrome.runtime.lastError's message (read inside a native port's onDisconnect). */
  nativeLastError?: () => string | undefined;
  /** The host link's timers and back-off (tests). */
  hostLink?: { timers?: HostLinkTimers; retryMs?: number; maxRetryMs?: number; helloTimeoutMs?: number };
}

/** The host link's stored settings: on or off, and the backend asked for. */
export interface HostSettings {
  enabled: boolean;
  backend: HostBackendChoice;
}

const DEMO_SETTING = 'demoReader';
/** How long the start puts the demo reader's set-up and the host link off when no call needs the readers before. */
const DEMO_DEFER_MS = 100;
/** The longest a call waits for the initial reader scan (start()). */
const SCAN_WAIT_MAX_MS = 5_000;
const LOG_APDUS_SETTING = 'logApdus';
export const HOST_SETTING = 'hostLink';
/**
 * By default the connector tries the host once at each start: when it is not installed that costs one failed
 * connectNative and a line in the window, nothing more (no retries until the user asks).
 */
const DEFAULT_HOST_SETTINGS: HostSettings = { enabled: true, backend: 'auto' };

function hostSettings(v: unknown): HostSettings {
  const o = typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  return {
    enabled: typeof o.enabled === 'boolean' ? o.enabled : DEFAULT_HOST_SETTINGS.enabled,
    backend: HOST_BACKEND_CHOICES.includes(o.backend as HostBackendChoice)
      ? (o.backend as HostBackendChoice)
      : DEFAULT_HOST_SETTINGS.backend,
  };
}

/**
 * Context and card handles drawn from the platform's CSPRNG (pcscd draws them with SYS_RandomInt): a client must not be
 * able to predict the values another client was given.
 */
function secureRandom(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32;
}

function randomInstance(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return toHex(bytes, '', 'lower');
}

/** Both USBs as one: the browser's (real readers) and the simulated one (the demo reader, test devices). */
function mergeUsb(real: UsbLike | null, simulated: UsbLike): UsbLike {
  return {
    async getDevices() {
      const [a, b] = await Promise.all([real ? real.getDevices() : Promise.resolve([]), simulated.getDevices()]);
      return [...a, ...b];
    },
    addEventListener(type, listener) {
      real?.addEventListener(type, listener);
      simulated.addEventListener(type, listener);
    },
    removeEventListener(type, listener) {
      real?.removeEventListener(type, listener);
      simulated.removeEventListener(type, listener);
    },
  };
}

export class ConnectorService {
  readonly instance: string;
  readonly version: string;
  readonly daemon: PcscDaemon;
  /** What clients and the reader watcher talk to: the daemon's readers and the host's, as one reader list. */
  readonly pcsc: CombinedDaemon;
  /** The link to smart-card-host; null without native messaging. */
  readonly hostLink: HostLink | null;
  readonly devices: UsbDeviceManager;
  readonly router: ConnectorRouter;
  /** Where simulated devices are plugged in and out (the demo reader; test builds' devices). */
  readonly simulatedUsb = new SimulatedUsb();
  /** Follows the daemon's readers (states and ATRs for the pages, `readers` events for clients). */
  readonly readerWatcher: ReaderWatcher;
  /** The connector's own pages (its window, the prompt). */
  readonly pages: PageServer;
  readonly #usb: UsbLike | null;
  readonly #settings: SettingsStore;
  readonly #log: UsbLog;
  readonly #makeDemo: () => DemoReader;
  readonly logs: LogBuffer;
  readonly permissions: Permissions | null;
  #logApdus = false;
  readonly #listeners = new Set<(status: ConnectorStatus) => void>();
  #demo: DemoReader | null = null;
  #demoOn = false;
  /** Serialises demo switching so quick toggles cannot interleave. */
  #demoQueue: Promise<void> = Promise.resolve();
  #started: Promise<void> | undefined;
  /** Starts what the start put off (the demo reader's set-up, the host link): a call needs the readers; shutdown. */
  #demoNow: () => void = () => {};
  #host: HostSettings = { ...DEFAULT_HOST_SETTINGS };
  /** The clock of the host link's timers (the window's "retrying in N s"). */
  readonly #now: () => number;
  /** The backend the host serves now (origin of its readers). */
  #hostBackend: HostBackend | null = null;
  /** The reader watcher's combined client (its reader names are the ones the window shows). */
  #watcherClient: CombinedClient | undefined;
  /** The window's host switch was used: the start's put-off link start (start()) must not undo it. */
  #hostSwitched = false;
  /** Serialises host service changes (a quick crash and restart must not add before the removal finished). */
  #hostQueue: Promise<void> = Promise.resolve();

  constructor(options: ConnectorServiceOptions) {
    this.instance = options.instance ?? randomInstance();
    this.version = options.version;
    this.#usb = options.usb;
    this.#settings = options.settings ?? new MemorySettings();
    this.logs = options.logs ?? new LogBuffer();
    const echo = options.log ?? (() => {});
    // Every part logs into the ring buffer (which the window shows and exports) and to the console (background.ts).
    const logFrom =
      (source: string) =>
      (level: LogLevel, message: string): void => {
        this.logs.add(level, source, message);
        try {
          echo(level, `${source}: ${message}`);
        } catch {
          /* a failing console must not break anything */
        }
      };
    this.#log = logFrom('service');
    this.#makeDemo = options.createDemoReader ?? (() => createDemoReader());
    // Clients are unrelated extensions: each gets pcscd's 200 contexts, so none can lock the others out.
    this.daemon =
      options.daemon ?? new PcscDaemon({ log: logFrom('daemon'), contextLimitScope: 'client', random: secureRandom });
    this.devices = new UsbDeviceManager(mergeUsb(this.#usb, this.simulatedUsb), this.daemon, { log: logFrom('usb') });
    this.pcsc = new CombinedDaemon(this.daemon, { log: logFrom('readers') });
    const hostTimers = options.hostLink?.timers;
    this.#now = hostTimers ? () => hostTimers.now() : () => Date.now();
    const connectNative = options.connectNative;
    this.hostLink = connectNative
      ? new HostLink({
          connectNative,
          ...(options.nativeLastError ? { lastError: options.nativeLastError } : {}),
          ...options.hostLink,
          log: logFrom('host'),
          onState: () => this.#changed(),
          onService: (client, backend) => {
            const next = this.#hostQueue.then(async () => {
              this.#hostBackend = backend;
              await this.pcsc.setHost(client);
              this.#changed();
            });
            this.#hostQueue = next.catch((e: unknown) => this.#log('warn', `host service change: ${String(e)}`));
          },
        })
      : null;
    this.permissions = options.permissions ?? null;
    const permissions = this.permissions;
    this.router = new ConnectorRouter({
      daemon: this.pcsc,
      instance: this.instance,
      version: this.version,
      log: logFrom('router'),
      logLine: (level, line) => {
        this.logs.add(level, 'router', line);
        if (level === 'info' || level === 'debug') return;
        try {
          echo(level, `router: ${line()}`);
        } catch {
          /* a failing console must not break anything */
        }
      },
      redaction: () => this.redaction,
      ...(permissions
        ? {
            authorize: async (sender, portName) => {
              const v = await permissions.check(sender.id, portName);
              return v.allowed ? true : { allowed: false, message: v.message };
            },
            knownAllowed: (sender) => permissions.allowedNow(sender.id),
          }
        : {}),
    });
    // The watcher starts with the service: its first reader list waits for the initial scan without hurrying it.
    const watched = {
      connect: (info?: { name?: string }) => (this.#watcherClient = this.pcsc.connect(info, { passive: true })),
    };
    this.readerWatcher = new ReaderWatcher(watched, {
      log: logFrom('service'),
      onChange: (readers) => {
        try {
          this.router.publishReaders(readers);
        } catch (e) {
          this.#log('warn', `publishing readers: ${String(e)}`);
        }
        this.#changed();
      },
    });
    this.pages = new PageServer(this, { log: logFrom('service') });
    this.devices.onChange(() => this.#changed());
    // A hold taken or given up changes no reader state clients see (a transaction raises no event): told apart.
    this.daemon.onHoldersChange(() => this.#changed());
    // Who is connected comes from the router's own sessions (one per client port).
    this.router.onConnectionsChange(() => this.#connectionsChanged());
    if (permissions) {
      permissions.onChange(() => this.#changed());
      permissions.onRevoke((id) => {
        void this.router
          .revoke((s) => s.id === id)
          .then((n) => {
            if (n > 0) this.#log('info', `${id}: ${n} connection(s) lost access; their contexts are closed`);
          });
      });
    }
  }

  /** The redaction in force (log.ts): APDU bytes only with the user's switch on. */
  get redaction(): Redaction {
    return { apdus: this.#logApdus };
  }

  get logApdus(): boolean {
    return this.#logApdus;
  }

  /** The "Log APDUs" switch (stored; off by default). */
  async setLogApdus(on: boolean): Promise<void> {
    this.#logApdus = on;
    this.#log(
      'info',
      `APDU logging ${on ? 'on: command and response bytes will be logged (PIN data and SCardControl inputs never)' : 'off'}`,
    );
    this.#changed();
    await this.#settings
      .set(LOG_APDUS_SETTING, on)
      .catch((e: unknown) => this.#log('warn', `could not save the APDU logging setting: ${String(e)}`));
  }

  /**
   * Listens for USB hot-plug, opens the granted readers and brings the demo reader back if it was on. The USB
   * listeners are registered synchronously, before anything is awaited (a worker woken by a `connect` event gets it).
   */
  start(): Promise<void> {
    this.#started ??= (async () => {
      // Until the initial reader scan is done (granted devices opened, the demo reader back), calls that need readers
      // wait for it, as pcscd answers once its initial scan is done; SCardEstablishContext does not (combined-daemon.ts).
      let scanned!: () => void;
      const scan = new Promise<void>((resolve) => (scanned = resolve));
      // The demo reader's set-up is the start's longest work (a simulated reader and card powered up through the CCID
      // driver, one run of microtasks: a fifth of the worker's sampled CPU to its first answer, bench/README.md): put
      // off until a client's call needs the readers, or DEMO_DEFER_MS, so a woken worker's first SCardEstablishContext
      // is not queued behind it.
      let demoNow!: () => void;
      const demoGo = new Promise<void>((resolve) => (demoNow = resolve));
      // The host link's start is put off the same way (its connectNative: the bindings set up, a host process started,
      // a millisecond or more of the worker's thread), but not by the start's own end, which ends the demo's wait.
      let hostNow!: () => void;
      const hostGo = new Promise<void>((resolve) => (hostNow = resolve));
      const needed = (): void => {
        demoNow();
        hostNow();
      };
      this.#demoNow = needed;
      // No call waits for a scan stuck on a device (a USB open that never ends) longer than SCAN_WAIT_MAX_MS.
      let capTimer: ReturnType<typeof setTimeout> | undefined;
      const capped = Promise.race([scan, new Promise<void>((r) => (capTimer = setTimeout(r, SCAN_WAIT_MAX_MS)))]);
      void capped.then(() => clearTimeout(capTimer));
      this.pcsc.initialScan(capped, needed);
      const devicesReady = this.devices.start();
      // The grants (a first call's authorization needs them) and the settings are read at once, side by side: each
      // read is a round trip to the browser process, and a woken worker's first call waits for the grants.
      const grantsRead = this.permissions?.load();
      let demo = false;
      try {
        const [demoOn, logApdus, host] = await Promise.all(
          [DEMO_SETTING, LOG_APDUS_SETTING, HOST_SETTING].map((key) => this.#settings.get(key)),
        );
        demo = demoOn === true;
        this.#logApdus = logApdus === true;
        this.#host = hostSettings(host);
      } catch (e) {
        this.#log('warn', `could not read the settings: ${String(e)}`);
      }
      await grantsRead;
      void this.readerWatcher.start();
      if (this.hostLink) {
        // A woken worker answers its first SCardEstablishContext before the host link starts; the host's readers were
        // never awaited by the initial scan (they come once the host says hello). The window's switch, if used before,
        // has the last word.
        const link = this.hostLink;
        link.setBackend(this.#host.backend);
        void hostGo.then(() => {
          if (!this.#hostSwitched) link.setEnabled(this.#host.enabled);
        });
      }
      const deferTimer = setTimeout(needed, DEMO_DEFER_MS);
      void hostGo.then(() => clearTimeout(deferTimer));
      try {
        await Promise.all([
          devicesReady,
          demo ? this.setDemoReader(true, { persist: false, after: demoGo }) : Promise.resolve(),
        ]);
      } finally {
        demoNow();
        scanned();
      }
    })();
    return this.#started;
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Clients

  /** A client extension connected (chrome.runtime.onConnectExternal): the router serves it. */
  attachClient(port: ClientPort, sender: ClientSender): void {
    this.router.attach(port, { id: sender.id, origin: sender.origin, url: sender.url });
  }

  /**
   * A client port came or went. When the last connection of a client the user is being asked about goes, nobody waits
   * for the answer any more: the question is withdrawn.
   */
  #connectionsChanged(): void {
    const permissions = this.permissions;
    if (permissions && permissions.pending.length > 0) {
      const connected = new Set(this.router.connections.map((c) => c.sender.id));
      for (const p of permissions.pending) if (!connected.has(p.id)) permissions.dismiss(p.id, 'gone');
    }
    this.#changed();
  }

  /**
   * The window's "End" under a reader: the app's hold ends now. An app the user allowed is revoked (permissions.ts,
   * onRevoke: its daemon clients close, releasing its handles, its transaction and its exclusive access; its next call
   * asks again). An app allowed by policy or built in cannot be revoked: its daemon clients are closed all the same,
   * which ends the hold; its next call is allowed again.
   */
  async endHold(id: string): Promise<string> {
    const grant = this.permissions?.list().find((p) => p.id === id);
    if (grant?.source === 'user' && this.permissions) {
      await this.permissions.revoke(id);
      return `Ended: ${id} lost access; it will be asked again on its next call.`;
    }
    const n = await this.router.revoke((s) => (s.id ?? s.origin) === id);
    this.#log('info', `${id}: its hold on the readers was ended from the window (${n} connection(s))`);
    if (!grant) return `Ended: ${id}'s calls were cut.`;
    const by = grant.source === 'policy' ? 'your administrator' : 'default';
    return `Ended: ${id}'s calls were cut; it is allowed by ${by} and may connect again.`;
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Readers

  get demoReaderOn(): boolean {
    return this.#demoOn;
  }

  /** The demo reader while it is plugged in (tests take its card out and put it back). */
  get demoReader(): DemoReader | null {
    return this.#demo;
  }

  /**
   * Plugs the demo reader in or unplugs it; remembered across worker restarts unless `persist` is false. `after`: the
   * switch waits for it in the queue (the start's put-off set-up; later switches queue behind it).
   */
  setDemoReader(on: boolean, options: { persist?: boolean; after?: Promise<void> } = {}): Promise<void> {
    const run = async () => {
      if (options.after) await options.after;
      if (options.persist !== false) {
        await this.#settings
          .set(DEMO_SETTING, on)
          .catch((e: unknown) => this.#log('warn', `could not save the demo setting: ${String(e)}`));
      }
      if (on === this.#demoOn) return;
      this.#demoOn = on;
      this.#changed();
      if (on) {
        // A new simulated reader each time (an unplugged one cannot come back, as with real hardware). Listed first
        // with its label, then plugged in: the manager ignores the 'connect' event of a device it already has.
        const demo = this.#makeDemo();
        this.#demo = demo;
        const added = this.devices.addDevice(demo.device, { simulated: true, label: demo.label });
        this.simulatedUsb.plug(demo.device);
        await added;
      } else {
        // Unplugged, as a real reader would be: pending calls fail, the daemon drops the reader.
        const demo = this.#demo;
        this.#demo = null;
        if (demo) {
          this.simulatedUsb.unplug(demo.device);
          await this.devices.removeDevice(demo.device);
        }
      }
      this.#changed();
    };
    const next = this.#demoQueue.then(run);
    this.#demoQueue = next.catch(() => {});
    return next;
  }

  /**
   * After the page's navigator.usb.requestDevice(): the worker sees the newly granted device in getDevices() (no
   * `connect` event comes for a device that was already plugged in). Known devices are left alone (failed ones retried).
   */
  async pickUpDevices(): Promise<ReaderEntry[]> {
    if (!this.#usb) return [];
    const devices = await this.#usb.getDevices();
    const entries = await Promise.all(devices.map((d) => this.devices.addDevice(d)));
    return entries.filter((e): e is ReaderEntry => e !== undefined);
  }

  /** Tries a failed reader again (the window's "Try again"). */
  retryReader(id: string): Promise<ReaderEntry | undefined> {
    return this.devices.retry(id);
  }

  /** Adds a device (a test hook's simulated one, say) as if it had been granted. */
  addDevice(
    device: USBDevice,
    options: { label?: string; simulated?: boolean } = {},
  ): Promise<ReaderEntry | undefined> {
    return this.devices.addDevice(device, options);
  }

  // -------------------------------------------------------------------------------------------------------------------
  // The host

  get hostSettings(): HostSettings {
    return { ...this.#host };
  }

  /** The window's host switch: starts or stops the link; stored. */
  async setHostEnabled(on: boolean): Promise<void> {
    this.#host = { ...this.#host, enabled: on };
    this.#hostSwitched = true;
    this.#log('info', `host link ${on ? 'on' : 'off'}`);
    this.hostLink?.setEnabled(on);
    this.#changed();
    await this.#saveHost();
  }

  /** The window's backend choice: the link starts again asking for it; stored. */
  async setHostBackend(choice: HostBackendChoice): Promise<void> {
    if (!HOST_BACKEND_CHOICES.includes(choice)) throw new TypeError('the backend is one of "auto", "system", "own"');
    this.#host = { ...this.#host, backend: choice };
    this.#log('info', `host backend: ${choice}`);
    this.hostLink?.setBackend(choice);
    this.#changed();
    await this.#saveHost();
  }

  /** The window's "Try again": the host starts now (once installed, or without waiting for the back-off). */
  retryHost(): void {
    this.hostLink?.retry();
  }

  async #saveHost(): Promise<void> {
    await this.#settings
      .set(HOST_SETTING, { ...this.#host })
      .catch((e: unknown) => this.#log('warn', `could not save the host setting: ${String(e)}`));
  }

  // -------------------------------------------------------------------------------------------------------------------
  // The page

  status(): ConnectorStatus {
    const connections = this.router.connections;
    // The names clients see (the watcher's combined list), with the service each reader comes from.
    const listed = this.#watcherClient?.readerNames() ?? [];
    const workerNames = new Map<string, string>();
    for (const r of listed) if (r.service === WORKER_SERVICE) workerNames.set(r.raw, r.name);
    const state = (name: string) => this.readerWatcher.state(name);
    // Who holds each of the worker's readers (the host's readers' holders are not known here).
    const names = new Map<string, string>();
    for (const c of connections) {
      const id = c.sender.id ?? c.sender.origin;
      if (id !== undefined && c.name !== '' && !names.has(id)) names.set(id, c.name);
    }
    const permissions = this.permissions?.list() ?? [];
    for (const p of permissions) if (p.name !== '') names.set(p.id, p.name);
    const held = new Map(this.daemon.holders().map((r) => [r.reader, r.holders]));
    const holders = (n: string) => holderViews(held.get(n) ?? [], (id) => names.get(id));
    const usbReaders = this.devices.entries.map((e) => readerView(e, state, (n) => workerNames.get(n) ?? n, holders));
    const hostReaders = listed
      .filter((r) => r.service === HOST_SERVICE)
      .map((r) => hostReaderView(r.name, this.#hostBackend, state));
    return {
      version: this.version,
      instance: this.instance,
      usb: this.#usb !== null,
      demoReader: this.#demoOn,
      readers: [...usbReaders, ...hostReaders],
      apps: appViews(connections),
      connectedApps: connections.length,
      permissions,
      prompts: this.permissions?.pending ?? [],
      logApdus: this.#logApdus,
      host: hostView(
        this.hostLink?.state ?? {
          state: 'unavailable',
          message: 'this connector runs without native messaging',
        },
        this.#host.enabled,
        this.#host.backend,
        this.#now(),
      ),
    };
  }

  onChange(listener: (status: ConnectorStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * One of the connector's own pages connected (chrome.runtime.onConnect, name PAGE_PORT_NAME; background.ts checked
   * that it is ours): it calls the page server's service through comlink and gets the status pushed.
   */
  attachPage(port: PagePort): void {
    this.pages.attach(port);
  }

  #changed(): void {
    // Nobody to tell (no page open, no listener): the status is not built. A page gets it when it attaches; building
    // it for nothing was most of the worker's start-up work (the app list's localeCompare loads ICU's collator).
    if (this.pages.pages === 0 && this.#listeners.size === 0) return;
    const status = this.status();
    this.pages.publish(status);
    for (const l of [...this.#listeners]) {
      try {
        l(status);
      } catch (e) {
        this.#log('error', `status listener threw: ${String(e)}`);
      }
    }
  }

  async shutdown(): Promise<void> {
    this.#demoNow();
    this.hostLink?.dispose();
    this.readerWatcher.stop();
    // Its combined client answers its wait at once (the daemon's shutdown alone would leave it waiting on no service).
    await this.#watcherClient?.close().catch(() => {});
    await this.router.close().catch(() => {});
    await this.setDemoReader(false, { persist: false }).catch(() => {});
    await this.devices.stop();
    await this.daemon.shutdown();
  }
}
