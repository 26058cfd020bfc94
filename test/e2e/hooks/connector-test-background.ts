/**
 * The connector's service worker in the test build (dist/connector-test): the real worker plus `globalThis.connectorTest`,
 * which the end-to-end tests call through Playwright's `worker.evaluate`. Never part of the released connector.
 */
import { service, started } from '../../../src/connector/background.js';
import { createSimulatedReader, helloWorldCardT1 } from '../../../src/sim/index.js';

const hooks = {
  started,
  /** Takes the demo card out of the demo reader. */
  removeDemoCard(): void {
    service.demoReader?.removeCard();
  },
  insertDemoCard(): void {
    service.demoReader?.insertCard();
  },
  setDemoReader(on: boolean): Promise<void> {
    return service.setDemoReader(on);
  },
  status() {
    return service.status();
  },
  /** The router's counts (ports, pending calls, daemon clients). */
  stats() {
    return service.router.stats;
  },
  /** The log ring buffer as the window shows it. */
  log() {
    return service.logs.entries();
  },
  /** The host link as the window shows it (status().host): state, text, version, backend, install command. */
  hostStatus() {
    return service.status().host;
  },
  /** The host link's raw state (host-link.ts HostLinkState), e.g. { state: 'crashed', retryInMs }. */
  hostLinkState() {
    return service.hostLink?.state ?? null;
  },
  /** The window's host switch, backend choice and "Try again" (stored as the window stores them). */
  setHostEnabled(on: boolean): Promise<void> {
    return service.setHostEnabled(on);
  },
  setHostBackend(choice: 'auto' | 'system' | 'own'): Promise<void> {
    return service.setHostBackend(choice);
  },
  retryHost(): void {
    service.retryHost();
  },
  /** Every reader row of the window with where it comes from: [{ origin: 'browser' | 'demo' | 'system' | 'own', … }]. */
  readerOrigins() {
    return service.status().readers.map((r) => ({ origin: r.origin, names: r.readerNames, cards: r.cards }));
  },
  /** A client extension disabled as a user would in chrome://extensions (the test build has "management"). */
  setExtensionEnabled(id: string, enabled: boolean): Promise<void> {
    return chrome.management.setEnabled(id, enabled);
  },
  /**
   * A class-0x0B reader as Chrome gives it to an extension: claimInterface rejects with SecurityError ("protected
   * class"), as content/browser/usb/web_usb_service_impl.cc does for every extension but Google's own.
   */
  async addBlockedReader(): Promise<unknown> {
    const device = createSimulatedReader('gempc-twin');
    device.insertCard(helloWorldCardT1());
    Object.defineProperty(device, 'claimInterface', {
      configurable: true,
      value: () =>
        Promise.reject(new DOMException('The requested interface implements a protected class.', 'SecurityError')),
    });
    return service.addDevice(device, { label: 'Gemalto GemPC Twin (test: class 0x0B, blocked)' });
  },
};

Object.assign(globalThis, { connectorTest: hooks });
