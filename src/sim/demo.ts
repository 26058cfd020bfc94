/**
 * The demo reader: a simulated Gemalto GemPC Twin with the hello-world T=1 card in it, for a user without a supported
 * reader and for the build and test machines, where the browser never sees a real or emulated USB device.
 *
 * This is the pure simulator part. Its wiring into the stack is the USB edge's: the demo reader goes through
 * `UsbDeviceManager.addDevice(demo.device, { simulated: true, label: demo.label })`, and test builds give the manager
 * a `SimulatedUsb` (src/usb/simulated-usb.ts) instead of `navigator.usb`. Everything above (driver, daemon, clients)
 * runs unchanged.
 */
import { helloWorldCardT1 } from './card/profiles.js';
import type { SimCard } from './card-interface.js';
import { SimulatedReader, type SimulatedReaderOptions } from './reader/device.js';
import { GEMPC_TWIN } from './reader/profiles.js';

/** What the readers list shows for the demo reader. */
export const DEMO_READER_LABEL = 'Demo reader (simulated)';

export interface DemoReader {
  /** The simulated Gemalto GemPC Twin, a WebUSB `USBDevice`. */
  readonly device: SimulatedReader;
  /** "Demo reader (simulated)". */
  readonly label: string;
  readonly simulated: true;
  /** Whether the demo card is in the reader. */
  readonly cardPresent: boolean;
  /** Puts a fresh hello-world T=1 card (or `card`) in the reader; no effect if one is already there. */
  insertCard(card?: SimCard): void;
  /** Takes the card out; no effect if the reader is empty. */
  removeCard(): void;
}

/**
 * A simulated Gemalto GemPC Twin with the hello-world T=1 card inserted (SELECT A0 00 00 00 62 03 01 0C 06 01, then
 * 00 00 00 00 answers "Hello world!").
 */
export function createDemoReader(options: SimulatedReaderOptions = {}): DemoReader {
  // The profile itself rather than createSimulatedReader('gempc-twin'), whose lookup by id keeps every profile.
  const device = new SimulatedReader(GEMPC_TWIN, options);
  device.insertCard(helloWorldCardT1());
  return {
    device,
    label: DEMO_READER_LABEL,
    simulated: true,
    get cardPresent() {
      return device.cardIn(0) !== null;
    },
    insertCard(card?: SimCard) {
      if (device.cardIn(0) !== null) return;
      device.insertCard(card ?? helloWorldCardT1());
    },
    removeCard() {
      device.removeCard(0);
    },
  };
}
