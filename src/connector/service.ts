/**
 * The connector's composition: one pcsc-lite daemon, the USB device manager feeding it readers, the router serving
 * client extensions over their ports, and the demo reader (a simulated GemPC Twin with the hello-world card).
 *
 * Nothing here touches `chrome.*` or `navigator`: background.ts hands in `navigator.usb`, the ports and a settings
 * store, so the whole service runs in Node against the simulator too. The connector's own page talks to it through
 * `attachPage` with the small JSON messages below.
 */
import { PcscDaemon } from '../pcsc/index.js';
import { UsbDeviceManager, type ReaderEntry, type UsbLike, type UsbLog } from '../usb/device-manager.js';
import { createDemoReader, SimulatedUsb, type DemoReader } from '../sim/demo.js';
import {
  INFINITE,
  PNP_NOTIFICATION_READER_NAME,
  SCARD_E_NO_READERS_AVAILABLE,
  SCARD_SCOPE_SYSTEM,
  SCARD_STATE_CHANGED,
  SCARD_STATE_EXCLUSIVE,
  SCARD_STATE_INUSE,
  SCARD_STATE_MUTE,
  SCARD_STATE_PRESENT,
} from '../pcsc/constants.js';
import { describeAtr, parseAtr } from '../ccid/atr.js';
import { LogBuffer, type LogLevel, type Redaction } from './log.js';
import type { Permissions } from './permissions.js';
import { isPcscError } from '../pcsc/errors.js';
import type { ReaderInfo } from './codec.js';
import { ConnectorRouter } from './router.js';
import type { PortLike } from './port.js';

import type { AppView, ConnectorStatus, LogEntry, PageMessage, PagePort, PageRequest, SlotView } from './pages/messages.js';

export { PAGE_PORT_NAME, type AppView, type ConnectorStatus, type PageMessage, type PagePort, type PageRequest, type ReaderView } from './pages/messages.js';

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
}

const DEMO_SETTING = 'demoReader';
const LOG_APDUS_SETTING = 'logApdus';

const hexBytes = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).toUpperCase().padStart(2, '0')).join(' ');

function slotView(name: string, s: { state: number; atr: Uint8Array } | undefined): SlotView {
  const state = s?.state ?? 0;
  const card = (state & SCARD_STATE_PRESENT) !== 0;
  let atrInfo: string | null = null;
  let protocols: string | null = null;
  const atr = card && s && s.atr.length > 0 ? s.atr : null;
  if (atr) {
    try {
      const parsed = parseAtr(atr);
      atrInfo = describeAtr(parsed);
      protocols = parsed.protocols.map((t) => `T=${t}`).join(', ');
    } catch (e) {
      atrInfo = `cannot be decoded: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  return {
    name,
    card,
    inUse: (state & SCARD_STATE_INUSE) !== 0,
    exclusive: (state & SCARD_STATE_EXCLUSIVE) !== 0,
    mute: (state & SCARD_STATE_MUTE) !== 0,
    atr: atr ? hexBytes(atr) : null,
    atrInfo,
    protocols,
  };
}

function randomInstance(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');

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
  readonly devices: UsbDeviceManager;
  readonly router: ConnectorRouter;
  /** Where simulated devices are plugged in and out (the demo reader; test builds' devices). */
  readonly simulatedUsb = new SimulatedUsb();
  readonly #usb: UsbLike | null;
  readonly #readerStates = new Map<string, { state: number; atr: Uint8Array }>();
  #watcher: Promise<void> | undefined;
  #stopping = false;
  readonly #settings: SettingsStore;
  readonly #log: UsbLog;
  readonly #makeDemo: () => DemoReader;
  readonly #clients = new Map<ClientPort, { id: string; name: string }>();
  readonly logs: LogBuffer;
  readonly permissions: Permissions | null;
  #logApdus = false;
  readonly #logWatchers = new Set<PagePort>();
  #logBatch: LogEntry[] = [];
  #logTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #pages = new Set<PagePort>();
  readonly #listeners = new Set<(status: ConnectorStatus) => void>();
  #demo: DemoReader | null = null;
  #demoOn = false;
  /** Serialises demo switching so quick toggles cannot interleave. */
  #demoQueue: Promise<void> = Promise.resolve();
  #started: Promise<void> | undefined;

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
    this.daemon = options.daemon ?? new PcscDaemon({ log: logFrom('daemon'), contextLimitScope: 'client' });
    this.devices = new UsbDeviceManager(mergeUsb(this.#usb, this.simulatedUsb), this.daemon, { log: logFrom('usb') });
    this.permissions = options.permissions ?? null;
    const permissions = this.permissions;
    this.router = new ConnectorRouter({
      daemon: this.daemon,
      instance: this.instance,
      version: this.version,
      log: logFrom('router'),
      redaction: () => this.redaction,
      ...(permissions
        ? {
            authorize: async (sender, portName) => {
              const v = await permissions.check(sender.id, portName);
              return v.allowed ? true : { allowed: false, message: v.message };
            },
          }
        : {}),
    });
    this.devices.onChange(() => this.#changed());
    if (permissions) {
      permissions.onChange(() => this.#changed());
      permissions.onRevoke((id) => {
        void this.router.revoke((s) => s.id === id).then((n) => {
          if (n > 0) this.#log('info', `${id}: ${n} connection(s) lost access; their contexts are closed`);
        });
      });
    }
    this.logs.onEntry((entry) => this.#queueLog(entry));
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
    this.#log('info', `APDU logging ${on ? 'on: command and response bytes will be logged (PIN data and SCardControl inputs never)' : 'off'}`);
    this.#changed();
    await this.#settings.set(LOG_APDUS_SETTING, on).catch((e: unknown) => this.#log('warn', `could not save the APDU logging setting: ${String(e)}`));
  }

  /**
   * Listens for USB hot-plug, opens the granted readers and brings the demo reader back if it was on. The USB
   * listeners are registered synchronously, before anything is awaited (a worker woken by a `connect` event gets it).
   */
  start(): Promise<void> {
    this.#started ??= (async () => {
      const devicesReady = this.devices.start();
      let demo = false;
      try {
        demo = (await this.#settings.get(DEMO_SETTING)) === true;
        this.#logApdus = (await this.#settings.get(LOG_APDUS_SETTING)) === true;
      } catch (e) {
        this.#log('warn', `could not read the settings: ${String(e)}`);
      }
      if (this.permissions) await this.permissions.reload();
      this.#watcher ??= this.#watchReaders();
      await Promise.all([devicesReady, demo ? this.setDemoReader(true, { persist: false }) : Promise.resolve()]);
    })();
    return this.#started;
  }

  /**
   * Follows the daemon's readers as any PC/SC client would (SCardGetStatusChange on every reader and on
   * `\\?PnP?\Notification`) and publishes them: `readers` events to subscribed clients, card presence to the page.
   */
  async #watchReaders(): Promise<void> {
    const client = this.daemon.connect({ name: 'connector: reader watcher' });
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    let hContext: number | undefined;
    while (!this.#stopping) {
      try {
        hContext ??= (await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
        let names: string[] = [];
        try {
          names = (await client.SCardListReaders(hContext, null)).readers;
        } catch (e) {
          if (!isPcscError(e, SCARD_E_NO_READERS_AVAILABLE)) throw e;
        }
        const known = names.map((n) => ({ szReader: n, dwCurrentState: this.#readerStates.get(n)?.state ?? 0 }));
        // First a zero-timeout look to learn the current states, then wait for the next change.
        const now = await client.SCardGetStatusChange(hContext, 0, known.map((k) => ({ ...k, dwCurrentState: 0 }))).catch(() => null);
        const fresh = new Map<string, { state: number; atr: Uint8Array }>();
        for (const r of now?.readerStates ?? []) fresh.set(r.szReader, { state: r.dwEventState & ~SCARD_STATE_CHANGED, atr: r.rgbAtr });
        this.#readerStates.clear();
        for (const [k, v] of fresh) this.#readerStates.set(k, v);
        this.#publish();
        const pnpCount = names.length << 16;
        await client.SCardGetStatusChange(hContext, INFINITE, [
          { szReader: PNP_NOTIFICATION_READER_NAME, dwCurrentState: pnpCount },
          ...[...fresh].map(([n, v]) => ({ szReader: n, dwCurrentState: v.state })),
        ]);
      } catch (e) {
        if (this.#stopping) break;
        // A reader vanished under the wait (READER_UNAVAILABLE, UNKNOWN_READER), a context gone: look again shortly.
        this.#log('debug', `reader watcher: ${String(e)}`);
        if (hContext !== undefined) {
          const valid = await client.SCardIsValidContext(hContext).then(() => true, () => false);
          if (!valid) hContext = undefined;
        }
        await pause(100);
      }
    }
    await client.close().catch(() => {});
  }

  #publish(): void {
    const readers: ReaderInfo[] = [...this.#readerStates].map(([name, v]) => ({ name, state: v.state, atr: v.atr }));
    try {
      this.router.publishReaders(readers);
    } catch (e) {
      this.#log('warn', `publishing readers: ${String(e)}`);
    }
    this.#changed();
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Clients

  /** A client extension connected (chrome.runtime.onConnectExternal). */
  attachClient(port: ClientPort, sender: ClientSender): void {
    const name = typeof port.name === 'string' ? port.name.slice(0, 128) : '';
    this.#clients.set(port, { id: sender.id ?? sender.origin ?? 'unknown', name });
    const gone = () => {
      if (!this.#clients.delete(port)) return;
      // The last connection of a client the user is being asked about: nobody waits for the answer any more.
      const id = sender.id;
      if (id && this.permissions?.pending.some((p) => p.id === id) && ![...this.#clients.values()].some((c) => c.id === id)) {
        this.permissions.dismiss(id, 'gone');
      }
      this.#changed();
    };
    port.onDisconnect.addListener(gone);
    // Chrome fires onDisconnect on the other end only: when the router drops a port itself (a hostile client), the
    // count must follow too.
    const counted: PortLike = {
      name,
      postMessage: (m) => port.postMessage(m),
      disconnect: () => {
        gone();
        port.disconnect();
      },
      onMessage: port.onMessage,
      onDisconnect: port.onDisconnect,
    };
    this.router.attach(counted, { id: sender.id, origin: sender.origin, url: sender.url });
    this.#changed();
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

  /** Plugs the demo reader in or unplugs it; remembered across worker restarts unless `persist` is false. */
  setDemoReader(on: boolean, options: { persist?: boolean } = {}): Promise<void> {
    const run = async () => {
      if (options.persist !== false) {
        await this.#settings.set(DEMO_SETTING, on).catch((e: unknown) => this.#log('warn', `could not save the demo setting: ${String(e)}`));
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

  /** Adds a device (a test hook's simulated one, say) as if it had been granted. */
  addDevice(device: USBDevice, options: { label?: string; simulated?: boolean } = {}): Promise<ReaderEntry | undefined> {
    return this.devices.addDevice(device, options);
  }

  // -------------------------------------------------------------------------------------------------------------------
  // The page

  status(): ConnectorStatus {
    const apps = new Map<string, AppView>();
    for (const c of this.#clients.values()) {
      const key = `${c.id}\u0000${c.name}`;
      const app = apps.get(key) ?? { id: c.id, name: c.name, connections: 0 };
      app.connections++;
      apps.set(key, app);
    }
    return {
      version: this.version,
      instance: this.instance,
      usb: this.#usb !== null,
      demoReader: this.#demoOn,
      readers: this.devices.entries.map((e) => ({
        id: e.id,
        label: e.label,
        usbId: `${hex4(e.vendorId)}:${hex4(e.productId)}`,
        simulated: e.simulated,
        state: e.state,
        reason: e.reason ?? null,
        readerNames: [...e.readerNames],
        cards: e.readerNames.map((n) => ((this.#readerStates.get(n)?.state ?? 0) & SCARD_STATE_PRESENT) !== 0),
        slots: e.readerNames.map((n) => slotView(n, this.#readerStates.get(n))),
      })),
      apps: [...apps.values()],
      connectedApps: this.#clients.size,
      permissions: this.permissions?.list() ?? [],
      prompts: this.permissions?.pending ?? [],
      logApdus: this.#logApdus,
    };
  }

  onChange(listener: (status: ConnectorStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The connector's own page connected (chrome.runtime.onConnect, name PAGE_PORT_NAME). */
  attachPage(port: PagePort): void {
    this.#pages.add(port);
    port.onDisconnect.addListener(() => {
      this.#pages.delete(port);
      this.#logWatchers.delete(port);
    });
    port.onMessage.addListener((message) => void this.#onPageRequest(port, message));
    this.#post(port, { type: 'status', status: this.status() });
  }

  async #onPageRequest(port: PagePort, message: unknown): Promise<void> {
    const m = message as Partial<PageRequest> | null;
    const type = typeof m === 'object' && m !== null ? m.type : undefined;
    try {
      switch (type) {
        case 'set-demo-reader': {
          const on = (m as { on?: unknown }).on;
          if (typeof on !== 'boolean') throw new TypeError('set-demo-reader needs on: boolean');
          await this.setDemoReader(on);
          this.#post(port, { type: 'done', request: type, ok: true, message: on ? 'Demo reader plugged in.' : 'Demo reader unplugged.' });
          return;
        }
        case 'pick-up-devices': {
          const entries = await this.pickUpDevices();
          this.#post(port, { type: 'done', request: type, ok: true, message: `${entries.length} reader(s) listed.` });
          return;
        }
        case 'retry': {
          const id = (m as { id?: unknown }).id;
          if (typeof id !== 'string') throw new TypeError('retry needs id: string');
          await this.devices.retry(id);
          this.#post(port, { type: 'done', request: type, ok: true, message: 'Tried again.' });
          return;
        }
        case 'answer-prompt': {
          const { id, decision } = m as { id?: unknown; decision?: unknown };
          if (typeof id !== 'string' || (decision !== 'allow' && decision !== 'block')) throw new TypeError('answer-prompt needs id and decision');
          if (!this.permissions) throw new Error('this connector has no permissions');
          await this.permissions.answer(id, decision);
          this.#post(port, { type: 'done', request: type, ok: true, message: decision === 'allow' ? 'Allowed.' : 'Blocked.' });
          return;
        }
        case 'revoke': {
          const id = (m as { id?: unknown }).id;
          if (typeof id !== 'string') throw new TypeError('revoke needs id: string');
          if (!this.permissions) throw new Error('this connector has no permissions');
          await this.permissions.revoke(id);
          this.#post(port, { type: 'done', request: type, ok: true, message: 'Done: the app will be asked again on its next call.' });
          return;
        }
        case 'set-log-apdus': {
          const on = (m as { on?: unknown }).on;
          if (typeof on !== 'boolean') throw new TypeError('set-log-apdus needs on: boolean');
          await this.setLogApdus(on);
          this.#post(port, { type: 'done', request: type, ok: true, message: on ? 'APDU logging is on.' : 'APDU logging is off.' });
          return;
        }
        case 'watch-log': {
          this.#logWatchers.add(port);
          this.#post(port, { type: 'log', entries: this.logs.entries(), reset: true, dropped: this.logs.dropped });
          return;
        }
        default:
          this.#log('warn', `connector page: unknown request ${JSON.stringify(type)}`);
      }
    } catch (e) {
      this.#log('error', `connector page request ${String(type)}: ${String(e)}`);
      if (type) this.#post(port, { type: 'done', request: type, ok: false, message: e instanceof Error ? e.message : String(e) });
    }
  }

  #post(port: PagePort, message: PageMessage): void {
    try {
      port.postMessage(message);
    } catch {
      this.#pages.delete(port);
      this.#logWatchers.delete(port);
    }
  }

  /** New log entries go to watching pages in batches (a busy client must not flood them with one message per entry). */
  #queueLog(entry: LogEntry): void {
    if (this.#logWatchers.size === 0) return;
    this.#logBatch.push(entry);
    this.#logTimer ??= setTimeout(() => {
      this.#logTimer = null;
      const entries = this.#logBatch;
      this.#logBatch = [];
      for (const page of [...this.#logWatchers]) this.#post(page, { type: 'log', entries, reset: false, dropped: this.logs.dropped });
    }, 150);
  }

  #changed(): void {
    const status = this.status();
    for (const page of [...this.#pages]) this.#post(page, { type: 'status', status });
    for (const l of [...this.#listeners]) {
      try {
        l(status);
      } catch (e) {
        this.#log('error', `status listener threw: ${String(e)}`);
      }
    }
  }

  async shutdown(): Promise<void> {
    this.#stopping = true;
    await this.router.close().catch(() => {});
    await this.setDemoReader(false, { persist: false }).catch(() => {});
    await this.devices.stop();
    await this.daemon.shutdown();
  }
}
