/**
 * The mark of the simulator's devices that can be pulled out (a SimulatedReader, a SimulatedCompositeDevice): a fake
 * `navigator.usb` recognises them by it to hear of their unplugging, without importing both classes (a bundle with only
 * the demo reader, the connector's worker, then leaves the composite device out).
 */
export const UNPLUGGABLE: unique symbol = Symbol('simulated device that can be unplugged');

export interface UnpluggableDevice extends USBDevice {
  readonly [UNPLUGGABLE]: true;
  /** True once `unplug()` was called: such a device cannot come back. */
  readonly unplugged: boolean;
  /** Called once when the device is unplugged. */
  onunplug: (() => void) | null;
  unplug(): void;
}

/** True for the simulator's own devices (marked with UNPLUGGABLE), false for any other USBDevice-shaped object. */
export function isUnpluggable(device: USBDevice): device is UnpluggableDevice {
  return (device as Partial<UnpluggableDevice>)[UNPLUGGABLE] === true;
}
