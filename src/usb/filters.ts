/**
 * Which USB devices the device manager looks at. Pure: works on any W3C `USBDevice`-shaped object.
 *
 * A CCID reader exposes either a class 0x0B (smart card) interface, or a vendor-specific class 0xFF interface that
 * carries the 54-byte CCID class descriptor (libccid accepts both; some readers use 0xFF precisely because Chrome
 * protects class 0x0B). A class 0xFF interface is only a hint: many unrelated gadgets have one, and only the driver,
 * reading the configuration descriptor, can tell whether it is CCID.
 */

/** USB interface class of smart card readers (CCID 1.1 §4.3). */
export const USB_CLASS_SMART_CARD = 0x0b;
/** Vendor-specific interface class; some CCID readers use it with a CCID class descriptor. */
export const USB_CLASS_VENDOR_SPECIFIC = 0xff;

/** Filters for `navigator.usb.requestDevice({ filters })` on the "Add reader" page. */
export const REQUEST_DEVICE_FILTERS: readonly USBDeviceFilter[] = Object.freeze([
  Object.freeze({ classCode: USB_CLASS_SMART_CARD }),
  Object.freeze({ classCode: USB_CLASS_VENDOR_SPECIFIC }),
]);

/** The interface classes of every alternate setting of every configuration the device reports. */
export function interfaceClasses(device: Pick<USBDevice, 'configuration' | 'configurations'>): Set<number> {
  const out = new Set<number>();
  const configs = [...(device.configurations ?? [])];
  if (device.configuration && !configs.includes(device.configuration)) configs.push(device.configuration);
  for (const config of configs) {
    for (const intf of config.interfaces ?? []) {
      const alternates = intf.alternates?.length ? intf.alternates : intf.alternate ? [intf.alternate] : [];
      for (const alt of alternates) out.add(alt.interfaceClass);
    }
  }
  return out;
}

/** True when the device has a class 0x0B (smart card) interface: a CCID or ICCD reader by declaration. */
export function hasSmartCardInterface(device: Pick<USBDevice, 'configuration' | 'configurations'>): boolean {
  return interfaceClasses(device).has(USB_CLASS_SMART_CARD);
}

/**
 * Quick check before opening a device: does it have an interface of class 0x0B, or of class 0xFF (which may be a
 * vendor-class CCID reader — the driver decides)? Devices with neither are not smart card readers and are ignored.
 * A device-level class (bDeviceClass 0x0B) counts too, for the rare reader that declares it there.
 */
export function looksLikeSmartCardReader(
  device: Pick<USBDevice, 'configuration' | 'configurations' | 'deviceClass'>,
): boolean {
  if (device.deviceClass === USB_CLASS_SMART_CARD) return true;
  const classes = interfaceClasses(device);
  return classes.has(USB_CLASS_SMART_CARD) || classes.has(USB_CLASS_VENDOR_SPECIFIC);
}
