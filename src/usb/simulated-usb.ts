/**
 * A simulated `navigator.usb` over simulated devices (the simulator's readers, or any `USBDevice`-shaped fake): what
 * tests and test builds give the device manager instead of `navigator.usb`, since the browser can never see a real or
 * emulated USB device on the build and test machines. The demo reader itself is the simulator's (src/sim/demo.ts).
 */
import { isUnpluggable } from '../sim/index.js';
import type { UsbConnectionEventLike, UsbConnectionListener, UsbLike } from './device-manager.js';

type ListenerLike = UsbConnectionListener | { handleEvent(event: UsbConnectionEventLike): void };

export interface SimulatedConnectionEvent extends UsbConnectionEventLike {
  readonly type: 'connect' | 'disconnect';
}

/**
 * A `navigator.usb` over simulated devices. `plug()` makes a device appear (a 'connect' event if it is granted),
 * `unplug()` makes it go (a 'disconnect' event); a SimulatedReader's own `unplug()` also fires 'disconnect'.
 * As in Chrome, `getDevices()` and the events only concern devices the origin was granted; `requestDevice()` grants.
 */
export class SimulatedUsb implements UsbLike {
  readonly #devices = new Map<USBDevice, { granted: boolean }>();
  readonly #listeners = { connect: new Set<ListenerLike>(), disconnect: new Set<ListenerLike>() };
  onconnect: ((event: SimulatedConnectionEvent) => void) | null = null;
  ondisconnect: ((event: SimulatedConnectionEvent) => void) | null = null;

  /** Every plugged device, granted or not. */
  get devices(): readonly USBDevice[] {
    return [...this.#devices.keys()];
  }

  /**
   * Plugs a device in. `granted` (default true) says whether the origin may see it, as after an earlier
   * requestDevice or the WebUsbAllowDevicesForUrls policy.
   */
  plug(device: USBDevice, options: { granted?: boolean } = {}): void {
    if (this.#devices.has(device)) return;
    if (isUnpluggable(device)) {
      if (device.unplugged) throw new Error('this simulated reader was unplugged: create a new one to plug in again');
      device.onunplug = () => this.#gone(device);
    }
    const granted = options.granted ?? true;
    this.#devices.set(device, { granted });
    if (granted) this.#dispatch('connect', device);
  }

  /** Pulls a device out (for a SimulatedReader, the same as its own `unplug()`). */
  unplug(device: USBDevice): void {
    if (isUnpluggable(device) && this.#devices.has(device)) {
      device.unplug(); // calls onunplug → #gone
      return;
    }
    this.#gone(device);
  }

  /** Grants the origin access to a plugged device, as a policy would (no 'connect' event, as in Chrome). */
  grant(device: USBDevice): void {
    const state = this.#devices.get(device);
    if (state === undefined) throw new Error('grant: the device is not plugged in');
    state.granted = true;
  }

  async getDevices(): Promise<USBDevice[]> {
    return [...this.#devices].filter(([, s]) => s.granted).map(([d]) => d);
  }

  /**
   * The chooser, without a person: the first plugged device that matches a filter is granted and returned; none →
   * NotFoundError "No device selected.", as when the user cancels. No connect event, as in Chrome.
   */
  async requestDevice(options: USBDeviceRequestOptions = { filters: [] }): Promise<USBDevice> {
    for (const [device, state] of this.#devices) {
      if (options.filters.length === 0 || options.filters.some((f) => matchesFilter(device, f))) {
        state.granted = true;
        return device;
      }
    }
    throw new DOMException('No device selected.', 'NotFoundError');
  }

  /**
   * Fires an event as is, whatever the device's state: for tests of duplicate or stray events (Chrome may deliver a
   * 'connect' for a device already seen, e.g. when a worker restarts between getDevices and the event).
   */
  emit(type: 'connect' | 'disconnect', device: USBDevice): void {
    this.#dispatch(type, device);
  }

  addEventListener(type: 'connect' | 'disconnect', listener: ListenerLike | null): void {
    if (listener !== null) this.#listeners[type].add(listener);
  }

  removeEventListener(type: 'connect' | 'disconnect', listener: ListenerLike | null): void {
    if (listener !== null) this.#listeners[type].delete(listener);
  }

  #gone(device: USBDevice): void {
    const state = this.#devices.get(device);
    if (state === undefined) return;
    this.#devices.delete(device);
    if (state.granted) this.#dispatch('disconnect', device);
  }

  #dispatch(type: 'connect' | 'disconnect', device: USBDevice): void {
    const event: SimulatedConnectionEvent = Object.freeze({ type, device });
    const handler = type === 'connect' ? this.onconnect : this.ondisconnect;
    for (const l of [...this.#listeners[type]]) call(l, event);
    if (handler !== null) call(handler, event);
  }
}

function call(
  listener: ListenerLike | ((event: SimulatedConnectionEvent) => void),
  event: SimulatedConnectionEvent,
): void {
  // As EventTarget does: a throwing listener is reported, and the others still run.
  try {
    if (typeof listener === 'function') listener(event);
    else listener.handleEvent(event);
  } catch (e) {
    queueMicrotask(() => {
      throw e;
    });
  }
}

/** WebUSB's filter matching (W3C WebUSB §3, "matches a device filter"). */
export function matchesFilter(device: USBDevice, filter: USBDeviceFilter): boolean {
  if (filter.vendorId !== undefined && device.vendorId !== filter.vendorId) return false;
  if (filter.productId !== undefined && device.productId !== filter.productId) return false;
  if (filter.serialNumber !== undefined && device.serialNumber !== filter.serialNumber) return false;
  if (filter.classCode === undefined) return true;
  const matchesClass = (cls: number, sub: number, proto: number) =>
    cls === filter.classCode &&
    (filter.subclassCode === undefined || sub === filter.subclassCode) &&
    (filter.protocolCode === undefined || proto === filter.protocolCode);
  if (matchesClass(device.deviceClass, device.deviceSubclass, device.deviceProtocol)) return true;
  for (const config of device.configurations) {
    for (const intf of config.interfaces) {
      for (const alt of intf.alternates) {
        if (matchesClass(alt.interfaceClass, alt.interfaceSubclass, alt.interfaceProtocol)) return true;
      }
    }
  }
  return false;
}
